#include "api/sync/sync.h"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <deque>
#include <map>
#include <set>
#include <utility>

#include "api/rooms/client_event.h"
#include "api/accounts/filter_routes.h"
#include "api/glob.h"
#include "api/sync/presence.h"
#include "api/rooms/rooms_common.h"
#include "api/sync/typing.h"
#include "engine/accounts/accounts.h"
#include "engine/core/engine.h"
#include "engine/core/room_reads.h"
#include "engine/core/stream_reader.h"
#include "engine/e2ee/e2ee.h"
#include "engine/event/canonical_json.h"
#include "engine/push/notification_worker.h"
#include "engine/push/notifications.h"
#include "engine/receipts/receipts.h"
#include "engine/rooms/room_state.h"
#include "engine/storage/stream_entry.h"

namespace nebu::api {

namespace json = boost::json;
using rooms::Membership;
using storage::Sequence;
using storage::StreamPosition;

namespace {

constexpr std::string_view kInviteStateTypes[] = {
    "m.room.create", "m.room.join_rules",      "m.room.name",
    "m.room.avatar", "m.room.canonical_alias", "m.room.encryption"};

bool TypeWanted(const SyncFilter& filter, std::string_view type) {
  if (!filter.types.empty() && !GlobMatchAny(filter.types, type)) return false;
  return !GlobMatchAny(filter.not_types, type);
}

// Sync serves ClientEventWithoutRoomID.
Result<json::object> SyncEvent(const storage::EventView& view, int64_t now_ms,
                               const storage::ReadView* store, const Viewer* viewer) {
  NEBU_ASSIGN_OR_RETURN(json::object event, ToClientEvent(view, now_ms, store, viewer));
  event.erase("room_id");
  return event;
}
Result<json::object> SyncEvent(const storage::EventRecord& record, int64_t now_ms,
                               const storage::ReadView* store, const Viewer* viewer) {
  NEBU_ASSIGN_OR_RETURN(json::object event, ToClientEvent(record, now_ms, store, viewer));
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
  bool full_state = false;  // `state` is the whole state at `start`
  // m.room.member events the window held (any visibility), in log order.
  std::vector<std::pair<std::string, Membership>> member_changes;
};

// What the stream window (since, end] holds that concerns this sync.
struct Window {
  std::map<storage::RoomNumber, std::pair<Sequence, Sequence>> rooms;  // first, last seq
  std::map<std::string, std::set<std::string>> account_data;  // room ID ("" global) -> types
  std::set<storage::RoomNumber> receipt_rooms;
  std::set<std::string> key_changes;  // users whose device keys changed
  StreamPosition end = 0;
};

// Everything one assembly shares.
struct SyncContext {
  core::Engine& engine;
  const core::Snapshot& view;  // every read of one response: one snapshot
  const SyncRequest& request;
  int64_t now_ms = 0;
  Window window;
  std::set<std::string> devices_changed;  // device_lists.changed candidates
  std::set<std::string> devices_left;     // device_lists.left candidates
  Viewer viewer{request.user_id, request.device_id};  // for unsigned.transaction_id
};

// content.membership of a m.room.member event's JSON (kNone when unreadable).
Membership MembershipIn(std::string_view pdu_json) {
  auto parsed = event::ParseJson(pdu_json);
  if (!parsed.ok() || !parsed->is_object()) return Membership::kNone;
  const json::value* content = parsed->as_object().if_contains("content");
  const json::value* m = content && content->is_object()
                             ? content->as_object().if_contains("membership")
                             : nullptr;
  if (!m || !m->is_string()) return Membership::kNone;
  return rooms::ParseMembership(m->as_string()).value_or(Membership::kNone);
}

Result<json::array> StateEventsAt(SyncContext& ctx, storage::RoomNumber room, Sequence seq) {
  NEBU_ASSIGN_OR_RETURN(auto records, core::StateRecordsAt(ctx.view, room, seq));
  json::array out;
  for (const storage::EventRecord& record : records) {
    NEBU_ASSIGN_OR_RETURN(json::object event, SyncEvent(record, ctx.now_ms, &ctx.view, &ctx.viewer));
    out.emplace_back(std::move(event));
  }
  return out;
}

// The newest timeline events at or before `top` whose stream position is at most
// `horizon`, and the full state at the timeline's start.
Result<RoomSection> FullSection(SyncContext& ctx, const core::RoomMeta& meta,
                                const core::HistoryView& view, Sequence top,
                                StreamPosition horizon) {
  RoomSection section;
  const size_t limit = ctx.request.filter.timeline_limit;
  Viewer timeline_viewer = ctx.viewer;
  timeline_viewer.history = &view;  // timeline events carry unsigned.m.relations
  std::vector<json::object> newest_first;
  std::optional<Sequence> top_seen, last_examined;
  Sequence oldest = 0;  // the sequence of newest_first.back()
  size_t examined = 0;
  Status failed = Status::Ok();
  if (top > 0) {
    NEBU_RETURN_IF_ERROR(core::ScanRoom(ctx.view, 
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
          auto client = SyncEvent(event, ctx.now_ms, &ctx.view, &timeline_viewer);
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
  section.full_state = true;
  return section;
}

// The events from `lo` to `hi` (all inside the window), the newest timeline_limit
// of them; full state when some were left out, else the window's state events that
// the filter kept out of the timeline.
Result<RoomSection> WindowSection(SyncContext& ctx, const core::RoomMeta& meta,
                                  const core::HistoryView& view, Sequence lo, Sequence hi) {
  RoomSection section;
  const size_t limit = ctx.request.filter.timeline_limit;
  Viewer timeline_viewer = ctx.viewer;
  timeline_viewer.history = &view;  // timeline events carry unsigned.m.relations
  std::deque<std::pair<Sequence, json::object>> timeline;
  std::vector<std::pair<Sequence, json::object>> left_out_state;
  std::vector<std::pair<std::string, Membership>> member_changes;
  Status failed = Status::Ok();
  NEBU_RETURN_IF_ERROR(
      core::ScanRoom(ctx.view, meta.room_id, lo, hi, hi - lo + 1, [&](const storage::EventView& event) {
        if (event.type == rooms::kMemberType && event.state_key) {
          member_changes.emplace_back(std::string(*event.state_key), MembershipIn(event.json));
        }
        if (!view.Visible(event.sequence, event.type, event.state_key)) return true;
        bool wanted = TypeWanted(ctx.request.filter, event.type);
        if (!wanted && !event.state_key) return true;
        auto client = SyncEvent(event, ctx.now_ms, &ctx.view, &timeline_viewer);
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
  section.member_changes = std::move(member_changes);
  section.start = timeline.empty() ? hi : timeline.front().first - 1;
  if (section.limited) {
    NEBU_ASSIGN_OR_RETURN(section.state, StateEventsAt(ctx, meta.number, section.start));
    section.full_state = true;
  } else {
    for (auto& [seq, event] : left_out_state) section.state.emplace_back(std::move(event));
  }
  for (auto& [seq, event] : timeline) section.timeline.emplace_back(std::move(event));
  return section;
}

// Account data entries as sync events; `only`: just these types (nullptr: all).
Result<json::array> AccountDataEvents(SyncContext& ctx, std::optional<std::string_view> room_id,
                                      const std::set<std::string>* only) {
  NEBU_ASSIGN_OR_RETURN(auto entries,
                        accounts::ListAccountData(ctx.view, ctx.request.user_id, room_id));
  json::array out;
  for (const accounts::AccountDataEntry& entry : entries) {
    if (only && !only->contains(entry.type)) continue;
    // Account data keeps floats (a tag's "order": 0.5), so not canonical numbers.
    NEBU_ASSIGN_OR_RETURN(json::value content,
                          event::ParseJson(entry.content, {.canonical_numbers = false}));
    out.emplace_back(json::object{{"type", entry.type}, {"content", std::move(content)}});
  }
  return out;
}

// lazy_load_members: keeps only the member events of the timeline's senders and of
// the user; adds the senders' member events (as of the timeline start) that an
// incremental window's state lacks.
Status LazyLoadMembers(SyncContext& ctx, storage::RoomNumber room, RoomSection& section) {
  std::set<std::string> wanted{ctx.request.user_id};
  for (const json::value& event : section.timeline) {
    wanted.emplace(event.as_object().at("sender").as_string());
  }
  std::set<std::string> present;
  json::array kept;
  for (json::value& event : section.state) {
    const json::object& o = event.as_object();
    if (o.at("type").as_string() == rooms::kMemberType) {
      std::string target(o.at("state_key").as_string());
      if (!wanted.contains(target)) continue;
      present.insert(std::move(target));
    }
    kept.emplace_back(std::move(event));
  }
  section.state = std::move(kept);
  if (section.full_state) return Status::Ok();
  for (const json::value& event : section.timeline) {  // members set in the timeline itself
    const json::object& o = event.as_object();
    if (o.at("type").as_string() == rooms::kMemberType) present.emplace(o.at("state_key").as_string());
  }
  for (const std::string& user : wanted) {
    if (present.contains(user) || user == ctx.request.user_id) continue;
    NEBU_ASSIGN_OR_RETURN(auto record, core::StateRecordAt(ctx.view, room,
                                                           rooms::kMemberType, user, section.start));
    if (!record) continue;
    NEBU_ASSIGN_OR_RETURN(json::object event, SyncEvent(*record, ctx.now_ms, &ctx.view, &ctx.viewer));
    section.state.emplace_back(std::move(event));
  }
  return Status::Ok();
}

// The spec's RoomSummary: counts and up to kSyncHeroesMax other members.
Result<json::object> Summary(SyncContext& ctx, storage::RoomNumber room) {
  NEBU_ASSIGN_OR_RETURN(auto members, core::RoomMembers(ctx.view, room));
  int64_t joined = 0, invited = 0;
  json::array heroes;
  for (const core::RoomMember& member : members) {
    if (member.membership == Membership::kJoin) ++joined;
    if (member.membership == Membership::kInvite) ++invited;
    if ((member.membership == Membership::kJoin || member.membership == Membership::kInvite) &&
        member.user_id != ctx.request.user_id && heroes.size() < kSyncHeroesMax) {
      heroes.emplace_back(member.user_id);
    }
  }
  return json::object{{"m.heroes", std::move(heroes)},
                      {"m.joined_member_count", joined},
                      {"m.invited_member_count", invited}};
}

// m.receipt for the receipts of `room` stored in (after, upto].
Result<std::optional<json::object>> ReceiptEvent(SyncContext& ctx, storage::RoomNumber room,
                                                 StreamPosition after, StreamPosition upto) {
  NEBU_ASSIGN_OR_RETURN(auto receipts,
                        receipts::ReceiptsInRoom(ctx.view, room, after, upto));
  json::object content;
  for (const receipts::Receipt& r : receipts) {
    if (r.type == "m.read.private" && r.user_id != ctx.request.user_id) continue;
    json::object receipt{{"ts", r.ts}};
    if (!r.thread_id.empty()) receipt["thread_id"] = r.thread_id;
    json::value& by_type = content[r.event_id];
    if (!by_type.is_object()) by_type = json::object{};
    json::value& by_user = by_type.as_object()[r.type];
    if (!by_user.is_object()) by_user = json::object{};
    by_user.as_object()[r.user_id] = std::move(receipt);
  }
  if (content.empty()) return std::optional<json::object>();
  return std::optional<json::object>(
      json::object{{"type", "m.receipt"}, {"content", std::move(content)}});
}

json::object TypingEvent(std::vector<std::string> users) {
  json::array ids;
  for (std::string& user : users) ids.emplace_back(std::move(user));
  return json::object{{"type", "m.typing"}, {"content", json::object{{"user_ids", std::move(ids)}}}};
}

struct Sections {
  json::object join, invite, leave, knock;
};

// The rooms.join entry of a room, made empty (nothing in the timeline, prev_batch at
// the room's end) if the room has none yet.
json::object& JoinEntry(Sections& out, const core::RoomMeta& meta) {
  json::value& entry = out.join[meta.room_id];
  if (!entry.is_object()) {
    entry = json::object{
        {"timeline", json::object{{"events", json::array{}},
                                  {"limited", false},
                                  {"prev_batch", rooms_internal::MakeToken(meta.last_seq)}}},
        {"state", json::object{{"events", json::array{}}}},
        {"account_data", json::object{{"events", json::array{}}}},
        {"ephemeral", json::object{{"events", json::array{}}}},
        {"unread_notifications", json::object{}},
        {"summary", json::object{}}};
  }
  return entry.as_object();
}

json::array& EventsOf(json::object& entry, std::string_view section) {
  return entry.at(section).as_object().at("events").as_array();
}

// A rooms.join or rooms.leave entry from a section.
Status AddSectionEntry(SyncContext& ctx, const core::RoomMeta& meta, RoomSection section,
                       bool joined, Sections& out) {
  if (ctx.request.filter.lazy_load_members) {
    NEBU_RETURN_IF_ERROR(LazyLoadMembers(ctx, meta.number, section));
  }
  json::object summary;
  if (joined && (section.full_state || !section.member_changes.empty())) {
    NEBU_ASSIGN_OR_RETURN(summary, Summary(ctx, meta.number));
  }
  json::array account_data;
  if (section.full_state) {
    NEBU_ASSIGN_OR_RETURN(account_data, AccountDataEvents(ctx, meta.room_id, nullptr));
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
    entry["summary"] = std::move(summary);
    out.join[meta.room_id] = std::move(entry);
  } else {
    out.leave[meta.room_id] = std::move(entry);
  }
  return Status::Ok();
}

// A rooms.invite entry (or with `key` "knock_state", a rooms.knock entry): stripped
// state as of `seq`.
Result<json::object> InviteEntry(SyncContext& ctx, const core::RoomMeta& meta, Sequence seq,
                                 std::string_view key = "invite_state") {
  NEBU_ASSIGN_OR_RETURN(auto records, core::StateRecordsAt(ctx.view, meta.number, seq));
  json::array stripped;
  for (const storage::EventRecord& record : records) {
    bool wanted = std::find(std::begin(kInviteStateTypes), std::end(kInviteStateTypes),
                            record.type) != std::end(kInviteStateTypes);
    if (record.type == rooms::kMemberType && record.state_key == ctx.request.user_id) wanted = true;
    if (!wanted || !record.state_key) continue;
    NEBU_ASSIGN_OR_RETURN(json::object event, SyncEvent(record, ctx.now_ms, &ctx.view, &ctx.viewer));
    stripped.emplace_back(json::object{{"type", record.type},
                                       {"state_key", *record.state_key},
                                       {"sender", record.sender},
                                       {"content", std::move(event["content"])}});
  }
  return json::object{{key, json::object{{"events", std::move(stripped)}}}};
}

// Every member of a room the user (newly) joined: their devices are news to the user.
Status AllMembersChanged(SyncContext& ctx, storage::RoomNumber room) {
  NEBU_ASSIGN_OR_RETURN(auto members, core::RoomMembers(ctx.view, room));
  for (const core::RoomMember& member : members) {
    if (member.membership == Membership::kJoin && member.user_id != ctx.request.user_id) {
      ctx.devices_changed.insert(member.user_id);
    }
  }
  return Status::Ok();
}

// Initial sync (or full_state) of one room, as of stream position `horizon`.
Status AddRoomInitial(SyncContext& ctx, const std::string& room_id, StreamPosition horizon,
                      Sections& out) {
  NEBU_ASSIGN_OR_RETURN(core::RoomMeta meta, core::LoadRoomMeta(ctx.view, room_id));
  NEBU_ASSIGN_OR_RETURN(
      auto record, core::GetMembershipRecord(ctx.view, ctx.request.user_id, meta.number));
  if (!record) return Status::Ok();
  NEBU_ASSIGN_OR_RETURN(
      core::HistoryView view,
      core::HistoryView::Load(ctx.view, meta.number, ctx.request.user_id));
  switch (record->membership) {
    case Membership::kJoin: {
      NEBU_ASSIGN_OR_RETURN(RoomSection section,
                            FullSection(ctx, meta, view, meta.last_seq, horizon));
      NEBU_RETURN_IF_ERROR(AddSectionEntry(ctx, meta, std::move(section), true, out));
      json::object& entry = JoinEntry(out, meta);
      NEBU_ASSIGN_OR_RETURN(auto receipt, ReceiptEvent(ctx, meta.number, 0, horizon));
      if (receipt) EventsOf(entry, "ephemeral").emplace_back(std::move(*receipt));
      if (ctx.request.typing) {
        std::vector<std::string> typing = ctx.request.typing->Typing(room_id);
        if (!typing.empty()) EventsOf(entry, "ephemeral").emplace_back(TypingEvent(std::move(typing)));
      }
      break;
    }
    case Membership::kInvite: {
      NEBU_ASSIGN_OR_RETURN(out.invite[room_id], InviteEntry(ctx, meta, record->sequence));
      break;
    }
    case Membership::kKnock: {
      NEBU_ASSIGN_OR_RETURN(out.knock[room_id],
                            InviteEntry(ctx, meta, record->sequence, "knock_state"));
      break;
    }
    case Membership::kLeave:
    case Membership::kBan: {
      if (!ctx.request.filter.include_leave) break;
      NEBU_ASSIGN_OR_RETURN(bool forgotten, core::IsRoomForgotten(ctx.view,
                                                                  ctx.request.user_id, meta.number));
      if (forgotten) break;
      NEBU_ASSIGN_OR_RETURN(RoomSection section,
                            FullSection(ctx, meta, view, record->sequence, horizon));
      NEBU_RETURN_IF_ERROR(AddSectionEntry(ctx, meta, std::move(section), false, out));
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

void NoteMemberChanges(SyncContext& ctx, const RoomSection& section) {
  for (const auto& [user, membership] : section.member_changes) {
    if (user == ctx.request.user_id) continue;
    if (membership == Membership::kJoin) ctx.devices_changed.insert(user);
    if (Departed(membership)) ctx.devices_left.insert(user);
  }
}

// Incremental sync of one room whose events lo..hi are in the window.
Status AddRoomIncremental(SyncContext& ctx, const core::RoomMeta& meta, Sequence lo, Sequence hi,
                          StreamPosition horizon, Sections& out) {
  NEBU_ASSIGN_OR_RETURN(
      core::HistoryView view,
      core::HistoryView::Load(ctx.view, meta.number, ctx.request.user_id));
  const Membership before = view.MembershipAfter(lo - 1);
  const Membership after = view.MembershipAfter(hi);
  const bool full_state = ctx.request.full_state;
  if (after == Membership::kJoin) {
    const bool newly_joined = before != Membership::kJoin;
    RoomSection section;
    if (newly_joined || full_state) {
      NEBU_ASSIGN_OR_RETURN(section, FullSection(ctx, meta, view, hi, horizon));
      if (newly_joined) NEBU_RETURN_IF_ERROR(AllMembersChanged(ctx, meta.number));
    } else {
      NEBU_ASSIGN_OR_RETURN(section, WindowSection(ctx, meta, view, lo, hi));
      NoteMemberChanges(ctx, section);
      if (section.timeline.empty() && section.state.empty() && !section.limited) {
        return Status::Ok();
      }
    }
    return AddSectionEntry(ctx, meta, std::move(section), true, out);
  }
  if (after == Membership::kInvite) {
    auto invited =
        LastChangeTo(view, lo, hi, [](Membership m) { return m == Membership::kInvite; });
    if (invited) {
      NEBU_ASSIGN_OR_RETURN(out.invite[meta.room_id], InviteEntry(ctx, meta, *invited));
    }
    return Status::Ok();
  }
  if (after == Membership::kKnock) {
    auto knocked = LastChangeTo(view, lo, hi, [](Membership m) { return m == Membership::kKnock; });
    if (knocked) {
      NEBU_ASSIGN_OR_RETURN(out.knock[meta.room_id],
                            InviteEntry(ctx, meta, *knocked, "knock_state"));
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
    // The user left: everyone in the room may no longer share a room with them.
    NEBU_ASSIGN_OR_RETURN(auto members, core::RoomMembers(ctx.view, meta.number));
    for (const core::RoomMember& member : members) {
      if (member.membership == Membership::kJoin) ctx.devices_left.insert(member.user_id);
    }
    return AddSectionEntry(ctx, meta, std::move(section), false, out);
  }
  return Status::Ok();
}

// Reads the stream entries in (since, to] that concern the user. Stops after
// kSyncStreamEntriesMax entries or at the kSyncToDeviceMax-th to-device message for
// the user's device, so next_batch never passes what this response carries.
Result<Window> ReadWindow(const storage::ReadView& view, const SyncRequest& request,
                          StreamPosition since, StreamPosition to) {
  Window window;
  window.end = to;
  size_t read = 0, to_device = 0;
  NEBU_RETURN_IF_ERROR(core::ScanStream(
      view, since, to, [&](StreamPosition position, const storage::StreamEntry& entry) {
        bool stop = false;
        switch (entry.kind) {
          case storage::StreamKind::kRoomEvent: {
            auto [found, inserted] =
                window.rooms.try_emplace(entry.room, entry.sequence, entry.sequence);
            found->second.first = std::min(found->second.first, entry.sequence);
            found->second.second = std::max(found->second.second, entry.sequence);
            break;
          }
          case storage::StreamKind::kAccountData:
            if (entry.user == request.user_id) window.account_data[entry.a].insert(entry.b);
            break;
          case storage::StreamKind::kReceipt:
            window.receipt_rooms.insert(entry.room);
            break;
          case storage::StreamKind::kDeviceKeys:
            window.key_changes.insert(entry.user);
            break;
          case storage::StreamKind::kToDevice:
            if (entry.user == request.user_id &&
                (entry.a == request.device_id || entry.a == "*")) {
              stop = ++to_device == kSyncToDeviceMax;
            }
            break;
        }
        if (++read == kSyncStreamEntriesMax || stop) {
          window.end = position;
          return false;
        }
        return true;
      }));
  return window;
}

// Whether `other` is joined to a room `user` is joined to.
Result<bool> SharesRoom(const storage::ReadView& view, const std::string& user,
                        const std::string& other) {
  if (user == other) return true;
  NEBU_ASSIGN_OR_RETURN(auto rooms, core::RoomsOf(view, other));
  for (const auto& [room_id, membership] : rooms) {
    if (membership != Membership::kJoin) continue;
    NEBU_ASSIGN_OR_RETURN(core::RoomMeta meta, core::LoadRoomMeta(view, room_id));
    if (core::MembershipOf(view, user, meta.number) == Membership::kJoin) return true;
  }
  return false;
}

Result<json::object> DeviceLists(SyncContext& ctx) {
  std::set<std::string> changed = std::move(ctx.devices_changed);
  for (const std::string& user : ctx.window.key_changes) {
    NEBU_ASSIGN_OR_RETURN(bool shares, SharesRoom(ctx.view, ctx.request.user_id, user));
    if (shares) changed.insert(user);
  }
  json::array changed_out, left_out;
  for (const std::string& user : ctx.devices_left) {
    if (user == ctx.request.user_id || changed.contains(user)) continue;
    NEBU_ASSIGN_OR_RETURN(bool shares, SharesRoom(ctx.view, ctx.request.user_id, user));
    if (!shares) left_out.emplace_back(user);
  }
  for (const std::string& user : changed) changed_out.emplace_back(user);
  return json::object{{"changed", std::move(changed_out)}, {"left", std::move(left_out)}};
}

// to_device: the device's messages in (after, upto]; proposes deleting the ones the
// request's `since` acknowledged.
Result<json::array> ToDevice(SyncContext& ctx, StreamPosition after, StreamPosition upto) {
  json::array out;
  const std::string& user = ctx.request.user_id;
  const std::string& device = ctx.request.device_id;
  if (device.empty()) return out;
  if (ctx.request.since && ctx.request.since->position > 0) {
    NEBU_ASSIGN_OR_RETURN(bool acked, e2ee::HasToDeviceUpTo(ctx.view, user, device,
                                                            ctx.request.since->position));
    Result<std::string> ack =
        e2ee::EncodeDeleteToDevice(user, device, ctx.request.since->position);
    if (acked && ack.ok()) {  // a since token past any real position acknowledges nothing
      ctx.engine.SubmitAsync(core::Command{core::CommandKind::kE2ee, std::move(ack).value()},
                             [](const core::ApplyOutcome&) {});
    }
  }
  NEBU_ASSIGN_OR_RETURN(auto messages, e2ee::ToDeviceMessages(ctx.view, user, device,
                                                              after, upto, kSyncToDeviceMax));
  for (e2ee::ToDeviceMessage& m : messages) {
    NEBU_ASSIGN_OR_RETURN(json::value content, event::ParseJson(m.content, {.canonical_numbers = false}));
    out.emplace_back(json::object{
        {"sender", std::move(m.sender)}, {"type", std::move(m.type)}, {"content", std::move(content)}});
  }
  return out;
}

json::object CountsObject(const std::map<std::string, uint64_t>& counts) {
  json::object out;
  for (const auto& [algorithm, count] : counts) out[algorithm] = count;
  return out;
}

// A token's typing or presence serial as this node's tracker can answer it: a serial
// the tracker has not reached (the token came from another node, or from before a
// restart: the trackers are memory only, per node) reads as 0, "send the current
// state", rather than as a future no change will ever pass.
uint64_t KnownSerial(uint64_t token_serial, uint64_t tracker_serial) {
  return token_serial > tracker_serial ? 0 : token_serial;
}

// Ephemeral events and account data of joined rooms the window touched without
// room events (or with them: entries are merged).
Status AddRoomExtras(SyncContext& ctx, Sections& out, StreamPosition since) {
  std::map<std::string, std::vector<std::string>> typing;
  if (ctx.request.typing) {
    typing = ctx.request.typing->ChangedSince(
        KnownSerial(ctx.request.since->typing, ctx.request.typing->serial()));
  }
  std::set<std::string> room_ids;
  for (const auto& [room_id, types] : ctx.window.account_data) {
    if (!room_id.empty()) room_ids.insert(room_id);
  }
  for (const auto& [room_id, users] : typing) room_ids.insert(room_id);
  std::map<std::string, storage::RoomNumber> numbers;
  for (storage::RoomNumber room : ctx.window.receipt_rooms) {
    NEBU_ASSIGN_OR_RETURN(auto room_id, core::RoomIdOf(ctx.view, room));
    if (room_id) room_ids.insert(*room_id);
  }
  for (const std::string& room_id : room_ids) {
    auto meta = core::LoadRoomMeta(ctx.view, room_id);
    if (!meta.ok()) continue;  // typing in a room that does not exist
    if (core::MembershipOf(ctx.view, ctx.request.user_id, meta->number) != Membership::kJoin) continue;
    json::array ephemeral, account_data;
    if (ctx.window.receipt_rooms.contains(meta->number)) {
      NEBU_ASSIGN_OR_RETURN(auto receipt, ReceiptEvent(ctx, meta->number, since, ctx.window.end));
      if (receipt) ephemeral.emplace_back(std::move(*receipt));
    }
    if (auto t = typing.find(room_id); t != typing.end()) {
      ephemeral.emplace_back(TypingEvent(std::move(t->second)));
    }
    if (auto a = ctx.window.account_data.find(room_id); a != ctx.window.account_data.end()) {
      NEBU_ASSIGN_OR_RETURN(account_data, AccountDataEvents(ctx, room_id, &a->second));
    }
    if (ephemeral.empty() && account_data.empty()) continue;
    json::object& entry = JoinEntry(out, *meta);
    for (json::value& e : ephemeral) EventsOf(entry, "ephemeral").emplace_back(std::move(e));
    json::array& existing = EventsOf(entry, "account_data");
    if (existing.empty()) {  // a full-state entry already holds all of it
      for (json::value& e : account_data) existing.emplace_back(std::move(e));
    }
  }
  return Status::Ok();
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
  NEBU_RETURN_IF_ERROR(CheckFilterPatterns(parsed->as_object()));
  SyncFilter filter;
  bool bad = false;
  const json::object* room = ObjectField(parsed->as_object(), "room", &bad);
  const json::object* timeline = room ? ObjectField(*room, "timeline", &bad) : nullptr;
  if (bad) return Status::InvalidArgument("filter.room and room.timeline must be objects");
  const json::object* state = room ? ObjectField(*room, "state", &bad) : nullptr;
  if (bad) return Status::InvalidArgument("filter.room.state must be an object");
  if (room) {
    if (const json::value* v = room->if_contains("include_leave"); v && !v->is_null()) {
      if (!v->is_bool()) return Status::InvalidArgument("include_leave must be a boolean");
      filter.include_leave = v->as_bool();
    }
  }
  if (state) {
    if (const json::value* v = state->if_contains("lazy_load_members"); v && !v->is_null()) {
      if (!v->is_bool()) return Status::InvalidArgument("lazy_load_members must be a boolean");
      filter.lazy_load_members = v->as_bool();
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
    if (const json::value* v = timeline->if_contains("unread_thread_notifications");
        v && !v->is_null()) {
      if (!v->is_bool()) return Status::InvalidArgument("unread_thread_notifications must be a boolean");
      filter.unread_thread_notifications = v->as_bool();
    }
    NEBU_ASSIGN_OR_RETURN(filter.types, StringList(*timeline, "types"));
    NEBU_ASSIGN_OR_RETURN(filter.not_types, StringList(*timeline, "not_types"));
  }
  return filter;
}

std::string MakeSyncToken(SyncToken token) {
  std::string text = "s" + std::to_string(token.position) + "_" + std::to_string(token.typing);
  if (token.presence != 0 || token.push) text += "_" + std::to_string(token.presence);
  if (token.push) text += "_" + std::to_string(*token.push);
  if (token.epoch != 0) text += "e" + std::to_string(token.epoch);
  return text;
}

std::optional<SyncToken> ParseSyncToken(std::string_view text) {
  if (text.size() < 2 || text[0] != 's') return std::nullopt;
  SyncToken token;
  token.epoch = 0;
  if (size_t e = text.find('e'); e != std::string_view::npos) {
    const char* epoch_end = text.data() + text.size();
    auto [after, ec] = std::from_chars(text.data() + e + 1, epoch_end, token.epoch);
    if (ec != std::errc() || after != epoch_end || token.epoch == 0) return std::nullopt;
    text = text.substr(0, e);
  }
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data() + 1, end, token.position);
  if (ec != std::errc() || ptr == text.data() + 1) return std::nullopt;
  if (ptr == end) return token;
  if (*ptr != '_' || ptr + 1 == end) return std::nullopt;
  auto [tail, ec2] = std::from_chars(ptr + 1, end, token.typing);
  if (ec2 != std::errc()) return std::nullopt;
  if (tail == end) return token;
  if (*tail != '_' || tail + 1 == end) return std::nullopt;
  auto [last, ec3] = std::from_chars(tail + 1, end, token.presence);
  if (ec3 != std::errc()) return std::nullopt;
  if (last == end) return token;
  if (*last != '_' || last + 1 == end) return std::nullopt;
  storage::StreamPosition push = 0;
  auto [rest, ec4] = std::from_chars(last + 1, end, push);
  if (ec4 != std::errc() || rest != end) return std::nullopt;
  token.push = push;
  return token;
}

// m.presence events: the caller and the users sharing a joined room with the caller
// whose presence changed after `since` (serial), as the tracker knows them now.
Result<json::array> PresenceEvents(SyncContext& ctx, uint64_t since) {
  json::array events;
  if (!ctx.request.presence) return events;
  std::map<std::string, PresenceState> changed = ctx.request.presence->ChangedSince(since);
  // Checked from the changed users' side (their rooms), so the cost follows what
  // changed, not how many rooms the caller is in.
  for (const auto& [user_id, state] : changed) {
    NEBU_ASSIGN_OR_RETURN(bool shares, SharesRoom(ctx.view, ctx.request.user_id, user_id));
    if (!shares) continue;
    events.emplace_back(json::object{{"type", "m.presence"},
                                     {"sender", user_id},
                                     {"content", PresenceContent(state, ctx.now_ms)}});
  }
  return events;
}

// The worker cursor the response's counts are taken at (read from the response's
// snapshot); nullopt without a worker or while it rebuilds (not caught up).
Result<std::optional<StreamPosition>> CountsCursor(const core::Snapshot& view,
                                                   const SyncRequest& request) {
  if (!request.notifications || !request.notifications->caught_up()) {
    return std::optional<StreamPosition>();
  }
  NEBU_ASSIGN_OR_RETURN(StreamPosition cursor, push::NotificationsCursor(view));
  return std::optional<StreamPosition>(cursor);
}

// Joined rooms whose unread counts may have changed while the worker moved from
// `from` to `to`: those named by room events and receipts in (from, to], or every
// joined room of the user past kSyncUnreadScanEntriesMax entries.
Result<std::set<storage::RoomNumber>> CountChangedRooms(const SyncContext& ctx, StreamPosition from,
                                                        StreamPosition to) {
  std::set<storage::RoomNumber> named;
  size_t read = 0;
  bool over = false;
  NEBU_RETURN_IF_ERROR(core::ScanStream(
      ctx.view, from, to, [&](StreamPosition, const storage::StreamEntry& entry) {
        if (entry.kind == storage::StreamKind::kRoomEvent ||
            entry.kind == storage::StreamKind::kReceipt) {
          named.insert(entry.room);
        }
        over = ++read == kSyncUnreadScanEntriesMax;
        return !over;
      }));
  std::set<storage::RoomNumber> rooms;
  if (over) {
    NEBU_ASSIGN_OR_RETURN(auto memberships, core::RoomsOf(ctx.view, ctx.request.user_id));
    for (const auto& [room_id, membership] : memberships) {
      if (membership != Membership::kJoin) continue;
      NEBU_ASSIGN_OR_RETURN(core::RoomMeta meta, core::LoadRoomMeta(ctx.view, room_id));
      rooms.insert(meta.number);
    }
    return rooms;
  }
  for (storage::RoomNumber room : named) {
    if (core::MembershipOf(ctx.view, ctx.request.user_id, room) == Membership::kJoin) {
      rooms.insert(room);
    }
  }
  return rooms;
}

// Adds a rooms.join entry (empty but for the counts AddUnreadCounts fills) for every
// joined room whose counts changed after since->push, when the worker moved past it.
Status AddCountChangedRooms(SyncContext& ctx, StreamPosition cursor, Sections& out) {
  const SyncToken& since = *ctx.request.since;
  const StreamPosition from = since.push.value_or(since.position);
  if (from >= cursor) return Status::Ok();
  NEBU_ASSIGN_OR_RETURN(auto rooms, CountChangedRooms(ctx, from, cursor));
  for (storage::RoomNumber room : rooms) {
    NEBU_ASSIGN_OR_RETURN(auto room_id, core::RoomIdOf(ctx.view, room));
    if (!room_id) return Status::Corruption("stream names an unknown room");
    if (out.join.contains(*room_id) || out.leave.contains(*room_id)) continue;
    NEBU_ASSIGN_OR_RETURN(core::RoomMeta meta, core::LoadRoomMeta(ctx.view, *room_id));
    JoinEntry(out, meta);
  }
  return Status::Ok();
}

json::object CountsJson(const push::UnreadCounts& counts) {
  return json::object{{"notification_count", counts.notifications},
                      {"highlight_count", counts.highlights}};
}

// unread_notifications (and unread_thread_notifications) of every rooms.join entry.
Status AddUnreadCounts(SyncContext& ctx, Sections& out) {
  for (auto& [room_id, value] : out.join) {
    NEBU_ASSIGN_OR_RETURN(core::RoomMeta meta, core::LoadRoomMeta(ctx.view, room_id));
    json::object& entry = value.as_object();
    if (!ctx.request.filter.unread_thread_notifications) {
      NEBU_ASSIGN_OR_RETURN(auto counts,
                            push::RoomUnreadCounts(ctx.view, ctx.request.user_id, meta.number));
      entry["unread_notifications"] = CountsJson(counts);
      continue;
    }
    NEBU_ASSIGN_OR_RETURN(auto threads,
                          push::ThreadUnreadCounts(ctx.view, ctx.request.user_id, meta.number));
    push::UnreadCounts main;
    json::object by_thread;
    for (const auto& [thread, counts] : threads) {
      if (thread == push::kMainThreadId) {
        main = counts;
      } else {
        by_thread[thread] = CountsJson(counts);
      }
    }
    entry["unread_notifications"] = CountsJson(main);
    entry["unread_thread_notifications"] = std::move(by_thread);
  }
  return Status::Ok();
}

Result<SyncResult> AssembleSync(core::Engine& engine, const SyncRequest& request) {
  // One snapshot for the whole response: next_batch is its position, and every read
  // below sees at least everything up to there (core/snapshot.h).
  const core::Snapshot view = engine.Read();
  const StreamPosition to = view.position();
  NEBU_ASSIGN_OR_RETURN(const std::optional<StreamPosition> counts_cursor,
                        CountsCursor(view, request));
  const uint64_t typing_serial = request.typing ? request.typing->serial() : 0;
  if (request.since && request.since->position > to) {
    return Status::InvalidArgument("since is ahead of this server's stream");
  }
  SyncContext ctx{engine, view, request, engine.clock().NowUnixMs()};
  const bool initial = !request.since;
  Sections sections;
  SyncResult result;
  const uint64_t presence_serial = request.presence ? request.presence->serial() : 0;
  result.next_batch = {to, typing_serial, presence_serial};
  json::array account_data, to_device;
  if (initial) {
    NEBU_ASSIGN_OR_RETURN(auto memberships, core::RoomsOf(view, request.user_id));
    for (const auto& [room_id, membership] : memberships) {
      NEBU_RETURN_IF_ERROR(AddRoomInitial(ctx, room_id, to, sections));
    }
    NEBU_ASSIGN_OR_RETURN(account_data, AccountDataEvents(ctx, std::nullopt, nullptr));
    NEBU_ASSIGN_OR_RETURN(to_device, ToDevice(ctx, 0, to));
    ctx.devices_changed.clear();  // an initial sync reports no device-list changes
  } else {
    const StreamPosition since = request.since->position;
    NEBU_ASSIGN_OR_RETURN(ctx.window, ReadWindow(view, request, since, to));
    result.next_batch.position = ctx.window.end;
    for (const auto& [room, range] : ctx.window.rooms) {
      NEBU_ASSIGN_OR_RETURN(auto record,
                            core::GetMembershipRecord(view, request.user_id, room));
      if (!record) continue;  // a room the user never was in
      NEBU_ASSIGN_OR_RETURN(bool forgotten,
                            core::IsRoomForgotten(view, request.user_id, room));
      if (forgotten) continue;  // forgotten after leaving: never listed again
      NEBU_ASSIGN_OR_RETURN(auto room_id, core::RoomIdOf(view, room));
      if (!room_id) return Status::Corruption("stream names an unknown room");
      NEBU_ASSIGN_OR_RETURN(core::RoomMeta meta, core::LoadRoomMeta(view, *room_id));
      NEBU_RETURN_IF_ERROR(
          AddRoomIncremental(ctx, meta, range.first, range.second, ctx.window.end, sections));
    }
    if (request.full_state) {
      NEBU_ASSIGN_OR_RETURN(auto memberships, core::RoomsOf(view, request.user_id));
      for (const auto& [room_id, membership] : memberships) {
        if (membership == Membership::kJoin && !sections.join.contains(room_id)) {
          NEBU_RETURN_IF_ERROR(AddRoomInitial(ctx, room_id, ctx.window.end, sections));
        }
      }
      NEBU_ASSIGN_OR_RETURN(account_data, AccountDataEvents(ctx, std::nullopt, nullptr));
    } else if (auto global = ctx.window.account_data.find(""); global != ctx.window.account_data.end()) {
      NEBU_ASSIGN_OR_RETURN(account_data, AccountDataEvents(ctx, std::nullopt, &global->second));
    }
    NEBU_RETURN_IF_ERROR(AddRoomExtras(ctx, sections, since));
    NEBU_ASSIGN_OR_RETURN(to_device, ToDevice(ctx, since, ctx.window.end));
  }
  if (!initial && counts_cursor) {
    NEBU_RETURN_IF_ERROR(AddCountChangedRooms(ctx, *counts_cursor, sections));
  }
  if (counts_cursor && *counts_cursor != result.next_batch.position) {
    result.next_batch.push = *counts_cursor;
  }
  if (request.notifications) NEBU_RETURN_IF_ERROR(AddUnreadCounts(ctx, sections));
  NEBU_ASSIGN_OR_RETURN(json::object device_lists, DeviceLists(ctx));
  NEBU_ASSIGN_OR_RETURN(
      json::array presence,
      PresenceEvents(ctx, initial ? 0 : KnownSerial(request.since->presence, presence_serial)));
  json::object otk_counts;
  json::array fallback_types;
  if (!request.device_id.empty()) {
    NEBU_ASSIGN_OR_RETURN(auto counts,
                          e2ee::OneTimeKeyCounts(view, request.user_id, request.device_id));
    otk_counts = CountsObject(counts);
    NEBU_ASSIGN_OR_RETURN(auto types, e2ee::UnusedFallbackKeyTypes(view, request.user_id,
                                                                   request.device_id));
    for (std::string& type : types) fallback_types.emplace_back(std::move(type));
  }
  result.has_updates = !sections.join.empty() || !sections.invite.empty() ||
                       !sections.knock.empty() ||
                       !sections.leave.empty() || !account_data.empty() || !to_device.empty() ||
                       !device_lists.at("changed").as_array().empty() ||
                       !device_lists.at("left").as_array().empty() || !presence.empty();
  result.body = json::object{
      {"next_batch", MakeSyncToken(result.next_batch)},
      {"rooms", json::object{{"join", std::move(sections.join)},
                             {"invite", std::move(sections.invite)},
                             {"leave", std::move(sections.leave)},
                             {"knock", std::move(sections.knock)}}},
      {"account_data", json::object{{"events", std::move(account_data)}}},
      {"presence", json::object{{"events", std::move(presence)}}},
      {"to_device", json::object{{"events", std::move(to_device)}}},
      {"device_lists", std::move(device_lists)},
      {"device_one_time_keys_count", std::move(otk_counts)},
      {"device_unused_fallback_key_types", std::move(fallback_types)}};
  return result;
}

}  // namespace nebu::api
