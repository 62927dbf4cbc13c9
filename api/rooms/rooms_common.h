// Pieces shared by the room endpoints (rooms_routes.cpp: writes and membership;
// rooms_read_routes.cpp: reads). Private to those files; the manual of the
// endpoints is rooms_routes.h.
//
// Thread-safety: pure functions over the engine's thread-safe reads.
#pragma once

#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "api/auth.h"
#include "api/http.h"
#include "api/router.h"
#include "engine/common/status.h"
#include "engine/core/engine.h"
#include "engine/core/room_reads.h"

namespace nebu::api::rooms_internal {

// Registers `suffix` (e.g. "/rooms/{roomId}/state") under both client prefixes.
void AddRoute(Router& router, std::string_view method, std::string_view suffix, Handler handler,
              RouteOptions options = {});
void AddAsyncRoute(Router& router, std::string_view method, std::string_view suffix,
                   AsyncHandler handler, RouteOptions options = {});
// Registers `suffix` under /_matrix/client/v1 (endpoints the spec defines there, e.g.
// /relations).
void AddClientV1Route(Router& router, std::string_view method, std::string_view suffix,
                      Handler handler, RouteOptions options = {});

// 403 M_FORBIDDEN for a room the caller may not use (or that does not exist).
[[nodiscard]] Response ForbiddenRoom();
// ErrorResponse, except kNotFound (an unknown room), which is ForbiddenRoom().
[[nodiscard]] Response RoomError(const Status& status);

// A room as one caller may read it.
struct ReadAccess {
  core::RoomMeta meta;
  core::HistoryView view;
  core::Snapshot snap;  // what meta and view were read from: the request reads through it
};
// The room and the caller's view of it; ForbiddenRoom() when the room is unknown or
// HistoryView::MayReadRoom is false.
[[nodiscard]] std::variant<ReadAccess, Response> OpenForRead(core::Engine& engine,
                                                             std::string_view room_id,
                                                             std::string_view user_id);
// The sequence whose state the caller sees: the room's last event when joined or
// world_readable now, the departure event when the caller left (or was kicked or
// banned); nullopt when the caller may see no state.
[[nodiscard]] std::optional<storage::Sequence> StateHorizon(const ReadAccess& access);

// Pagination tokens "s<sequence>".
[[nodiscard]] std::string MakeToken(storage::Sequence seq);
[[nodiscard]] std::optional<storage::Sequence> ParseToken(std::string_view token);

// The room position (sequence) any pagination token a client may hold names:
// "s<sequence>" (/messages start and end, /sync prev_batch, /relations and /context
// tokens) as is, or a /sync next_batch "s<position>_<typing>[_<presence>]" (the
// underscore tells them apart; api/sync/sync.h) as the room's last event at or before that
// stream position (0: none yet). A binary search over the room's log, at most
// ~log2(last_seq) reads. nullopt for any other text; kCorruption/kIoError from reads.
[[nodiscard]] Result<std::optional<storage::Sequence>> RoomPositionOfToken(
    const storage::ReadView& view, const core::RoomMeta& meta, std::string_view token);

// Cluster-wide tokens (api/token_wait.h): waits until this node has applied what each
// of `tokens` names in room `room_id` — "s<sequence>": the room's last event is at
// least that sequence; a sync token: the stream is at least its position — for at most
// TokenWaitMs() (blocking: offloaded handlers only; call it after authenticating). Then
// nullopt, as it is at once when no token is ahead, a token is malformed (the caller's
// parse answers it), the room is unknown (OpenForRead answers it) or TokenWaitMs() is 0
// (a single node reads tokens as it always did). 400 M_INVALID_PARAM when a token is
// still ahead after the bound.
[[nodiscard]] std::optional<Response> AwaitRoomTokens(
    core::Engine& engine, std::string_view room_id,
    std::initializer_list<std::optional<std::string_view>> tokens);

// Room upgrades (Client-Server API § Room Upgrades): the room ID in the `predecessor`
// of the room's m.room.create; nullopt when it has none (or the room is unknown).
// One state read.
[[nodiscard]] std::optional<std::string> PredecessorOf(core::Engine& engine,
                                                       std::string_view room_id);
// After `user_id` joined `new_room_id`, whose predecessor is old_room_id: proposes the
// accounts copy_room_user_state command (the user's tags, m.direct entry and room push
// rules follow them; engine/accounts/commands.h) and calls `then` once it is applied.
// The join stands whatever the copy's outcome (a refusal is logged), as in Synapse,
// which copies after the join too.
void CopyUserStateAfterJoin(core::Engine& engine, std::string user_id, std::string old_room_id,
                            std::string new_room_id, std::function<void()> then);

// GET /rooms/{roomId}/messages's answer for `caller` from `access` (the query's dir,
// from, to, limit and filter; 400 M_INVALID_PARAM for bad ones). With see_all, every
// event of the room is visible (the admin API's /messages: history visibility does not
// apply); default_dir is the direction without `dir` ("b" for clients, "f" for the
// admin API, as Synapse). Blocking reads: offloaded handlers only.
struct MessagesOptions {
  bool see_all = false;
  std::string_view default_dir = "b";
};
[[nodiscard]] Response MessagesPage(core::Engine& engine, const Request& request,
                                    const ReadAccess& access, const Caller& caller,
                                    const MessagesOptions& options);

// The read endpoints (rooms_read_routes.cpp).
void AddRoomReadRoutes(Router& router, core::Engine& engine);

}  // namespace nebu::api::rooms_internal
