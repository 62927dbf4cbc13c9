// The key backup endpoints of api/keys/backup_routes.h.
#include "api/keys/backup_routes.h"

#include <algorithm>
#include <boost/json.hpp>
#include <memory>
#include <optional>
#include <tuple>
#include <vector>
#include <string>
#include <utility>

#include "api/auth.h"
#include "api/errors.h"
#include "api/keys/keys_common.h"
#include "engine/core/command.h"
#include "engine/core/engine.h"
#include "engine/e2ee/backup.h"
#include "engine/event/canonical_json.h"
#include "engine/event/identifiers.h"

namespace nebu::api {
namespace {

namespace json = boost::json;
using keys_internal::AddAsyncRoute;
using keys_internal::AddRoute;

constexpr std::string_view kUnknownVersion = "Unknown backup version";

Response NotFound(std::string_view message) { return ErrorResponse(404, "M_NOT_FOUND", message); }

Response WrongVersion(std::string_view current) {
  return JsonResponse(403, json::object{{"errcode", "M_WRONG_ROOM_KEYS_VERSION"},
                                        {"error", "Wrong backup version."},
                                        {"current_version", current}});
}

// Proposes the command; respond gets answer(outcome object) or the mapped error.
void Submit(core::Engine& engine, const e2ee::BackupCommand& command, Respond respond,
            std::function<Response(json::object)> answer) {
  Result<std::string> payload = e2ee::EncodeBackupCommand(command);
  if (!payload.ok()) return respond(ErrorResponse(payload.status()));
  if (payload->size() > core::kCommandBytesMax) {
    return respond(ErrorResponse(413, "M_TOO_LARGE", "Request is too large"));
  }
  engine.SubmitAsync({.kind = core::CommandKind::kKeyBackup, .payload = std::move(*payload)},
                     [respond, answer = std::move(answer)](core::ApplyOutcome outcome) {
                       if (!outcome.ok()) return respond(ErrorResponse(outcome.status()));
                       Result<json::value> v = event::ParseJson(*outcome);
                       if (!v.ok() || !v->is_object()) {
                         return respond(ErrorResponse(Status::Internal("bad backup outcome")));
                       }
                       respond(answer(std::move(v->as_object())));
                     });
}

Response Echo(json::object out) { return JsonResponse(200, out); }

json::object VersionJson(const e2ee::BackupVersionInfo& info) {
  return json::object{{"algorithm", info.algorithm},
                      {"auth_data", info.auth_data},
                      {"count", static_cast<int64_t>(info.count)},
                      {"etag", std::to_string(info.etag)},
                      {"version", std::to_string(info.version)}};
}

// algorithm (a string) and auth_data (an object) of a version body.
std::optional<Response> ReadVersionBody(const json::object& body, std::string* algorithm,
                                        json::object* auth_data) {
  const json::value* a = body.if_contains("algorithm");
  const json::value* d = body.if_contains("auth_data");
  if (a == nullptr || d == nullptr) {
    return ErrorResponse(400, "M_MISSING_PARAM", "algorithm and auth_data are required");
  }
  if (!a->is_string()) return BadJsonResponse("algorithm must be a string");
  if (!d->is_object()) return BadJsonResponse("auth_data must be an object");
  *algorithm = std::string(a->as_string());
  *auth_data = d->as_object();
  return std::nullopt;
}

// ---- versions ----

void CreateVersion(core::Engine& engine, const Request& request, Respond respond) {
  auto caller = Authenticate(request, engine);
  if (auto* error = std::get_if<Response>(&caller)) return respond(std::move(*error));
  auto body = ParseJsonBody(request);
  if (auto* error = std::get_if<Response>(&body)) return respond(std::move(*error));
  e2ee::CreateBackupVersion command{.user_id = std::get<Caller>(caller).user_id};
  if (auto error =
          ReadVersionBody(std::get<json::object>(body), &command.algorithm, &command.auth_data)) {
    return respond(std::move(*error));
  }
  Submit(engine, command, std::move(respond), Echo);
}

Response GetVersion(core::Engine& engine, const Request& request,
                    std::optional<std::string_view> version_text) {
  auto caller = Authenticate(request, engine);
  if (auto* error = std::get_if<Response>(&caller)) return *error;
  std::optional<uint64_t> version;
  if (version_text) {
    version = e2ee::ParseBackupVersion(*version_text);
    if (!version) return NotFound(kUnknownVersion);
  }
  auto info = e2ee::GetBackupVersion(engine.Read(), std::get<Caller>(caller).user_id, version);
  if (!info.ok()) return ErrorResponse(info.status());
  if (!*info) return NotFound(version ? kUnknownVersion : "No current backup version");
  return JsonResponse(200, VersionJson(**info));
}

void UpdateVersion(core::Engine& engine, const Request& request, const PathParams& params,
                   Respond respond) {
  auto caller = Authenticate(request, engine);
  if (auto* error = std::get_if<Response>(&caller)) return respond(std::move(*error));
  auto body = ParseJsonBody(request);
  if (auto* error = std::get_if<Response>(&body)) return respond(std::move(*error));
  const json::object& o = std::get<json::object>(body);
  const std::string& path_version = params.at("version");
  if (const json::value* v = o.if_contains("version")) {
    if (!v->is_string() || v->as_string() != path_version) {
      return respond(ErrorResponse(400, "M_INVALID_PARAM",
                                   "version in the body does not match the version in the path"));
    }
  }
  auto version = e2ee::ParseBackupVersion(path_version);
  if (!version) return respond(NotFound(kUnknownVersion));
  e2ee::UpdateBackupVersion command{.user_id = std::get<Caller>(caller).user_id,
                                    .version = *version};
  if (auto error = ReadVersionBody(o, &command.algorithm, &command.auth_data)) {
    return respond(std::move(*error));
  }
  Submit(engine, command, std::move(respond), Echo);
}

void DeleteVersion(core::Engine& engine, const Request& request, const PathParams& params,
                   Respond respond) {
  auto caller = Authenticate(request, engine);
  if (auto* error = std::get_if<Response>(&caller)) return respond(std::move(*error));
  auto version = e2ee::ParseBackupVersion(params.at("version"));
  if (!version) return respond(NotFound(kUnknownVersion));
  Submit(
      engine,
      e2ee::DeleteBackupVersion{.user_id = std::get<Caller>(caller).user_id, .version = *version},
      std::move(respond), Echo);
}

// ---- keys ----

// Which keys a keys route names: all, a room's, or one session's.
struct KeysTarget {
  std::optional<std::string> room_id;
  std::optional<std::string> session_id;
};

KeysTarget TargetOf(const PathParams& params) {
  KeysTarget target;
  if (auto room = params.find("roomId"); room != params.end()) target.room_id = room->second;
  if (auto session = params.find("sessionId"); session != params.end()) {
    target.session_id = session->second;
  }
  return target;
}

// The caller, the parsed ?version= (nullopt when it is no version number) and a
// checked target; or the error response.
struct KeysRequest {
  Caller caller;
  std::optional<uint64_t> version;
  KeysTarget target;
};
std::variant<KeysRequest, Response> ReadKeysRequest(core::Engine& engine, const Request& request,
                                                    const PathParams& params) {
  auto caller = Authenticate(request, engine);
  if (auto* error = std::get_if<Response>(&caller)) return std::move(*error);
  KeysRequest out{.caller = std::move(std::get<Caller>(caller)), .target = TargetOf(params)};
  auto version_text = request.Query("version");
  if (!version_text) return ErrorResponse(400, "M_MISSING_PARAM", "version is required");
  out.version = e2ee::ParseBackupVersion(*version_text);
  if (out.target.room_id && !event::IsValidRoomId(*out.target.room_id)) {
    return ErrorResponse(400, "M_INVALID_PARAM", "Bad room ID");
  }
  if (out.target.session_id &&
      (out.target.session_id->empty() || out.target.session_id->size() > e2ee::kBackupIdBytesMax)) {
    return ErrorResponse(400, "M_INVALID_PARAM", "Bad session ID");
  }
  return out;
}

Response GetKeys(core::Engine& engine, const Request& request, const PathParams& params) {
  auto read = ReadKeysRequest(engine, request, params);
  if (auto* error = std::get_if<Response>(&read)) return *error;
  const KeysRequest& r = std::get<KeysRequest>(read);
  if (!r.version) return NotFound(kUnknownVersion);
  const core::Snapshot view = engine.Read();
  auto info = e2ee::GetBackupVersion(view, r.caller.user_id, *r.version);
  if (!info.ok()) return ErrorResponse(info.status());
  if (!*info) return NotFound(kUnknownVersion);
  if (r.target.session_id) {
    auto key = e2ee::GetBackupKey(view, r.caller.user_id, *r.version, *r.target.room_id,
                                  *r.target.session_id);
    if (!key.ok()) return ErrorResponse(key.status());
    if (!*key) return NotFound("Key not found.");
    return JsonResponse(200, e2ee::BackupKeyDataJson(**key));
  }
  std::optional<std::string_view> room;
  if (r.target.room_id) room = *r.target.room_id;
  // Text straight from the stored key data, bounded (the spec has no paging here).
  Result<std::string> answer = e2ee::BackupKeysAnswer(view, r.caller.user_id, *r.version, room,
                                                      e2ee::kBackupKeysAnswerBytesMax);
  if (!answer.ok()) return ErrorResponse(answer.status());
  Response response;
  response.headers.Set("Content-Type", "application/json");
  response.body = std::move(*answer);
  return response;
}

// The sessions of one room's body {"sessions": {session: data}} into *out.
std::optional<Response> ReadSessions(const json::value& room, const std::string& room_id,
                                     std::vector<e2ee::BackupKeyEntry>* out) {
  const json::value* sessions =
      room.is_object() ? room.as_object().if_contains("sessions") : nullptr;
  if (sessions == nullptr || !sessions->is_object()) {
    return BadJsonResponse("a room must be an object with a sessions object");
  }
  for (const auto& [session_id, data] : sessions->as_object()) {
    if (out->size() >= e2ee::kBackupSessionsPerPutMax) {
      return ErrorResponse(413, "M_TOO_LARGE", "Too many keys in one upload");
    }
    Result<e2ee::BackupKeyData> parsed = e2ee::ParseBackupKeyData(data);
    if (!parsed.ok()) return ErrorResponse(parsed.status());
    out->push_back({room_id, std::string(session_id), std::move(*parsed)});
  }
  return std::nullopt;
}

// The keys a PUT body carries, at the level of the route.
std::optional<Response> ReadPutBody(const json::object& body, const KeysTarget& target,
                                    std::vector<e2ee::BackupKeyEntry>* out) {
  if (target.session_id) {
    Result<e2ee::BackupKeyData> parsed = e2ee::ParseBackupKeyData(body);
    if (!parsed.ok()) return ErrorResponse(parsed.status());
    out->push_back({*target.room_id, *target.session_id, std::move(*parsed)});
    return std::nullopt;
  }
  if (target.room_id) return ReadSessions(body, *target.room_id, out);
  const json::value* rooms = body.if_contains("rooms");
  if (rooms == nullptr || !rooms->is_object()) return BadJsonResponse("rooms must be an object");
  for (const auto& [room_id, room] : rooms->as_object()) {
    if (!event::IsValidRoomId(room_id)) return ErrorResponse(400, "M_INVALID_PARAM", "Bad room ID");
    if (auto error = ReadSessions(room, std::string(room_id), out)) return error;
  }
  return std::nullopt;
}

// An upload whose command would exceed core::kCommandBytesMax is split into several
// put_keys commands of whole keys, in (room, session) order, proposed one after the
// other. Splitting keeps the spec's meaning: the replacement rule decides each key
// alone, so the result is the same as one command's. What differs: an upload failing
// part way (a quota, a version deleted meanwhile) keeps its earlier parts, which a
// retry of the same upload leaves unchanged (an equal key changes nothing).
Status SplitPutKeys(e2ee::PutBackupKeys command, std::vector<std::string>* parts) {
  Result<std::string> payload = e2ee::EncodeBackupCommand(command);
  if (!payload.ok()) return payload.status();
  if (payload->size() <= core::kCommandBytesMax) {
    parts->push_back(std::move(*payload));
    return Status::Ok();
  }
  if (command.keys.size() < 2) return Status::TooLarge("one key exceeds the command limit");
  std::sort(command.keys.begin(), command.keys.end(), [](const auto& a, const auto& b) {
    return std::tie(a.room_id, a.session_id) < std::tie(b.room_id, b.session_id);
  });
  e2ee::PutBackupKeys second{.user_id = command.user_id, .version = command.version};
  const auto half = command.keys.begin() + static_cast<std::ptrdiff_t>(command.keys.size() / 2);
  second.keys.assign(std::make_move_iterator(half), std::make_move_iterator(command.keys.end()));
  command.keys.erase(half, command.keys.end());
  NEBU_RETURN_IF_ERROR(SplitPutKeys(std::move(command), parts));
  return SplitPutKeys(std::move(second), parts);
}

Response CountAndEtag(json::object out);

// Proposes parts[i], then the next once it is applied; answers the last part's
// {count, etag}, or the first refusal (an earlier part stays applied).
void SubmitParts(core::Engine& engine, std::shared_ptr<std::vector<std::string>> parts, size_t i,
                 Respond respond) {
  std::string payload = (*parts)[i];
  engine.SubmitAsync(
      {.kind = core::CommandKind::kKeyBackup, .payload = std::move(payload)},
      [&engine, parts, i, respond = std::move(respond)](core::ApplyOutcome outcome) {
        if (!outcome.ok()) return respond(ErrorResponse(outcome.status()));
        Result<json::value> v = event::ParseJson(*outcome);
        if (!v.ok() || !v->is_object()) {
          return respond(ErrorResponse(Status::Internal("bad backup outcome")));
        }
        if (i + 1 == parts->size() || v->as_object().contains("wrong_version")) {
          return respond(CountAndEtag(std::move(v->as_object())));
        }
        SubmitParts(engine, parts, i + 1, respond);
      });
}

Response CountAndEtag(json::object out) {
  if (out.contains("wrong_version")) return WrongVersion(out.at("current_version").as_string());
  return JsonResponse(200, out);
}

// A version that is no number: 403 with the current version when there is one.
Response UnparsedUploadVersion(core::Engine& engine, const std::string& user_id) {
  auto current = e2ee::GetBackupVersion(engine.Read(), user_id, std::nullopt);
  if (!current.ok()) return ErrorResponse(current.status());
  if (!*current) return NotFound(kUnknownVersion);
  return WrongVersion(std::to_string((*current)->version));
}

// ParseJsonBody with the keys body bound (kBackupKeysBodyBytesMax) in place of the JSON
// parser's default event::kJsonInputBytesMax (1 MiB); its answers for bad bodies.
std::variant<json::object, Response> ParseKeysBody(const Request& request) {
  Result<json::value> parsed =
      event::ParseJson(request.body, {.bytes_max = kBackupKeysBodyBytesMax});
  if (parsed.ok() && parsed->is_object()) return std::move(parsed->as_object());
  if (request.body.size() <= event::kJsonInputBytesMax) return ParseJsonBody(request);
  if (!parsed.ok() && parsed.status().code() == StatusCode::kNotJson) {
    return ErrorResponse(400, "M_NOT_JSON", "Content not JSON");
  }
  return BadJsonResponse(parsed.ok() ? "Body is not a JSON object" : parsed.status().message());
}

void PutKeys(core::Engine& engine, const Request& request, const PathParams& params,
             Respond respond) {
  auto read = ReadKeysRequest(engine, request, params);
  if (auto* error = std::get_if<Response>(&read)) return respond(std::move(*error));
  const KeysRequest& r = std::get<KeysRequest>(read);
  auto body = ParseKeysBody(request);
  if (auto* error = std::get_if<Response>(&body)) return respond(std::move(*error));
  e2ee::PutBackupKeys command{.user_id = r.caller.user_id};
  if (auto error = ReadPutBody(std::get<json::object>(body), r.target, &command.keys)) {
    return respond(std::move(*error));
  }
  if (!r.version) return respond(UnparsedUploadVersion(engine, r.caller.user_id));
  command.version = *r.version;
  std::vector<std::string> parts;
  if (Status split = SplitPutKeys(std::move(command), &parts); !split.ok()) {
    return respond(ErrorResponse(split));
  }
  SubmitParts(engine, std::make_shared<std::vector<std::string>>(std::move(parts)), 0,
              std::move(respond));
}

void DeleteKeys(core::Engine& engine, const Request& request, const PathParams& params,
                Respond respond) {
  auto read = ReadKeysRequest(engine, request, params);
  if (auto* error = std::get_if<Response>(&read)) return respond(std::move(*error));
  const KeysRequest& r = std::get<KeysRequest>(read);
  if (!r.version) return respond(NotFound(kUnknownVersion));
  Submit(engine,
         e2ee::DeleteBackupKeys{.user_id = r.caller.user_id,
                                .version = *r.version,
                                .room_id = r.target.room_id,
                                .session_id = r.target.session_id},
         std::move(respond), Echo);
}

}  // namespace

void AddBackupRoutes(Router& router, core::Engine& engine) {
  core::Engine* e = &engine;
  AddAsyncRoute(
      router, "POST", "/room_keys/version",
      [e](const Request& r, const PathParams&, Respond respond) {
        CreateVersion(*e, r, std::move(respond));
      },
      kBackupBodyBytesMax);
  AddRoute(router, "GET", "/room_keys/version",
           [e](const Request& r, const PathParams&) { return GetVersion(*e, r, std::nullopt); });
  AddRoute(router, "GET", "/room_keys/version/{version}",
           [e](const Request& r, const PathParams& p) {
             return GetVersion(*e, r, std::string_view(p.at("version")));
           });
  AddAsyncRoute(
      router, "PUT", "/room_keys/version/{version}",
      [e](const Request& r, const PathParams& p, Respond respond) {
        UpdateVersion(*e, r, p, std::move(respond));
      },
      kBackupBodyBytesMax);
  AddAsyncRoute(router, "DELETE", "/room_keys/version/{version}",
                [e](const Request& r, const PathParams& p, Respond respond) {
                  DeleteVersion(*e, r, p, std::move(respond));
                });
  for (std::string_view suffix :
       {"/room_keys/keys", "/room_keys/keys/{roomId}", "/room_keys/keys/{roomId}/{sessionId}"}) {
    AddAsyncRoute(
        router, "PUT", suffix,
        [e](const Request& r, const PathParams& p, Respond respond) {
          PutKeys(*e, r, p, std::move(respond));
        },
        kBackupKeysBodyBytesMax);
    for (std::string_view prefix : {"/_matrix/client/v3", "/_matrix/client/r0"}) {
      // Offloaded: a restore reads every key of the version (up to
      // e2ee::kBackupKeysPerUserMax) and answers them at once.
      router.Add("GET", std::string(prefix).append(suffix),
                 [e](const Request& r, const PathParams& p) { return GetKeys(*e, r, p); },
                 {.offload = true});
    }
    AddAsyncRoute(router, "DELETE", suffix,
                  [e](const Request& r, const PathParams& p, Respond respond) {
                    DeleteKeys(*e, r, p, std::move(respond));
                  });
  }
}

}  // namespace nebu::api
