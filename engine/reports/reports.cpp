#include "engine/reports/reports.h"

#include <boost/json.hpp>

#include "engine/accounts/accounts.h"
#include "engine/event/canonical_json.h"
#include "engine/event/identifiers.h"
#include "engine/rooms/room_state.h"
#include "engine/storage/keys.h"
#include "engine/storage/room_log.h"

namespace nebu::reports {
namespace {

namespace json = boost::json;
using storage::Cf;

constexpr std::string_view kNextIdKey = "n";
constexpr char kReportTag = 'r';

std::string ReportKey(uint64_t id) {
  std::string key(1, kReportTag);
  storage::PutU64(&key, id);
  return key;
}

std::optional<ReportKind> ParseKind(std::string_view name) {
  if (name == "event") return ReportKind::kEvent;
  if (name == "room") return ReportKind::kRoom;
  if (name == "user") return ReportKind::kUser;
  return std::nullopt;
}

std::string StringOr(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

json::object ToJson(const Report& r) {
  json::object o;
  o["kind"] = ReportKindName(r.kind);
  o["reporter"] = r.reporter;
  o["reason"] = r.reason;
  o["received_ts"] = r.received_ts;
  if (r.kind != ReportKind::kUser) o["room_id"] = r.room_id;
  if (r.kind == ReportKind::kEvent) o["event_id"] = r.event_id;
  if (r.kind == ReportKind::kUser) o["user_id"] = r.user_id;
  if (r.id != 0) o["id"] = r.id;
  return o;
}

Result<Report> FromJson(std::string_view text, bool stored) {
  NEBU_ASSIGN_OR_RETURN(json::value v, event::ParseJson(text));
  const json::object* o = v.if_object();
  const StatusCode bad = stored ? StatusCode::kCorruption : StatusCode::kBadJson;
  if (!o) return Status(bad, "report is not an object");
  auto kind = ParseKind(StringOr(*o, "kind"));
  const json::value* ts = o->if_contains("received_ts");
  if (!kind || !ts || !ts->is_int64()) return Status(bad, "report misses kind or received_ts");
  Report r{.kind = *kind,
           .reporter = StringOr(*o, "reporter"),
           .room_id = StringOr(*o, "room_id"),
           .event_id = StringOr(*o, "event_id"),
           .user_id = StringOr(*o, "user_id"),
           .reason = StringOr(*o, "reason"),
           .received_ts = ts->as_int64()};
  if (const json::value* id = o->if_contains("id"); id && id->is_number()) {
    boost::system::error_code ec;
    const auto n = id->to_number<uint64_t>(ec);
    if (!ec) r.id = n;
  }
  return r;
}

Status Validate(const Report& r) {
  if (r.reason.size() > kReportReasonBytesMax) {
    return Status::InvalidArgument("reason is longer than " +
                                   std::to_string(kReportReasonBytesMax) + " bytes");
  }
  if (!event::IsValidUserId(r.reporter)) return Status::InvalidArgument("invalid reporter");
  switch (r.kind) {
    case ReportKind::kEvent:
      if (!event::IsValidEventId(r.event_id)) return Status::InvalidArgument("invalid event ID");
      [[fallthrough]];
    case ReportKind::kRoom:
      if (!event::IsValidRoomId(r.room_id)) return Status::InvalidArgument("invalid room ID");
      return Status::Ok();
    case ReportKind::kUser:
      if (!event::IsValidUserId(r.user_id)) return Status::InvalidArgument("invalid user ID");
      return Status::Ok();
  }
  return Status::Ok();
}

// The room's number, or nullopt when the room is unknown.
Result<std::optional<uint64_t>> RoomNumberOf(storage::Store& store, std::string_view room_id) {
  NEBU_ASSIGN_OR_RETURN(auto bytes, store.Get(Cf::kRooms, storage::RoomIdKey(room_id)));
  if (!bytes) return std::optional<uint64_t>();
  if (bytes->size() != 8) return Status::Corruption("bad room number record");
  return std::optional<uint64_t>(storage::GetU64(bytes->data()));
}

// Whether the report names something real (the header comment's checks).
Result<bool> TargetExists(storage::Store& store, const Report& r) {
  if (r.kind == ReportKind::kUser) return accounts::UserExists(store, r.user_id);
  NEBU_ASSIGN_OR_RETURN(std::optional<uint64_t> room, RoomNumberOf(store, r.room_id));
  if (!room) return false;
  if (r.kind == ReportKind::kRoom) return true;
  storage::RoomLog log(store);
  auto located = log.Locate(r.event_id);
  if (!located.ok()) {
    if (located.status().code() == StatusCode::kNotFound) return false;
    return located.status();
  }
  if (located->first != *room) return false;
  NEBU_ASSIGN_OR_RETURN(auto membership,
                        store.Get(Cf::kMembership, storage::UserRoomKey(r.reporter, *room)));
  return membership && !membership->empty() &&
         static_cast<rooms::Membership>((*membership)[0]) == rooms::Membership::kJoin;
}

// The report ID of a delete command; nullopt for a report (no "delete_report" key).
Result<std::optional<uint64_t>> DeleteIdOf(std::string_view payload) {
  NEBU_ASSIGN_OR_RETURN(json::value v, event::ParseJson(payload));
  const json::object* o = v.if_object();
  if (o == nullptr) return Status::BadJson("report command is not an object");
  const json::value* id = o->if_contains("delete_report");
  if (id == nullptr) return std::optional<uint64_t>();
  if (o->size() != 1 || !id->is_int64() || id->as_int64() <= 0) {
    return Status::BadJson("malformed delete_report command");
  }
  return std::optional<uint64_t>(static_cast<uint64_t>(id->as_int64()));
}

Result<std::string> ApplyDelete(storage::Store& store, rocksdb::WriteBatch& batch, uint64_t id) {
  NEBU_ASSIGN_OR_RETURN(auto bytes, store.Get(Cf::kReports, ReportKey(id)));
  if (!bytes) return Status::NotFound("no such report");
  batch.Delete(store.handle(Cf::kReports), ReportKey(id));
  return std::string(R"({"deleted":true})");
}

}  // namespace

std::string_view ReportKindName(ReportKind kind) {
  switch (kind) {
    case ReportKind::kEvent: return "event";
    case ReportKind::kRoom: return "room";
    case ReportKind::kUser: return "user";
  }
  return "room";
}

Result<std::string> EncodeReportCommand(const Report& report) {
  NEBU_RETURN_IF_ERROR(Validate(report));
  Report copy = report;
  copy.id = 0;
  return event::CanonicalJson(ToJson(copy));
}

std::string EncodeDeleteReportCommand(uint64_t id) {
  return R"({"delete_report":)" + std::to_string(id) + "}";
}

Result<std::string> ApplyReportCommand(storage::Store& store, rocksdb::WriteBatch& batch,
                                       std::string_view payload) {
  NEBU_ASSIGN_OR_RETURN(std::optional<uint64_t> delete_id, DeleteIdOf(payload));
  if (delete_id) return ApplyDelete(store, batch, *delete_id);
  NEBU_ASSIGN_OR_RETURN(Report report, FromJson(payload, /*stored=*/false));
  if (!Validate(report).ok()) return Status::BadJson("report command fails validation");
  NEBU_ASSIGN_OR_RETURN(bool exists, TargetExists(store, report));
  if (!exists) return std::string(R"({"stored":false})");
  NEBU_ASSIGN_OR_RETURN(auto next, store.Get(Cf::kReports, kNextIdKey));
  if (next && next->size() != 8) return Status::Corruption("bad next report id");
  report.id = next ? storage::GetU64(next->data()) : 1;
  NEBU_ASSIGN_OR_RETURN(std::string record, event::CanonicalJson(ToJson(report)));
  batch.Put(store.handle(Cf::kReports), ReportKey(report.id), record);
  batch.Put(store.handle(Cf::kReports), kNextIdKey, storage::U64Key(report.id + 1));
  return R"({"report_id":)" + std::to_string(report.id) + R"(,"stored":true})";
}

Status ForEachReport(const storage::ReadView& view, uint64_t after_id, size_t limit,
                     const ReportVisitor& visit) {
  if (after_id == UINT64_MAX) return Status::Ok();
  const std::string prefix(1, kReportTag);
  auto it = view.NewIterator(Cf::kReports);
  size_t visited = 0;
  for (it->Seek(ReportKey(after_id + 1)); it->Valid() && it->key().starts_with(prefix) &&
                                          visited < limit;
       it->Next(), ++visited) {
    NEBU_ASSIGN_OR_RETURN(Report report, FromJson(it->value().ToStringView(), /*stored=*/true));
    NEBU_RETURN_IF_ERROR(visit(report));
  }
  return storage::FromRocks(it->status());
}

Result<std::optional<Report>> GetReport(const storage::ReadView& view, uint64_t id) {
  NEBU_ASSIGN_OR_RETURN(auto bytes, view.Get(Cf::kReports, ReportKey(id)));
  if (!bytes) return std::optional<Report>();
  NEBU_ASSIGN_OR_RETURN(Report report, FromJson(*bytes, /*stored=*/true));
  return std::optional<Report>(std::move(report));
}

}  // namespace nebu::reports
