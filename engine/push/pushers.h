// Pushers (Client-Server API § Push notifications, `POST /pushers/set`): where a user's
// notifications are sent, as replicated state in core::CommandKind::kPusher.
//
// A pusher is identified by (user, app_id, pushkey). Only kind "http" is served (this
// server sends no e-mail): its data.url is where the delivery (api/push/pusher_delivery.h)
// POSTs the Push Gateway API's /_matrix/push/v1/notify.
//
//   // On the receiving node (api/push/pusher_routes.cpp):
//   PusherCommand c{.op = PusherOp::kSet, .user_id = "@a:hs", .device_id = "DEV",
//                   .pusher = parsed, .append = false, .ts = clock.NowUnixMs()};
//   engine.SubmitAsync({core::CommandKind::kPusher, *EncodePusherCommand(c)}, done);
//   // Reads:
//   NEBU_ASSIGN_OR_RETURN(std::vector<StoredPusher> mine, PushersOf(engine.Read(), "@a:hs"));
//
// Operations (each decided in apply against the applied state):
//   kSet        creates or updates the (user, app_id, pushkey) pusher. With append false
//               it also removes every pusher of OTHER users with the same app_id and
//               pushkey (the spec's rule: one device, one user). A new pusher starts
//               delivering after the stream position at which it was applied (no
//               backlog); an updated one keeps its delivered position. A user has at
//               most kPushersPerUserMax pushers (kResourceExhausted beyond).
//   kDelete     removes the pusher (absent: nothing changes, "{}"). With a non-zero
//               `if_ts` only the pusher set at that `ts` (so a gateway's `rejected`
//               answer never removes a pusher the user set again since).
//   kDelivered  records that notifications up to `position` were delivered (only
//               moves forward; ignored when the pusher is absent or was set again
//               since `if_ts`).
//   kRemoveDevice  removes every pusher the user set from `device_id` (logout, device
//               deletion) or, with an empty device_id, every pusher of the user
//               (deactivation).
//
// Storage (Cf::kPushers; [lp s] = u16 length + bytes, integers big-endian):
//   'p' [lp user][lp app_id][lp pushkey] -> canonical JSON record (StoredPusher)
//   'k' [lp app_id][lp pushkey][lp user] -> ""    (who holds an app_id + pushkey)
//   'd' [lp user][lp app_id][lp pushkey] -> u64 delivered stream position
//
// Thread-safety: pure functions. ApplyPusherCommand reads applied state, so the state
// machine applies a kPusher command alone in its batch (it does). Reads are safe from
// any thread.
#pragma once

#include <rocksdb/write_batch.h>

#include <boost/json/object.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/status.h"
#include "engine/storage/keys.h"
#include "engine/storage/read_view.h"
#include "engine/storage/store.h"

namespace nebu::push {

// Limits of POST /pushers/set (the spec's where it names one).
inline constexpr size_t kPushkeyBytesMax = 512;          // spec: "Max length, 512 bytes"
inline constexpr size_t kAppIdCharsMax = 64;             // spec: "Max length, 64 chars"
// app_display_name, device_display_name, lang, profile_tag
inline constexpr size_t kPusherTextBytesMax = 256;
inline constexpr size_t kPusherDataBytesMax = 4096;      // `data` as canonical JSON
inline constexpr size_t kPusherUrlBytesMax = 2048;       // data.url
inline constexpr size_t kPushersPerUserMax = 64;         // pushers one user may hold
inline constexpr size_t kDeviceIdBytesMax = 255;
inline constexpr std::string_view kPusherKindHttp = "http";
inline constexpr std::string_view kFormatEventIdOnly = "event_id_only";
// The path every data.url must have (Push Gateway API).
inline constexpr std::string_view kPushGatewayPath = "/_matrix/push/v1/notify";

// What a client set: the fields GET /pushers answers.
struct Pusher {
  std::string app_id;
  std::string pushkey;
  std::string kind;  // kPusherKindHttp
  std::string app_display_name;
  std::string device_display_name;
  std::string profile_tag;  // "" when absent
  std::string lang;
  boost::json::object data;  // holds "url" (http(s), kPushGatewayPath), "format"?, custom keys
  bool operator==(const Pusher&) const = default;
};

struct StoredPusher {
  std::string user_id;
  std::string device_id;  // the device that set it ("" if unknown)
  Pusher pusher;
  int64_t ts = 0;                            // when it was last set (the gateway's pushkey_ts)
  storage::StreamPosition delivered = 0;     // notifications up to here are delivered
};

enum class PusherOp { kSet, kDelete, kDelivered, kRemoveDevice };

// Canonical JSON payload {"op", "user_id", ...}; stable: it is in every replicated log.
struct PusherCommand {
  PusherOp op = PusherOp::kSet;
  std::string user_id;
  std::string device_id;          // kSet: the setter's device; kRemoveDevice: which
  Pusher pusher;                  // kSet: all of it; kDelete/kDelivered: app_id, pushkey
  bool append = false;            // kSet
  int64_t ts = 0;                 // kSet: ms since the epoch, decided by the receiving node
  int64_t if_ts = 0;              // kDelete/kDelivered: 0 = any, else the pusher's ts
  storage::StreamPosition position = 0;  // kDelivered
};

// Checks a pusher as POST /pushers/set must (kind "http", sizes, data.url http(s) with
// kPushGatewayPath, data.format absent or "event_id_only"). kInvalidArgument with a
// message naming the field; kTooLarge for data over kPusherDataBytesMax.
[[nodiscard]] Status ValidatePusher(const Pusher& pusher);
// Stateless checks of a command (ValidatePusher for kSet, IDs, sizes).
[[nodiscard]] Status ValidatePusherCommand(const PusherCommand& command);
[[nodiscard]] Result<std::string> EncodePusherCommand(const PusherCommand& command);
// kNotJson / kBadJson for a malformed payload, then ValidatePusherCommand's errors.
[[nodiscard]] Result<PusherCommand> DecodePusherCommand(std::string_view payload);

// The state-machine side of a kPusher command: deterministic, stages writes into
// `batch`. `stream_position` is the applied stream position (where a new pusher starts).
// Returns "{}". Errors (nothing staged then): DecodePusherCommand's; kResourceExhausted
// over kPushersPerUserMax; kCorruption for a bad stored record; kIoError.
[[nodiscard]] Result<std::string> ApplyPusherCommand(storage::Store& store,
                                                     rocksdb::WriteBatch& batch,
                                                     std::string_view payload,
                                                     storage::StreamPosition stream_position);

// The user's pushers, ordered by (app_id, pushkey). kCorruption for a bad record.
[[nodiscard]] Result<std::vector<StoredPusher>> PushersOf(const storage::ReadView& view,
                                                          std::string_view user_id);
// Every pusher of every user (the delivery's work list), in key order, until visit
// returns false.
[[nodiscard]] Status ForEachPusher(const storage::ReadView& view,
                                   const std::function<bool(const StoredPusher&)>& visit);

// GET /pushers' JSON of one pusher.
[[nodiscard]] boost::json::object PusherJson(const Pusher& pusher);

}  // namespace nebu::push
