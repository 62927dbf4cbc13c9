// Media administration under /_synapse/admin (Synapse's media admin API and the
// user media routes of its user admin API), over engine/media's records:
//
//   GET    /_synapse/admin/v1/users/{userId}/media   from, limit, order_by, dir
//   DELETE /_synapse/admin/v1/users/{userId}/media   the same page, soft-deleted
//   POST   /_synapse/admin/v1/media/quarantine/{serverName}/{mediaId}     {}
//   POST   /_synapse/admin/v1/media/unquarantine/{serverName}/{mediaId}   {}
//   GET    /_synapse/admin/v1/room/{roomId}/media   {"local": [mxc URIs], "remote": []}
//   POST   /_synapse/admin/v1/room/{roomId}/media/quarantine   {"num_quarantined": n}
//   DELETE /_synapse/admin/v1/media/{serverName}/{mediaId}  {"deleted_media": [id], "total": 1}
//   POST   /_synapse/admin/v1/media/delete?before_ts=&size_gt=&keep_profiles=
//
// Quarantined and deleted media answer 404 on download and thumbnail (api/media).
// Deletion is soft (the record is marked, the bytes stay in the content store, which
// is addressed by hash and may share them). nebu keeps no remote media: another
// server's name answers 404 (quarantine) or 400 (delete, as Synapse). What nebu does
// not record is answered as Synapse's "unknown": last_access_ts null, safe_from_
// quarantine false; quarantined_by is the server name for quarantined media (who did
// it is in the audit log). before_ts compares with the upload time (nebu records no
// access time); keep_profiles keeps media that is its uploader's current avatar.
#include <algorithm>
#include <boost/json.hpp>
#include <mutex>
#include <variant>

#include "api/admin/admin_common.h"
#include "api/errors.h"
#include "engine/accounts/accounts.h"
#include "engine/core/engine.h"
#include "engine/core/room_reads.h"
#include "engine/event/identifiers.h"
#include "engine/media/media.h"

namespace nebu::api::admin_internal {
namespace {

namespace json = boost::json;

// The most media records of one user a list or delete looks at (sorted in memory).
constexpr size_t kUserMediaScanMax = 100'000;
// The most events of a room scanned for mxc:// URIs by a room quarantine.
constexpr size_t kRoomMediaScanEventsMax = 100'000;
// The most media one request changes (delete or quarantine commands); past it the
// answer lists what was done and the caller repeats.
constexpr size_t kMediaChangesPerRequestMax = 1'000;

json::object MediaJson(const Context& context, const media::MediaRecord& r) {
  return json::object{
      {"media_id", r.media_id},
      {"media_type", r.content_type},
      {"media_length", static_cast<int64_t>(r.size)},
      {"upload_name", r.file_name.empty() ? json::value(nullptr) : json::value(r.file_name)},
      {"created_ts", r.created_ts},
      {"last_access_ts", nullptr},
      {"quarantined_by", r.quarantined ? json::value(context.server_name()) : nullptr},
      {"safe_from_quarantine", false}};
}

// The user's complete, not deleted media (pending reservations are not media yet).
Result<std::vector<media::MediaRecord>> UserMedia(Context* context, const std::string& user_id) {
  std::vector<media::MediaRecord> out;
  Status s = media::ForEachUserMedia(context->engine.Read(), user_id, "", kUserMediaScanMax,
                                     [&](const media::MediaRecord& r) {
                                       if (!r.pending && !r.deleted) out.push_back(r);
                                       return Status::Ok();
                                     });
  if (!s.ok()) return s;
  return out;
}

// Sorts by Synapse's order_by (media_id breaks ties), backwards for dir=b.
void SortMedia(std::vector<media::MediaRecord>* list, const std::string& order_by,
               bool backwards) {
  auto key = [&order_by](const media::MediaRecord& r) -> std::variant<int64_t, std::string> {
    if (order_by == "media_id") return r.media_id;
    if (order_by == "upload_name") return r.file_name;
    if (order_by == "media_type") return r.content_type;
    if (order_by == "media_length") return static_cast<int64_t>(r.size);
    if (order_by == "quarantined_by") return static_cast<int64_t>(r.quarantined);
    if (order_by == "last_access_ts" || order_by == "safe_from_quarantine") return int64_t{0};
    return r.created_ts;
  };
  std::stable_sort(list->begin(), list->end(),
                   [&](const media::MediaRecord& a, const media::MediaRecord& b) {
                     auto ka = key(a), kb = key(b);
                     if (ka != kb) return backwards ? kb < ka : ka < kb;
                     return backwards ? b.media_id < a.media_id : a.media_id < b.media_id;
                   });
}

struct MediaPage {
  std::vector<media::MediaRecord> items;
  int64_t total = 0;
  int64_t next = -1;  // next_token, or -1
};

// The page the query names, or an answer (400 for bad parameters, 404 for no user).
std::variant<MediaPage, Response> SelectUserMedia(Context* context, const Call& call) {
  const std::string& user_id = call.params.at("userId");
  if (auto bad = CheckLocalUser(*context, user_id)) return *bad;
  Result<bool> exists = accounts::UserExists(context->engine.Read(), user_id);
  if (!exists.ok()) return ErrorResponse(exists.status());
  if (!*exists) return ErrorResponse(404, "M_NOT_FOUND", "Unknown user");
  Response error;
  auto from = QueryInt(call.request, "from", 0, 0, &error);
  auto limit = QueryInt(call.request, "limit", kAdminPageDefault, 0, &error);
  if (!from || !limit) return error;
  static constexpr std::string_view kOrders[] = {
      "media_id", "upload_name", "created_ts", "last_access_ts", "media_length",
      "media_type", "quarantined_by", "safe_from_quarantine"};
  std::string order_by = "created_ts";
  bool backwards = false;
  if (auto bad = ParseListOrder(call.request, kOrders, &order_by, &backwards)) return *bad;
  Result<std::vector<media::MediaRecord>> all = UserMedia(context, user_id);
  if (!all.ok()) return ErrorResponse(all.status());
  SortMedia(&*all, order_by, backwards);
  MediaPage page;
  page.total = static_cast<int64_t>(all->size());
  const int64_t count = std::min(*limit, kAdminPageMax);
  for (int64_t i = *from; i < page.total && i < *from + count; ++i) {
    page.items.push_back(std::move((*all)[static_cast<size_t>(i)]));
  }
  const int64_t end = *from + static_cast<int64_t>(page.items.size());
  if (end < page.total) page.next = end;
  return page;
}

void ListUserMedia(Context* context, const Call& call, Finish finish) {
  auto selected = SelectUserMedia(context, call);
  if (auto* error = std::get_if<Response>(&selected)) return finish(std::move(*error));
  const MediaPage& page = std::get<MediaPage>(selected);
  json::array list;
  for (const media::MediaRecord& r : page.items) list.push_back(MediaJson(*context, r));
  json::object body{{"media", std::move(list)}, {"total", page.total}};
  if (page.next >= 0) body["next_token"] = page.next;
  finish(JsonResponse(200, body));
}

// Submits one kMedia command per ID (at most kMediaChangesPerRequestMax) and calls
// done with the IDs whose command succeeded (in the given order), or the first error
// other than kNotFound.
void SubmitMediaOps(Context* context, media::MediaOp op, bool value,
                    std::vector<std::string> ids,
                    std::function<void(std::vector<std::string> done, Status error)> done) {
  if (ids.size() > kMediaChangesPerRequestMax) ids.resize(kMediaChangesPerRequestMax);
  if (ids.empty()) return done({}, Status::Ok());
  struct Shared {
    std::mutex mutex;
    std::vector<std::string> ids;
    std::vector<char> ok;
    Status error = Status::Ok();
    size_t left = 0;
    std::function<void(std::vector<std::string>, Status)> done;
  };
  auto shared = std::make_shared<Shared>();
  shared->ids = std::move(ids);
  shared->ok.assign(shared->ids.size(), 0);
  shared->left = shared->ids.size();
  shared->done = std::move(done);
  auto finish_one = [shared](size_t i, const Status& status) {
    std::unique_lock lock(shared->mutex);
    if (status.ok()) {
      shared->ok[i] = 1;
    } else if (status.code() != StatusCode::kNotFound && shared->error.ok()) {
      shared->error = status;
    }
    if (--shared->left > 0) return;
    std::vector<std::string> changed;
    for (size_t j = 0; j < shared->ids.size(); ++j) {
      if (shared->ok[j]) changed.push_back(shared->ids[j]);
    }
    lock.unlock();
    shared->done(std::move(changed), shared->error);
  };
  for (size_t i = 0; i < shared->ids.size(); ++i) {
    Result<std::string> payload = media::EncodeMediaCommand(
        {.op = op, .media_id = shared->ids[i], .value = value});
    if (!payload.ok()) {
      finish_one(i, payload.status());
      continue;
    }
    context->engine.SubmitAsync({core::CommandKind::kMedia, *payload},
                                [finish_one, i](core::ApplyOutcome outcome) {
                                  finish_one(i, outcome.ok() ? Status::Ok() : outcome.status());
                                });
  }
}

Response DeletedAnswer(std::vector<std::string> ids) {
  json::array list;
  for (std::string& id : ids) list.push_back(json::value(std::move(id)));
  const auto total = static_cast<int64_t>(list.size());
  return JsonResponse(200, json::object{{"deleted_media", std::move(list)}, {"total", total}});
}

void DeleteUserMedia(Context* context, const Call& call, Finish finish) {
  auto selected = SelectUserMedia(context, call);
  if (auto* error = std::get_if<Response>(&selected)) return finish(std::move(*error));
  std::vector<std::string> ids;
  for (const media::MediaRecord& r : std::get<MediaPage>(selected).items) ids.push_back(r.media_id);
  SubmitMediaOps(context, media::MediaOp::kDelete, false, std::move(ids),
                 [finish](std::vector<std::string> done, Status error) {
                   if (!error.ok()) return finish(ErrorResponse(error));
                   finish(DeletedAnswer(std::move(done)));
                 });
}

// The local media the path names: 404 for another server, a malformed or unknown ID.
std::variant<media::MediaRecord, Response> PathMedia(Context* context, const Call& call) {
  const Response not_found = ErrorResponse(404, "M_NOT_FOUND", "Media not found");
  const std::string& media_id = call.params.at("mediaId");
  if (call.params.at("serverName") != context->server_name() || !media::IsValidMediaId(media_id)) {
    return not_found;
  }
  auto record = media::GetMedia(context->engine.Read(), media_id);
  if (!record.ok()) return ErrorResponse(record.status());
  if (!*record || (*record)->pending) return not_found;
  return **record;
}

void SetQuarantine(Context* context, const Call& call, Finish finish, bool value) {
  auto found = PathMedia(context, call);
  if (auto* error = std::get_if<Response>(&found)) return finish(std::move(*error));
  SubmitMediaOps(context, media::MediaOp::kQuarantine, value,
                 {std::get<media::MediaRecord>(found).media_id},
                 [finish](std::vector<std::string>, Status error) {
                   if (!error.ok()) return finish(ErrorResponse(error));
                   finish(JsonResponse(200, json::object{}));
                 });
}

void DeleteOne(Context* context, const Call& call, Finish finish) {
  if (call.params.at("serverName") != context->server_name()) {
    return finish(ErrorResponse(400, "M_INVALID_PARAM", "Can only delete local media"));
  }
  auto found = PathMedia(context, call);
  if (auto* error = std::get_if<Response>(&found)) return finish(std::move(*error));
  const media::MediaRecord& r = std::get<media::MediaRecord>(found);
  if (r.deleted) return finish(ErrorResponse(404, "M_NOT_FOUND", "Media not found"));
  SubmitMediaOps(context, media::MediaOp::kDelete, false, {r.media_id},
                 [finish](std::vector<std::string> done, Status error) {
                   if (!error.ok()) return finish(ErrorResponse(error));
                   finish(DeletedAnswer(std::move(done)));
                 });
}

// Every local media ID named by an mxc:// URI in a string of `v` (at any depth).
void CollectMxc(const json::value& v, const std::string& prefix, std::vector<std::string>* out) {
  if (v.is_string()) {
    std::string_view s = v.as_string();
    if (s.starts_with(prefix)) {
      std::string_view id = s.substr(prefix.size());
      if (media::IsValidMediaId(id)) out->emplace_back(id);
    }
  } else if (v.is_array()) {
    for (const json::value& item : v.as_array()) CollectMxc(item, prefix, out);
  } else if (v.is_object()) {
    for (const auto& [key, item] : v.as_object()) CollectMxc(item, prefix, out);
  }
}

// The local media IDs the room's events name (sorted, unique), or the error answer.
std::variant<std::vector<std::string>, Response> RoomMediaIds(Context* context,
                                                              const std::string& room_id) {
  if (!event::IsValidRoomId(room_id)) {
    return ErrorResponse(400, "M_INVALID_PARAM", "Not a valid room ID");
  }
  const std::string prefix = "mxc://" + context->server_name() + "/";
  std::vector<std::string> ids;
  Status scanned = core::ScanRoom(
      context->engine.Read(), room_id, 1, UINT64_MAX, kRoomMediaScanEventsMax, [&](const storage::EventView& e) {
        boost::system::error_code ec;
        json::value event = json::parse(e.json, ec);
        if (!ec && event.is_object()) {
          if (const json::value* content = event.as_object().if_contains("content")) {
            CollectMxc(*content, prefix, &ids);
          }
        }
        return true;
      });
  if (!scanned.ok()) {
    if (scanned.code() == StatusCode::kNotFound) {
      return ErrorResponse(404, "M_NOT_FOUND", "Unknown room");
    }
    return ErrorResponse(scanned);
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

// GET /_synapse/admin/v1/room/{roomId}/media: Synapse's {"local": [mxc URIs], "remote": []}
// (every nebu user is local, so remote is always empty).
void ListRoomMedia(Context* context, const Call& call, Finish finish) {
  auto found = RoomMediaIds(context, call.params.at("roomId"));
  if (auto* error = std::get_if<Response>(&found)) return finish(std::move(*error));
  json::array local;
  for (const std::string& id : std::get<std::vector<std::string>>(found)) {
    local.emplace_back("mxc://" + context->server_name() + "/" + id);
  }
  finish(JsonResponse(200, json::object{{"local", std::move(local)}, {"remote", json::array{}}}));
}

void QuarantineRoomMedia(Context* context, const Call& call, Finish finish) {
  auto found = RoomMediaIds(context, call.params.at("roomId"));
  if (auto* error = std::get_if<Response>(&found)) return finish(std::move(*error));
  std::vector<std::string> ids = std::move(std::get<std::vector<std::string>>(found));
  // Only media not quarantined yet is counted (and changed), as Synapse counts.
  std::vector<std::string> fresh;
  for (std::string& id : ids) {
    auto record = media::GetMedia(context->engine.Read(), id);
    if (record.ok() && *record && !(*record)->pending && !(*record)->quarantined) {
      fresh.push_back(std::move(id));
    }
  }
  SubmitMediaOps(context, media::MediaOp::kQuarantine, true, std::move(fresh),
                 [finish](std::vector<std::string> done, Status error) {
                   if (!error.ok()) return finish(ErrorResponse(error));
                   finish(JsonResponse(
                       200, json::object{{"num_quarantined", static_cast<int64_t>(done.size())}}));
                 });
}

void DeleteOldMedia(Context* context, const Call& call, Finish finish) {
  if (!call.request.Query("before_ts")) {
    return finish(ErrorResponse(400, "M_MISSING_PARAM", "Missing integer query parameter 'before_ts'"));
  }
  Response error;
  auto before = QueryInt(call.request, "before_ts", 0, 0, &error);
  auto size_gt = QueryInt(call.request, "size_gt", 0, 0, &error);
  if (!before || !size_gt) return finish(std::move(error));
  std::optional<bool> keep = QueryBool(call.request, "keep_profiles", &error);
  if (!keep && call.request.Query("keep_profiles")) return finish(std::move(error));
  const bool keep_profiles = keep.value_or(true);
  const auto view = context->engine.Read();
  std::vector<std::string> ids;
  Status scanned = media::ForEachMedia(view, [&](const media::MediaRecord& r) {
    if (ids.size() >= kMediaChangesPerRequestMax) return Status::Ok();
    if (r.pending || r.deleted || r.created_ts >= *before ||
        static_cast<int64_t>(r.size) <= *size_gt) {
      return Status::Ok();
    }
    if (keep_profiles) {
      Result<accounts::Profile> profile = accounts::GetProfile(view, r.user_id);
      if (profile.ok() && profile->avatar_url ==
                              "mxc://" + context->server_name() + "/" + r.media_id) {
        return Status::Ok();
      }
    }
    ids.push_back(r.media_id);
    return Status::Ok();
  });
  if (!scanned.ok()) return finish(ErrorResponse(scanned));
  SubmitMediaOps(context, media::MediaOp::kDelete, false, std::move(ids),
                 [finish](std::vector<std::string> done, Status status) {
                   if (!status.ok()) return finish(ErrorResponse(status));
                   finish(DeletedAnswer(std::move(done)));
                 });
}

}  // namespace

void AddMediaAdminRoutes(Router& router, const ContextPtr& context) {
  constexpr auto kAdmin = Surface::kAdmin;
  const std::string v1 = "/_synapse/admin/v1";
  AddRoute(router, context, "GET", v1 + "/users/{userId}/media", "users.media.list", kAdmin,
           ListUserMedia);
  AddRoute(router, context, "DELETE", v1 + "/users/{userId}/media", "users.media.delete", kAdmin,
           DeleteUserMedia);
  AddRoute(router, context, "POST", v1 + "/media/quarantine/{serverName}/{mediaId}",
           "media.quarantine", kAdmin,
           [](Context* c, const Call& call, Finish f) { SetQuarantine(c, call, std::move(f), true); });
  AddRoute(router, context, "POST", v1 + "/media/unquarantine/{serverName}/{mediaId}",
           "media.unquarantine", kAdmin,
           [](Context* c, const Call& call, Finish f) { SetQuarantine(c, call, std::move(f), false); });
  AddRoute(router, context, "GET", v1 + "/room/{roomId}/media", "room.media.list", kAdmin,
           ListRoomMedia);
  AddRoute(router, context, "POST", v1 + "/room/{roomId}/media/quarantine", "room.media.quarantine",
           kAdmin, QuarantineRoomMedia);
  AddRoute(router, context, "DELETE", v1 + "/media/{serverName}/{mediaId}", "media.delete", kAdmin,
           DeleteOne);
  AddRoute(router, context, "POST", v1 + "/media/delete", "media.delete_old", kAdmin,
           DeleteOldMedia);
}

}  // namespace nebu::api::admin_internal
