#include "api/sync.h"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <deque>
#include <map>
#include <utility>

#include "api/client_event.h"
#include "api/rooms_common.h"
#include "engine/accounts/accounts.h"
#include "engine/core/engine.h"
#include "engine/core/room_reads.h"
#include "engine/event/canonical_json.h"

namespace nebu::api {

namespace json = boost::json;
using rooms::Membership;
using storage::Sequence;
using storage::StreamPosition;

namespace {

constexpr std::string_view kInviteStateTypes[] = {
    "m.room.create", "m.room.join_rules",      "m.room.name",
    "m.room.avatar", "m.room.canonical_alias", "m.room.encryption"};

// `pattern` against `text`; '*' stands for any run of characters.
bool WildcardMatch(std::string_view pattern, std::string_view text) {
  size_t star = pattern.find('*');
  if (star == std::string_view::npos) return pattern == text;
  if (text.substr(0, star) != pattern.substr(0, star)) return false;
  std::string_view rest = pattern.substr(star + 1);
  for (size_t at = star; at <= text.size(); ++at) {
    if (WildcardMatch(rest, text.substr(at))) return true;
  }
  return false;
}

bool MatchesAny(const std::vector<std::string>& patterns, std::string_view type) {
  return std::any_of(patterns.begin(), patterns.end(),
                     [type](const std::string& p) { return WildcardMatch(p, type); });
}

bool TypeWanted(const SyncFilter& filter, std::string_view type) {
  if (!filter.types.empty() && !MatchesAny(filter.types, type)) return false;
  return !MatchesAny(filter.not_types, type);
}

// Sync serves ClientEventWithoutRoomID.
Result<json::object> SyncEvent(const storage::EventView& view, int64_t now_ms) {
  NEBU_ASSIGN_OR_RETURN(json::object event, ToClientEvent(view, now_ms));
  event.erase("room_id");
  return event;
}
Result<json::object> SyncEvent(const storage::EventRecord& record, int64_t now_ms) {
  NEBU_ASSIGN_OR_RETURN(json::object event, ToClientEvent(record, now_ms));
  event.erase("room_id");
  return event;
}

bool Departed(Membership m) { return m == Membership::kLeave || m == Membership::kBan; }

// What one pass over a room gives: the timeline and the state to report with it.
struct RoomSection {
  json::array timeline;
  bool limited = false;
  Sequence start = 0;  // the point just before the first timeline event
  json::array state;
};

// Everything one assembly shares.
struct Context {
  core::Engine& engine;
  const SyncRequest& request;
  int64_t now_ms = 0;
};

Result<json::array> StateEventsAt(Context& ctx, storage::RoomNumber room, Sequence seq) {
  NEBU_ASSIGN_OR_RETURN(auto records, core::StateRecordsAt(ctx.engine.store(), room, seq));
  json::array out;
  for (const storage::EventRecord& record : records) {
    NEBU_ASSIGN_OR_RETURN(json::object event, SyncEvent(record, ctx.now_ms));
    out.emplace_back(std::move(event));
  }
  return out;
}

// The newest timeline events at or before `top` whose stream position is at most
// `horizon`, and the full state at the timeline's start.
Result<RoomSection> FullSection(Context& ctx, const core::RoomMeta& meta,
                                const core::HistoryView& view, Sequence top,
                                StreamPosition horizon) {
  RoomSection section;
  const size_t limit = ctx.request.filter.timeline_limit;
  std::vector<json::object> newest_first;
  std::optional<Sequence> top_seen, last_examined;
  Sequence oldest = 0;  // the sequence of newest_first.back()
  size_t examined = 0;
  Status failed = Status::Ok();
  if (top > 0) {
    NEBU_RETURN_IF_ERROR(ctx.engine.ScanRoom(
        meta.room_id, top, 1, kSyncTimelineScanEventsMax, [&](const storage::EventView& event) {
          if (event.stream_position > horizon) return true;  // newer than this response
          ++examined;
          last_examined = event.sequence;
          if (!top_seen) top_seen = event.sequence;
          if (!view.Visible(event.sequence, event.type, event.state_key) ||
              !TypeWanted(ctx.request.filter, event.type)) {
            return true;
          }
          if (newest_first.size() == limit) {
            section.limited = true;
            return false;
          }
          auto client = SyncEvent(event, ctx.now_ms);
          if (!client.ok()) {
            failed = client.status();
            return false;
          }
          newest_first.push_back(std::move(client).value());
          oldest = event.sequence;
          return true;
        }));
  }
  NEBU_RETURN_IF_ERROR(failed);
  if (examined == kSyncTimelineScanEventsMax && last_examined.value_or(1) > 1) {
    section.limited = true;
  }
  for (auto it = newest_first.rbegin(); it != newest_first.rend(); ++it) {
    section.timeline.emplace_back(std::move(*it));
  }
  section.start = newest_first.empty() ? top_seen.value_or(0) : oldest - 1;
  NEBU_ASSIGN_OR_RETURN(section.state, StateEventsAt(ctx, meta.number, section.start));
  return section;
}

// The events from `lo` to `hi` (all inside the window), the newest timeline_limit
// of them; full state when some were left out, else the window's state events that
// the filter kept out of the timeline.
Result<RoomSection> WindowSection(Context& ctx, const core::RoomMeta& meta,
                                  const core::HistoryView& view, Sequence lo, Sequence hi) {
  RoomSection section;
  const size_t limit = ctx.request.filter.timeline_limit;
  std::deque<std::pair<Sequence, json::object>> timeline;
  std::vector<std::pair<Sequence, json::object>> left_out_state;
  Status failed = Status::Ok();
  NEBU_RETURN_IF_ERROR(
      ctx.engine.ScanRoom(meta.room_id, lo, hi, hi - lo + 1, [&](const storage::EventView& event) {
        if (!view.Visible(event.sequence, event.type, event.state_key)) return true;
        bool wanted = TypeWanted(ctx.request.filter, event.type);
        if (!wanted && !event.state_key) return true;
        auto client = SyncEvent(event, ctx.now_ms);
        if (!client.ok()) {
          failed = client.status();
          return false;
        }
        if (!wanted) {
          left_out_state.emplace_back(event.sequence, std::move(client).value());
          return true;
        }
        timeline.emplace_back(event.sequence, std::move(client).value());
        if (timeline.size() > limit) {
          timeline.pop_front();
          section.limited = true;
        }
        return true;
      }));
  NEBU_RETURN_IF_ERROR(failed);
  section.start = timeline.empty() ? hi : timeline.front().first - 1;
  if (section.limited) {
    NEBU_ASSIGN_OR_RETURN(section.state, StateEventsAt(ctx, meta.number, section.start));
  } else {
    for (auto& [seq, event] : left_out_state) section.state.emplace_back(std::move(event));
  }
  for (auto& [seq, event] : timeline) section.timeline.emplace_back(std::move(event));
  return section;
}

Result<json::array> RoomAccountData(Context& ctx, std::string_view room_id) {
  NEBU_ASSIGN_OR_RETURN(
      auto entries, accounts::ListAccountData(ctx.engine.store(), ctx.request.user_id, room_id));
  json::array out;
  for (const accounts::AccountDataEntry& entry : entries) {
    NEBU_ASSIGN_OR_RETURN(json::value content, event::ParseJson(entry.content));
    out.emplace_back(json::object{{"type", entry.type}, {"content", std::move(content)}});
  }
  return out;
}

// A rooms.join or rooms.leave entry.
Result<json::object> RoomEntry(Context& ctx, const core::RoomMeta& meta, RoomSection section,
                               bool joined, bool full_state) {
  json::array account_data;
  if (full_state) {
    NEBU_ASSIGN_OR_RETURN(account_data, RoomAccountData(ctx, meta.room_id));
  }
  json::object entry{
      {"timeline", json::object{{"events", std::move(section.timeline)},
                                {"limited", section.limited},
                                {"prev_batch", rooms_internal::MakeToken(section.start)}}},
      {"state", json::object{{"events", std::move(section.state)}}},
      {"account_data", json::object{{"events", std::move(account_data)}}}};
  if (joined) {
    entry["ephemeral"] = json::object{{"events", json::array{}}};
    entry["unread_notifications"] = json::object{};
    entry["summary"] = json::object{};
  }
  return entry;
}

// A rooms.invite entry: stripped state as of `seq`.
Result<json::object> InviteEntry(Context& ctx, const core::RoomMeta& meta, Sequence seq) {
  NEBU_ASSIGN_OR_RETURN(auto records, core::StateRecordsAt(ctx.engine.store(), meta.number, seq));
  json::array stripped;
  for (const storage::EventRecord& record : records) {
    bool wanted = std::find(std::begin(kInviteStateTypes), std::end(kInviteStateTypes),
                            record.type) != std::end(kInviteStateTypes);
    if (record.type == "m.room.member" && record.state_key == ctx.request.user_id) wanted = true;
    if (!wanted || !record.state_key) continue;
    NEBU_ASSIGN_OR_RETURN(json::object event, SyncEvent(record, ctx.now_ms));
    stripped.emplace_back(json::object{{"type", record.type},
                                       {"state_key", *record.state_key},
                                       {"sender", record.sender},
                                       {"content", std::move(event["content"])}});
  }
  return json::object{{"invite_state", json::object{{"events", std::move(stripped)}}}};
}

struct Sections {
  json::object join, invite, leave;
};

// Initial sync (or full_state) of one room, as of stream position `horizon`.
Status AddRoomInitial(Context& ctx, const std::string& room_id, StreamPosition horizon,
                      Sections& out) {
  NEBU_ASSIGN_OR_RETURN(core::RoomMeta meta, ctx.engine.GetRoom(room_id));
  NEBU_ASSIGN_OR_RETURN(
      auto record, core::GetMembershipRecord(ctx.engine.store(), ctx.request.user_id, meta.number));
  if (!record) return Status::Ok();
  NEBU_ASSIGN_OR_RETURN(
      core::HistoryView view,
      core::HistoryView::Load(ctx.engine.store(), meta.number, ctx.request.user_id));
  switch (record->membership) {
    case Membership::kJoin: {
      NEBU_ASSIGN_OR_RETURN(RoomSection section,
                            FullSection(ctx, meta, view, meta.last_seq, horizon));
      NEBU_ASSIGN_OR_RETURN(out.join[room_id],
                            RoomEntry(ctx, meta, std::move(section), true, true));
      break;
    }
    case Membership::kInvite: {
      NEBU_ASSIGN_OR_RETURN(out.invite[room_id], InviteEntry(ctx, meta, record->sequence));
      break;
    }
    case Membership::kLeave:
    case Membership::kBan: {
      if (!ctx.request.filter.include_leave) break;
      NEBU_ASSIGN_OR_RETURN(RoomSection section,
                            FullSection(ctx, meta, view, record->sequence, horizon));
      NEBU_ASSIGN_OR_RETURN(out.leave[room_id],
                            RoomEntry(ctx, meta, std::move(section), false, true));
      break;
    }
    default:
      break;
  }
  return Status::Ok();
}

// The last sequence in [lo, hi] where the user's membership became `pred`-true;
// nullopt when it did not change so within the window.
template <typename Pred>
std::optional<Sequence> LastChangeTo(const core::HistoryView& view, Sequence lo, Sequence hi,
                                     Pred pred) {
  for (Sequence s = hi; s >= lo && s > 0; --s) {
    Membership now = view.MembershipAfter(s);
    if (pred(now) && now != view.MembershipAfter(s - 1)) return s;
  }
  return std::nullopt;
}

// Incremental sync of one room whose events lo..hi are in the window.
Status AddRoomIncremental(Context& ctx, const core::RoomMeta& meta, Sequence lo, Sequence hi,
                          StreamPosition horizon, Sections& out) {
  NEBU_ASSIGN_OR_RETURN(
      core::HistoryView view,
      core::HistoryView::Load(ctx.engine.store(), meta.number, ctx.request.user_id));
  const Membership before = view.MembershipAfter(lo - 1);
  const Membership after = view.MembershipAfter(hi);
  const bool full_state = ctx.request.full_state;
  if (after == Membership::kJoin) {
    const bool newly_joined = before != Membership::kJoin;
    RoomSection section;
    if (newly_joined || full_state) {
      NEBU_ASSIGN_OR_RETURN(section, FullSection(ctx, meta, view, hi, horizon));
    } else {
      NEBU_ASSIGN_OR_RETURN(section, WindowSection(ctx, meta, view, lo, hi));
      if (section.timeline.empty() && section.state.empty() && !section.limited) {
        return Status::Ok();
      }
    }
    NEBU_ASSIGN_OR_RETURN(out.join[meta.room_id], RoomEntry(ctx, meta, std::move(section), true,
                                                            newly_joined || full_state));
    return Status::Ok();
  }
  if (after == Membership::kInvite) {
    auto invited =
        LastChangeTo(view, lo, hi, [](Membership m) { return m == Membership::kInvite; });
    if (invited) {
      NEBU_ASSIGN_OR_RETURN(out.invite[meta.room_id], InviteEntry(ctx, meta, *invited));
    }
    return Status::Ok();
  }
  if (Departed(after) && !Departed(before) && before != Membership::kNone) {
    auto departed = LastChangeTo(view, lo, hi, Departed);
    if (!departed) return Status::Ok();
    RoomSection section;
    if (full_state) {
      NEBU_ASSIGN_OR_RETURN(section, FullSection(ctx, meta, view, *departed, horizon));
    } else {
      NEBU_ASSIGN_OR_RETURN(section, WindowSection(ctx, meta, view, lo, *departed));
    }
    NEBU_ASSIGN_OR_RETURN(out.leave[meta.room_id],
                          RoomEntry(ctx, meta, std::move(section), false, full_state));
  }
  return Status::Ok();
}

// The first and last sequence of each room's events in the window.
struct Window {
  std::map<storage::RoomNumber, std::pair<Sequence, Sequence>> rooms;
  StreamPosition end = 0;
};

Result<Window> ReadWindow(core::Engine& engine, StreamPosition since, StreamPosition to) {
  Window window;
  window.end = to;
  size_t read = 0;
  auto it = engine.store().NewIterator(storage::Cf::kStream);
  for (it->Seek(storage::U64Key(since + 1)); it->Valid(); it->Next()) {
    std::string_view key = it->key().ToStringView();
    if (key.size() != sizeof(uint64_t)) return Status::Corruption("bad stream key");
    StreamPosition position = storage::GetU64(key.data());
    if (position > to) break;
    auto entry = storage::DecodeEventKey(it->value().ToStringView());
    if (!entry) return Status::Corruption("bad stream entry");
    auto [found, inserted] = window.rooms.try_emplace(entry->first, entry->second, entry->second);
    found->second.first = std::min(found->second.first, entry->second);
    found->second.second = std::max(found->second.second, entry->second);
    if (++read == kSyncStreamEntriesMax) {
      window.end = position;
      break;
    }
  }
  NEBU_RETURN_IF_ERROR(storage::FromRocks(it->status()));
  return window;
}

Result<json::array> GlobalAccountData(Context& ctx) {
  NEBU_ASSIGN_OR_RETURN(auto entries, accounts::ListAccountData(ctx.engine.store(),
                                                                ctx.request.user_id, std::nullopt));
  json::array out;
  for (const accounts::AccountDataEntry& entry : entries) {
    NEBU_ASSIGN_OR_RETURN(json::value content, event::ParseJson(entry.content));
    out.emplace_back(json::object{{"type", entry.type}, {"content", std::move(content)}});
  }
  return out;
}

Result<std::vector<std::string>> StringList(const json::object& o, std::string_view key) {
  std::vector<std::string> out;
  const json::value* v = o.if_contains(key);
  if (!v || v->is_null()) return out;
  if (!v->is_array()) return Status::InvalidArgument(std::string(key) + " must be an array");
  for (const json::value& item : v->as_array()) {
    if (!item.is_string()) return Status::InvalidArgument(std::string(key) + " holds a non-string");
    out.emplace_back(item.as_string());
  }
  return out;
}

const json::object* ObjectField(const json::object& o, std::string_view key, bool* bad) {
  const json::value* v = o.if_contains(key);
  if (!v || v->is_null()) return nullptr;
  if (!v->is_object()) *bad = true;
  return v->is_object() ? &v->as_object() : nullptr;
}

}  // namespace

Result<SyncFilter> ParseSyncFilter(std::string_view text) {
  auto parsed = event::ParseJson(text, {.canonical_numbers = false});
  if (!parsed.ok() || !parsed->is_object()) {
    return Status::InvalidArgument("filter is not a JSON object");
  }
  SyncFilter filter;
  bool bad = false;
  const json::object* room = ObjectField(parsed->as_object(), "room", &bad);
  const json::object* timeline = room ? ObjectField(*room, "timeline", &bad) : nullptr;
  if (bad) return Status::InvalidArgument("filter.room and room.timeline must be objects");
  if (room) {
    if (const json::value* v = room->if_contains("include_leave"); v && !v->is_null()) {
      if (!v->is_bool()) return Status::InvalidArgument("include_leave must be a boolean");
      filter.include_leave = v->as_bool();
    }
  }
  if (timeline) {
    if (const json::value* v = timeline->if_contains("limit"); v && !v->is_null()) {
      if (!v->is_int64() && !v->is_uint64()) {
        return Status::InvalidArgument("timeline.limit must be an integer");
      }
      if (v->is_int64() && v->as_int64() < 0) {
        return Status::InvalidArgument("timeline.limit must not be negative");
      }
      uint64_t limit = v->is_int64() ? static_cast<uint64_t>(v->as_int64()) : v->as_uint64();
      filter.timeline_limit = static_cast<size_t>(std::min<uint64_t>(limit, kSyncTimelineLimitMax));
    }
    NEBU_ASSIGN_OR_RETURN(filter.types, StringList(*timeline, "types"));
    NEBU_ASSIGN_OR_RETURN(filter.not_types, StringList(*timeline, "not_types"));
  }
  return filter;
}

std::string MakeSyncToken(StreamPosition position) { return "s" + std::to_string(position); }

std::optional<StreamPosition> ParseSyncToken(std::string_view token) {
  if (token.size() < 2 || token[0] != 's') return std::nullopt;
  StreamPosition position = 0;
  const char* end = token.data() + token.size();
  auto [ptr, ec] = std::from_chars(token.data() + 1, end, position);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return position;
}

Result<SyncResult> AssembleSync(core::Engine& engine, const SyncRequest& request) {
  const StreamPosition to = engine.stream_position();
  if (request.since && *request.since > to) {
    return Status::InvalidArgument("since is ahead of this server's stream");
  }
  Context ctx{engine, request, engine.clock().NowUnixMs()};
  const bool initial = !request.since;
  NEBU_ASSIGN_OR_RETURN(auto memberships, engine.RoomsOf(request.user_id));
  Sections sections;
  SyncResult result;
  result.next_batch = to;
  if (initial) {
    for (const auto& [room_id, membership] : memberships) {
      NEBU_RETURN_IF_ERROR(AddRoomInitial(ctx, room_id, to, sections));
    }
  } else {
    NEBU_ASSIGN_OR_RETURN(Window window, ReadWindow(engine, *request.since, to));
    result.next_batch = window.end;
    for (const auto& [room_id, membership] : memberships) {
      NEBU_ASSIGN_OR_RETURN(core::RoomMeta meta, engine.GetRoom(room_id));
      auto in_window = window.rooms.find(meta.number);
      if (in_window != window.rooms.end()) {
        NEBU_RETURN_IF_ERROR(AddRoomIncremental(ctx, meta, in_window->second.first,
                                                in_window->second.second, window.end, sections));
      } else if (request.full_state && membership == Membership::kJoin) {
        NEBU_RETURN_IF_ERROR(AddRoomInitial(ctx, room_id, window.end, sections));
      }
    }
  }
  json::array account_data;
  if (initial || request.full_state) {
    NEBU_ASSIGN_OR_RETURN(account_data, GlobalAccountData(ctx));
  }
  result.has_room_updates =
      !sections.join.empty() || !sections.invite.empty() || !sections.leave.empty();
  result.body = json::object{
      {"next_batch", MakeSyncToken(result.next_batch)},
      {"rooms", json::object{{"join", std::move(sections.join)},
                             {"invite", std::move(sections.invite)},
                             {"leave", std::move(sections.leave)},
                             {"knock", json::object{}}}},
      {"account_data", json::object{{"events", std::move(account_data)}}},
      {"presence", json::object{{"events", json::array{}}}},
      {"to_device", json::object{{"events", json::array{}}}},
      {"device_lists", json::object{{"changed", json::array{}}, {"left", json::array{}}}},
      {"device_one_time_keys_count", json::object{}}};
  return result;
}

}  // namespace nebu::api
