#include "api/rooms/rooms_common.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <utility>

#include "api/errors.h"
#include "api/sync/sync.h"
#include "api/token_wait.h"
#include "engine/accounts/commands.h"
#include "engine/accounts/push_rules.h"
#include "engine/event/identifiers.h"
#include "engine/storage/room_log.h"

namespace nebu::api::rooms_internal {

namespace {}  // namespace

void AddRoute(Router& router, std::string_view method, std::string_view suffix, Handler handler,
              RouteOptions options) {
  for (std::string_view prefix : kClientPrefixes) {
    router.Add(method, std::string(prefix) + std::string(suffix), handler, options);
  }
}

void AddAsyncRoute(Router& router, std::string_view method, std::string_view suffix,
                   AsyncHandler handler, RouteOptions options) {
  for (std::string_view prefix : kClientPrefixes) {
    router.AddAsync(method, std::string(prefix) + std::string(suffix), handler, options);
  }
}

void AddClientV1Route(Router& router, std::string_view method, std::string_view suffix,
                      Handler handler, RouteOptions options) {
  router.Add(method, "/_matrix/client/v1" + std::string(suffix), std::move(handler), options);
}

Response ForbiddenRoom() {
  return ErrorResponse(403, "M_FORBIDDEN",
                       "You are not allowed to access this room, or it does not exist");
}

Response RoomError(const Status& status) {
  if (status.code() == StatusCode::kNotFound) return ForbiddenRoom();
  return ErrorResponse(status);
}

std::variant<ReadAccess, Response> OpenForRead(core::Engine& engine, std::string_view room_id,
                                               std::string_view user_id) {
  core::Snapshot snap = engine.Read();
  Result<core::RoomMeta> meta = core::LoadRoomMeta(snap, room_id);
  if (!meta.ok()) return RoomError(meta.status());
  Result<core::HistoryView> view = core::HistoryView::Load(snap, meta->number, user_id);
  if (!view.ok()) return ErrorResponse(view.status());
  if (!view->MayReadRoom()) return ForbiddenRoom();
  return ReadAccess{std::move(meta).value(), std::move(view).value(), std::move(snap)};
}

std::optional<storage::Sequence> StateHorizon(const ReadAccess& access) {
  if (access.view.joined_now() || access.view.world_readable_now()) return access.meta.last_seq;
  return access.view.DepartureSequence();
}

std::string MakeToken(storage::Sequence seq) { return "s" + std::to_string(seq); }

std::optional<storage::Sequence> ParseToken(std::string_view token) {
  if (token.size() < 2 || token[0] != 's') return std::nullopt;
  storage::Sequence seq = 0;
  const char* end = token.data() + token.size();
  auto [ptr, ec] = std::from_chars(token.data() + 1, end, seq);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return seq;
}

Result<std::optional<storage::Sequence>> RoomPositionOfToken(const storage::ReadView& view,
                                                            const core::RoomMeta& meta,
                                                            std::string_view token) {
  if (token.find('_') == std::string_view::npos) return ParseToken(token);
  std::optional<SyncToken> sync = ParseSyncToken(token);
  if (!sync) return std::optional<storage::Sequence>();
  // Another history's position means nothing here: the room's newest event.
  if (sync->epoch != SyncEpoch()) return std::optional<storage::Sequence>(meta.last_seq);
  // The largest sequence whose stream position is <= the token's (positions grow
  // with sequences in one room's log).
  storage::RoomLog log(view);
  storage::Sequence low = 0, high = meta.last_seq;  // invariant: answer in [low, high]
  while (low < high) {
    storage::Sequence mid = low + (high - low + 1) / 2;
    NEBU_ASSIGN_OR_RETURN(storage::EventRecord record, log.Read(meta.number, mid));
    if (record.stream_position <= sync->position) {
      low = mid;
    } else {
      high = mid - 1;
    }
  }
  return std::optional<storage::Sequence>(low);
}

std::optional<Response> AwaitRoomTokens(
    core::Engine& engine, std::string_view room_id,
    std::initializer_list<std::optional<std::string_view>> tokens) {
  const int64_t wait_ms = TokenWaitMs();
  if (wait_ms <= 0) return std::nullopt;
  storage::Sequence sequence = 0;       // the room's log must reach it
  storage::StreamPosition position = 0;  // the stream must reach it
  for (const std::optional<std::string_view>& token : tokens) {
    if (!token) continue;
    if (token->find('_') == std::string_view::npos) {
      sequence = std::max(sequence, ParseToken(*token).value_or(0));
    } else if (std::optional<SyncToken> sync = ParseSyncToken(*token);
               sync && sync->epoch == SyncEpoch()) {
      position = std::max(position, sync->position);
    }
  }
  auto reached = [&] {
    if (engine.stream_position() < position) return false;
    if (sequence == 0) return true;
    Result<core::RoomMeta> meta = engine.GetRoom(room_id);
    return !meta.ok() || meta->last_seq >= sequence;
  };
  if (WaitForApplied(engine.notifier(), reached, wait_ms)) return std::nullopt;
  return ErrorResponse(400, "M_INVALID_PARAM",
                       "Token is ahead of this server's stream (not applied here yet)");
}

std::optional<std::string> PredecessorOf(core::Engine& engine, std::string_view room_id) {
  const core::Snapshot snap = engine.Read();
  Result<core::RoomMeta> meta = core::LoadRoomMeta(snap, room_id);
  if (!meta.ok()) return std::nullopt;
  // m.room.create is always the room's first event.
  Result<std::optional<storage::EventRecord>> create =
      core::StateRecordAt(snap, meta->number, "m.room.create", "", 1);
  if (!create.ok() || !*create) return std::nullopt;
  boost::system::error_code ec;
  boost::json::value event = boost::json::parse((*create)->json, ec);
  if (ec || !event.is_object()) return std::nullopt;
  const boost::json::value* content = event.as_object().if_contains("content");
  const boost::json::value* predecessor =
      content && content->is_object() ? content->as_object().if_contains("predecessor") : nullptr;
  const boost::json::value* old_id = predecessor && predecessor->is_object()
                                         ? predecessor->as_object().if_contains("room_id")
                                         : nullptr;
  if (old_id == nullptr || !old_id->is_string() || !event::IsValidRoomId(old_id->as_string())) {
    return std::nullopt;
  }
  return std::string(old_id->as_string());
}

void CopyUserStateAfterJoin(core::Engine& engine, std::string user_id, std::string old_room_id,
                            std::string new_room_id, std::function<void()> then) {
  accounts::CopyRoomUserStateCommand copy{.user_id = std::move(user_id),
                                          .old_room_id = std::move(old_room_id),
                                          .new_room_id = std::move(new_room_id)};
  copy.defaults = accounts::DefaultPushRuleset(copy.user_id);
  Result<std::string> payload = accounts::EncodeAccountCommand(copy);
  if (!payload.ok()) {
    spdlog::warn("room upgrade: no copy of {}'s room state: {}", copy.user_id,
                 payload.status().ToString());
    return then();
  }
  engine.SubmitAsync({core::CommandKind::kAccount, std::move(*payload)},
                     [user = copy.user_id, then = std::move(then)](core::ApplyOutcome outcome) {
                       if (!outcome.ok()) {
                         spdlog::warn("room upgrade: no copy of {}'s room state: {}", user,
                                      outcome.status().ToString());
                       }
                       then();
                     });
}

}  // namespace nebu::api::rooms_internal
