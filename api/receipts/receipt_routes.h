// Receipts, read markers and typing notifications (Client-Server API § Receipts,
// § Fully read markers, § Typing Notifications), each under /_matrix/client/v3 and r0:
//
//   POST /rooms/{roomId}/receipt/{receiptType}/{eventId}  async  {}
//        m.read, m.read.private: a kReceipt command (engine/receipts); body may carry
//        thread_id ("main" or a thread root's event ID). m.fully_read: the room's
//        m.fully_read account data {"event_id"} (what /read_markers sets).
//   POST /rooms/{roomId}/read_markers                      async  {}
//        {"m.fully_read"?, "m.read"?, "m.read.private"?}: each present one as above;
//        answers when all are applied (the first failure otherwise).
//   PUT  /rooms/{roomId}/typing/{userId}                   sync   {}
//        {"typing", "timeout"?}: TypingTracker::Set, for min(timeout, 30 s); memory only.
//
//   Router router("client");
//   TypingTracker typing;
//   AddReceiptRoutes(router, *engine, typing);
//
// Errors: 401 without a valid token; 403 M_FORBIDDEN when the room is unknown or the
// caller is not joined to it now (one answer for both, as the room endpoints do), and
// for typing on behalf of another user; 404 M_NOT_FOUND for an event that is not in
// the room; 400 M_INVALID_PARAM for an unknown receipt type, a malformed event ID or
// thread_id, a thread_id on m.fully_read, a negative timeout; 400 M_BAD_JSON /
// M_MISSING_PARAM for a malformed body. A receipt for the event a receipt already
// points at, or an earlier one, answers 200 and changes nothing (receipts only move
// forward). The state machine checks room, membership and event again when it
// applies a receipt, so a race with a leave is refused there (same errors).
//
// Thread-safety: handlers are safe from any thread; the engine and the tracker must
// outlive the router.
#pragma once

#include <memory>

#include "api/rate_limit.h"
#include "api/router.h"

namespace nebu::core {
class Engine;
}

namespace nebu::api {

class TypingTracker;

inline constexpr size_t kReceiptBodyBytesMax = 4096;  // thread_id / three event IDs

// `limits`: receipts and read markers take from limits->receipts, typing from
// limits->typing, per user (429 M_LIMIT_EXCEEDED when empty); null: no limits.
void AddReceiptRoutes(Router& router, core::Engine& engine, TypingTracker& typing,
                      std::shared_ptr<UserRateLimits> limits = nullptr);

}  // namespace nebu::api
