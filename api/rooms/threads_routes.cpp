#include "api/rooms/threads_routes.h"

#include <boost/json.hpp>
#include <charconv>
#include <optional>
#include <string>
#include <variant>

#include "api/auth.h"
#include "api/errors.h"
#include "api/rooms/client_event.h"
#include "api/rooms/rooms_common.h"
#include "engine/core/engine.h"
#include "engine/core/relations.h"
#include "engine/core/room_reads.h"
#include "engine/core/threads.h"
#include "engine/storage/room_log.h"

namespace nebu::api {

namespace json = boost::json;
using rooms_internal::ReadAccess;
using storage::Sequence;

namespace {

template <typename T>
std::optional<T> ParseNumber(std::string_view text) {
  T value{};
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

// The last sequence the caller may read (rooms_read_routes.cpp's rule).
Sequence ThreadReadableEnd(const ReadAccess& access) {
  if (access.view.joined_now() || access.view.ever_world_readable()) return access.meta.last_seq;
  return access.view.DepartureSequence().value_or(0);
}

bool Visible(const ReadAccess& access, const storage::EventRecord& record) {
  if (record.sequence > ThreadReadableEnd(access)) return false;
  return access.view.Visible(record.sequence, record.type,
                             record.state_key ? std::optional<std::string_view>(*record.state_key)
                                              : std::nullopt);
}

struct ThreadsQuery {
  bool participated = false;
  size_t limit = kThreadsLimitDefault;
  Sequence start = 0;
};

std::variant<ThreadsQuery, Response> ParseThreadsQuery(const Request& request) {
  ThreadsQuery q;
  if (auto include = request.Query("include")) {
    if (*include != "all" && *include != "participated")
      return InvalidParamResponse("include: all|participated");
    q.participated = *include == "participated";
  }
  if (auto text = request.Query("limit")) {
    auto limit = ParseNumber<size_t>(*text);
    if (!limit || *limit == 0)
      return InvalidParamResponse("limit must be an integer greater than zero");
    q.limit = std::min(*limit, kThreadsLimitMax);
  }
  if (auto from = request.Query("from")) {
    auto seq = rooms_internal::ParseToken(*from);
    if (!seq || *seq == 0) return InvalidParamResponse("Bad from token");
    q.start = *seq;
  }
  return q;
}

Response HandleThreads(core::Engine& engine, const Request& request, const PathParams& params) {
  auto caller = Authenticate(request, engine);
  if (auto* error = std::get_if<Response>(&caller)) return *error;
  auto parsed = ParseThreadsQuery(request);
  if (auto* error = std::get_if<Response>(&parsed)) return *error;
  const ThreadsQuery& q = std::get<ThreadsQuery>(parsed);
  const Caller& who = std::get<Caller>(caller);
  auto opened = rooms_internal::OpenForRead(engine, params.at("roomId"), who.user_id);
  if (auto* error = std::get_if<Response>(&opened)) return *error;
  const ReadAccess& access = std::get<ReadAccess>(opened);
  const Viewer viewer{who.user_id, who.device_id, &access.view};
  const int64_t now_ms = engine.clock().NowUnixMs();
  json::array chunk;
  core::ThreadsRequest read{.room = access.meta.number, .start = q.start, .limit = q.limit};
  if (q.participated) read.participant = who.user_id;
  auto page = core::ReadThreads(
      access.snap, read, [&](const storage::EventRecord& root) -> Result<bool> {
        if (!Visible(access, root)) return false;
        NEBU_ASSIGN_OR_RETURN(json::object event, ToClientEvent(root, now_ms, &access.snap, &viewer));
        // Left out: a thread whose replies are all redacted or hidden from the caller.
        const json::object& unsigned_fields = event.at("unsigned").as_object();
        const json::value* relations = unsigned_fields.if_contains("m.relations");
        if (!relations || !relations->as_object().contains("m.thread")) return false;
        chunk.push_back(std::move(event));
        return true;
      });
  if (!page.ok()) return ErrorResponse(page.status());
  json::object body{{"chunk", std::move(chunk)}};
  if (page->next) body["next_batch"] = rooms_internal::MakeToken(*page->next);
  return JsonResponse(200, body);
}

// The first sequence in [1, end] whose origin_server_ts is >= ts (or > ts when
// `strictly`), assuming timestamps nondecreasing; end + 1 when none.
Result<Sequence> FirstAtOrAfter(const ReadAccess& access, Sequence end, int64_t ts, bool strictly) {
  storage::RoomLog log(access.snap);
  Sequence lo = 1, hi = end + 1;
  while (lo < hi) {
    const Sequence mid = lo + (hi - lo) / 2;
    NEBU_ASSIGN_OR_RETURN(storage::EventRecord record, log.Read(access.meta.number, mid));
    const bool after = strictly ? record.origin_server_ts > ts : record.origin_server_ts >= ts;
    if (after) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return lo;
}

Response HandleTimestampToEvent(core::Engine& engine, const Request& request,
                                const PathParams& params) {
  auto caller = Authenticate(request, engine);
  if (auto* error = std::get_if<Response>(&caller)) return *error;
  auto ts_text = request.Query("ts");
  auto dir = request.Query("dir");
  if (!ts_text || !dir) return ErrorResponse(400, "M_MISSING_PARAM", "ts and dir are required");
  auto ts = ParseNumber<int64_t>(*ts_text);
  if (!ts) return InvalidParamResponse("ts must be an integer");
  if (*dir != "f" && *dir != "b") return InvalidParamResponse("dir must be f or b");
  const bool forwards = *dir == "f";
  auto opened =
      rooms_internal::OpenForRead(engine, params.at("roomId"), std::get<Caller>(caller).user_id);
  if (auto* error = std::get_if<Response>(&opened)) return *error;
  const ReadAccess& access = std::get<ReadAccess>(opened);
  const Sequence end = ThreadReadableEnd(access);
  if (end == 0) return ErrorResponse(404, "M_NOT_FOUND", "No event found");
  // f: the first event at or after ts; b: the last one at or before it.
  auto boundary = FirstAtOrAfter(access, end, *ts, !forwards);
  if (!boundary.ok()) return ErrorResponse(boundary.status());
  std::optional<std::pair<std::string, int64_t>> found;
  const Sequence from = forwards ? *boundary : *boundary - 1;
  if (from >= 1 && from <= end) {
    Status scanned = core::ScanRoom(
        access.snap, access.meta.room_id, from, forwards ? end : 1, kTimestampScanEventsMax,
        [&](const storage::EventView& event) {
          const bool in_range =
              forwards ? event.origin_server_ts >= *ts : event.origin_server_ts <= *ts;
          if (!in_range || !access.view.Visible(event.sequence, event.type, event.state_key)) {
            return true;
          }
          found.emplace(std::string(event.event_id), event.origin_server_ts);
          return false;
        });
    if (!scanned.ok()) return ErrorResponse(scanned);
  }
  if (!found) return ErrorResponse(404, "M_NOT_FOUND", "No event found");
  return JsonResponse(200, json::object{{"event_id", found->first},
                                        {"origin_server_ts", found->second}});
}

}  // namespace

std::optional<Response> CheckThreadTarget(core::Engine& engine, std::string_view room_id,
                                          const json::object& content) {
  std::optional<core::Relation> relation = core::RelationOf(json::object{{"content", content}});
  if (!relation || relation->rel_type != core::kThreadRelType) return std::nullopt;
  Result<storage::EventRecord> root = engine.GetEvent(relation->parent);
  if (!root.ok()) {
    if (root.status().code() == StatusCode::kNotFound) return std::nullopt;
    return ErrorResponse(root.status());
  }
  auto room = engine.RoomIdOf(root->room);
  if (!room.ok()) return ErrorResponse(room.status());
  if (!*room || **room != room_id || !core::RelationOfJson(root->json)) return std::nullopt;
  return ErrorResponse(400, "M_UNKNOWN", "Cannot start a thread from an event with a relation");
}

void AddThreadsRoutes(Router& router, core::Engine& engine) {
  rooms_internal::AddClientV1Route(
      router, "GET", "/rooms/{roomId}/threads",
      [&engine](const Request& r, const PathParams& p) { return HandleThreads(engine, r, p); },
      {.offload = true});
  rooms_internal::AddClientV1Route(
      router, "GET", "/rooms/{roomId}/timestamp_to_event",
      [&engine](const Request& r, const PathParams& p) {
        return HandleTimestampToEvent(engine, r, p);
      },
      {.offload = true});
}

}  // namespace nebu::api
