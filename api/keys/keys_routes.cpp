// Device keys, one-time keys, key changes and to-device messages of
// api/keys/keys_routes.h.
#include "api/keys/keys_routes.h"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <set>
#include <utility>

#include "api/errors.h"
#include "api/keys/backup_routes.h"
#include "api/keys/keys_common.h"
#include "api/sync/sync_epoch.h"
#include "api/token_wait.h"
#include "engine/accounts/accounts.h"
#include "engine/core/command.h"
#include "engine/core/engine.h"
#include "engine/core/room_reads.h"
#include "engine/core/stream_reader.h"
#include "engine/e2ee/signatures.h"
#include "engine/event/canonical_json.h"
#include "engine/event/identifiers.h"
#include "engine/storage/room_log.h"
#include "engine/storage/stream_entry.h"

namespace nebu::api {
namespace keys_internal {

namespace json = boost::json;

void AddRoute(Router& router, std::string_view method, std::string_view suffix, Handler handler,
              size_t body_bytes_max) {
  for (std::string_view prefix : kClientPrefixes) {
    router.Add(method, std::string(prefix).append(suffix), handler,
               {.body_bytes_max = body_bytes_max});
  }
}

void AddAsyncRoute(Router& router, std::string_view method, std::string_view suffix,
                   AsyncHandler handler, size_t body_bytes_max) {
  for (std::string_view prefix : kClientPrefixes) {
    router.AddAsync(method, std::string(prefix).append(suffix), handler,
                    {.body_bytes_max = body_bytes_max});
  }
}

void SubmitE2ee(core::Engine& engine, const e2ee::E2eeCommand& command, Respond respond,
                std::function<Response(json::object)> answer) {
  Result<std::string> payload = e2ee::EncodeE2eeCommand(command);
  if (!payload.ok()) return respond(ErrorResponse(payload.status()));
  if (payload->size() > core::kCommandBytesMax) {
    return respond(ErrorResponse(413, "M_TOO_LARGE", "Request is too large"));
  }
  engine.SubmitAsync({.kind = core::CommandKind::kE2ee, .payload = std::move(*payload)},
                     [respond, answer = std::move(answer)](core::ApplyOutcome outcome) {
                       if (!outcome.ok()) return respond(ErrorResponse(outcome.status()));
                       Result<json::value> v = event::ParseJson(*outcome);
                       if (!v.ok() || !v->is_object()) {
                         return respond(ErrorResponse(Status::Internal("bad e2ee outcome")));
                       }
                       respond(answer(std::move(v->as_object())));
                     });
}

std::string_view ServerOf(std::string_view user_id) {
  size_t colon = user_id.find(':');
  return colon == std::string_view::npos ? std::string_view() : user_id.substr(colon + 1);
}

bool IsLocalUser(std::string_view user_id, std::string_view server_name) {
  return event::IsValidUserId(user_id) && ServerOf(user_id) == server_name;
}

std::optional<std::string> CrossSigningPublicKey(const json::object& key) {
  return e2ee::CrossSigningPublicKey(key);
}

void MergeSignatures(json::object& key, const std::vector<e2ee::StoredSignature>& signatures,
                     const std::function<bool(const e2ee::StoredSignature&)>& keep) {
  for (const e2ee::StoredSignature& s : signatures) {
    if (!keep(s)) continue;
    json::value& all = key["signatures"];
    if (!all.is_object()) all = json::object{};
    json::value& by_signer = all.as_object()[s.signer];
    if (!by_signer.is_object()) by_signer = json::object{};
    if (!by_signer.as_object().contains(s.signer_key_id)) {
      by_signer.as_object()[s.signer_key_id] = s.signature;
    }
  }
}

namespace {

using e2ee::StoredSignature;

// An optional object field: nullptr when absent or null; false with *error otherwise.
bool OptionalObject(const json::object& body, std::string_view key, const json::object** out,
                    Response* error) {
  *out = nullptr;
  const json::value* v = body.if_contains(key);
  if (v == nullptr || v->is_null()) return true;
  if (!v->is_object()) {
    *error = BadJsonResponse(std::string(key) + " must be an object");
    return false;
  }
  *out = &v->as_object();
  return true;
}

std::optional<Response> CheckDeviceKeys(const json::object& keys, const Caller& caller) {
  const json::value* user = keys.if_contains("user_id");
  const json::value* device = keys.if_contains("device_id");
  if (user == nullptr || !user->is_string() || device == nullptr || !device->is_string()) {
    return BadJsonResponse("device_keys needs user_id and device_id");
  }
  if (user->as_string() != caller.user_id || device->as_string() != caller.device_id) {
    return ErrorResponse(400, "M_INVALID_PARAM",
                         "device_keys must be those of the device making the request");
  }
  const json::value* algorithms = keys.if_contains("algorithms");
  const json::value* key_map = keys.if_contains("keys");
  if (algorithms == nullptr || !algorithms->is_array() || key_map == nullptr ||
      !key_map->is_object()) {
    return BadJsonResponse("device_keys needs algorithms and keys");
  }
  return std::nullopt;
}

// ---- POST /keys/upload ----

void Upload(Context& context, const Request& request, Respond respond) {
  auto caller = Authenticate(request, context.engine);
  if (auto* error = std::get_if<Response>(&caller)) return respond(std::move(*error));
  auto body = ParseJsonBody(request);
  if (auto* error = std::get_if<Response>(&body)) return respond(std::move(*error));
  const Caller& who = std::get<Caller>(caller);
  const json::object& o = std::get<json::object>(body);
  Response error;
  const json::object *device_keys, *one_time_keys, *fallback_keys, *msc_fallback_keys;
  if (!OptionalObject(o, "device_keys", &device_keys, &error) ||
      !OptionalObject(o, "one_time_keys", &one_time_keys, &error) ||
      !OptionalObject(o, "fallback_keys", &fallback_keys, &error) ||
      !OptionalObject(o, "org.matrix.msc2732.fallback_keys", &msc_fallback_keys, &error)) {
    return respond(std::move(error));
  }
  if (device_keys) {
    if (auto refused = CheckDeviceKeys(*device_keys, who)) return respond(std::move(*refused));
  }
  if (one_time_keys && one_time_keys->size() > e2ee::kOneTimeKeysPerUploadMax) {
    return respond(ErrorResponse(400, "M_INVALID_PARAM", "Too many one-time keys in one upload"));
  }
  e2ee::UploadKeysCommand command{.user_id = who.user_id, .device_id = who.device_id};
  if (device_keys) command.device_keys = *device_keys;
  if (one_time_keys) command.one_time_keys = *one_time_keys;
  if (fallback_keys == nullptr) fallback_keys = msc_fallback_keys;
  if (fallback_keys) command.fallback_keys = *fallback_keys;
  SubmitE2ee(context.engine, command, std::move(respond),
             [](json::object out) { return JsonResponse(200, out); });
}

// ---- POST /keys/query ----

// The device keys of one user as the caller sees them: {device_id: keys}.
Result<json::object> QueryDevices(core::Engine& engine, const std::string& user_id,
                                  const json::array& wanted) {
  std::set<std::string, std::less<>> only;
  for (const json::value& id : wanted) {
    if (id.is_string()) only.emplace(id.as_string());
  }
  NEBU_ASSIGN_OR_RETURN(auto devices, accounts::ListDevices(engine.Read(), user_id));
  std::map<std::string, std::optional<std::string>, std::less<>> names;
  for (accounts::Device& d : devices) names[d.device_id] = std::move(d.display_name);
  NEBU_ASSIGN_OR_RETURN(auto stored, e2ee::ListDeviceKeys(engine.Read(), user_id));
  json::object out;
  for (const auto& [device_id, text] : stored) {
    if (!only.empty() && !only.contains(device_id)) continue;
    auto name = names.find(device_id);
    if (name == names.end()) continue;  // deleted, not pruned yet
    NEBU_ASSIGN_OR_RETURN(json::value keys, event::ParseJson(text));
    if (!keys.is_object()) return Status::Corruption("stored device keys are not an object");
    NEBU_ASSIGN_OR_RETURN(auto signatures, e2ee::SignaturesOf(engine.Read(), user_id, device_id));
    MergeSignatures(keys.as_object(), signatures, [](const StoredSignature&) { return true; });
    if (name->second) {
      json::value& unsigned_data = keys.as_object()["unsigned"];
      if (!unsigned_data.is_object()) unsigned_data = json::object{};
      unsigned_data.as_object()["device_display_name"] = *name->second;
    }
    out[device_id] = std::move(keys);
  }
  return out;
}

// One cross-signing key with the signatures `keep` admits; nullopt when none.
Result<std::optional<json::object>> QuerySigningKey(
    core::Engine& engine, const std::string& user_id, std::string_view usage,
    const std::function<bool(const StoredSignature&)>& keep) {
  NEBU_ASSIGN_OR_RETURN(auto text, e2ee::GetCrossSigningKey(engine.Read(), user_id, usage));
  if (!text) return std::optional<json::object>();
  NEBU_ASSIGN_OR_RETURN(json::value key, event::ParseJson(*text));
  if (!key.is_object()) return Status::Corruption("stored cross-signing key is not an object");
  if (auto public_key = CrossSigningPublicKey(key.as_object())) {
    NEBU_ASSIGN_OR_RETURN(auto signatures,
                          e2ee::SignaturesOf(engine.Read(), user_id, *public_key));
    MergeSignatures(key.as_object(), signatures, keep);
  }
  return std::optional<json::object>(std::move(key.as_object()));
}

Response Query(Context& context, const Request& request) {
  auto caller = Authenticate(request, context.engine);
  if (auto* error = std::get_if<Response>(&caller)) return *error;
  auto body = ParseJsonBody(request);
  if (auto* error = std::get_if<Response>(&body)) return *error;
  const Caller& who = std::get<Caller>(caller);
  const json::value* device_keys = std::get<json::object>(body).if_contains("device_keys");
  if (device_keys == nullptr) return ErrorResponse(400, "M_MISSING_PARAM", "Missing device_keys");
  if (!device_keys->is_object()) return BadJsonResponse("device_keys must be an object");
  if (device_keys->as_object().size() > kKeysQueryUsersMax) {
    return ErrorResponse(400, "M_INVALID_PARAM", "Too many users in one query");
  }
  json::object devices, masters, self_signing, user_signing, failures;
  const std::string& server_name = context.engine.server_name();
  for (const auto& [user_key, wanted] : device_keys->as_object()) {
    const std::string user_id(user_key);
    if (!wanted.is_array())
      return BadJsonResponse("device_keys values must be arrays of device IDs");
    if (!IsLocalUser(user_id, server_name)) {
      if (event::IsValidUserId(user_id)) {
        failures[ServerOf(user_id)] =
            json::object{{"status", 503}, {"message", "federation is not supported"}};
      }
      continue;
    }
    Result<json::object> user_devices = QueryDevices(context.engine, user_id, wanted.as_array());
    if (!user_devices.ok()) return ErrorResponse(user_devices.status());
    devices[user_id] = std::move(*user_devices);
    auto by_owner_or_caller = [&](const StoredSignature& s) {
      return s.signer == user_id || s.signer == who.user_id;
    };
    auto by_owner = [&](const StoredSignature& s) { return s.signer == user_id; };
    auto master = QuerySigningKey(context.engine, user_id, e2ee::kUsageMaster, by_owner_or_caller);
    auto self = QuerySigningKey(context.engine, user_id, e2ee::kUsageSelfSigning, by_owner);
    if (!master.ok()) return ErrorResponse(master.status());
    if (!self.ok()) return ErrorResponse(self.status());
    if (*master) masters[user_id] = std::move(**master);
    if (*self) self_signing[user_id] = std::move(**self);
    if (user_id == who.user_id) {
      auto user = QuerySigningKey(context.engine, user_id, e2ee::kUsageUserSigning, by_owner);
      if (!user.ok()) return ErrorResponse(user.status());
      if (*user) user_signing[user_id] = std::move(**user);
    }
  }
  return JsonResponse(200, json::object{{"device_keys", std::move(devices)},
                                        {"master_keys", std::move(masters)},
                                        {"self_signing_keys", std::move(self_signing)},
                                        {"user_signing_keys", std::move(user_signing)},
                                        {"failures", std::move(failures)}});
}

// ---- POST /keys/claim ----

void Claim(Context& context, const Request& request, Respond respond) {
  auto caller = Authenticate(request, context.engine);
  if (auto* error = std::get_if<Response>(&caller)) return respond(std::move(*error));
  auto body = ParseJsonBody(request);
  if (auto* error = std::get_if<Response>(&body)) return respond(std::move(*error));
  const json::value* wanted = std::get<json::object>(body).if_contains("one_time_keys");
  if (wanted == nullptr)
    return respond(ErrorResponse(400, "M_MISSING_PARAM", "Missing one_time_keys"));
  if (!wanted->is_object()) return respond(BadJsonResponse("one_time_keys must be an object"));
  e2ee::ClaimKeysCommand command;
  json::object failures;
  const std::string& server_name = context.engine.server_name();
  for (const auto& [user_id, devices] : wanted->as_object()) {
    if (!devices.is_object())
      return respond(BadJsonResponse("one_time_keys values must be objects"));
    if (!IsLocalUser(user_id, server_name)) {
      if (event::IsValidUserId(user_id)) {
        failures[ServerOf(user_id)] =
            json::object{{"status", 503}, {"message", "federation is not supported"}};
      }
      continue;
    }
    for (const auto& [device_id, algorithm] : devices.as_object()) {
      if (!algorithm.is_string()) return respond(BadJsonResponse("algorithms must be strings"));
      command.claims.push_back(
          {std::string(user_id), std::string(device_id), std::string(algorithm.as_string())});
    }
  }
  if (command.claims.size() > e2ee::kClaimsPerRequestMax) {
    return respond(ErrorResponse(400, "M_INVALID_PARAM", "Too many keys claimed in one request"));
  }
  if (command.claims.empty()) {
    return respond(JsonResponse(
        200, json::object{{"one_time_keys", json::object{}}, {"failures", std::move(failures)}}));
  }
  SubmitE2ee(context.engine, command, std::move(respond),
             [failures = std::move(failures)](json::object out) {
               out["failures"] = failures;
               return JsonResponse(200, out);
             });
}

// ---- GET /keys/changes ----

// The position of a sync token "s<position>[_...][e<epoch>]"; 0 for a token of another
// epoch (api/sync/sync_epoch.h).
std::optional<storage::StreamPosition> ParseSyncToken(std::string_view token) {
  if (!token.starts_with('s')) return std::nullopt;
  token.remove_prefix(1);
  uint64_t epoch = 0;
  if (size_t e = token.find('e'); e != std::string_view::npos) {
    for (char c : token.substr(e + 1)) {
      if (c < '0' || c > '9' || epoch > (UINT64_MAX - 9) / 10) return std::nullopt;
      epoch = epoch * 10 + static_cast<uint64_t>(c - '0');
    }
    token = token.substr(0, e);
  }
  if (epoch != SyncEpoch()) return storage::StreamPosition{0};
  token = token.substr(0, token.find('_'));
  if (token.empty() || token.size() > 19) return std::nullopt;
  uint64_t value = 0;
  for (char c : token) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  return value;
}

// Room numbers the user is joined to now.
Result<std::vector<storage::RoomNumber>> JoinedRooms(const storage::ReadView& view,
                                                     const std::string& user_id) {
  NEBU_ASSIGN_OR_RETURN(auto rooms, core::RoomsOf(view, user_id));
  std::vector<storage::RoomNumber> out;
  for (const auto& [room_id, membership] : rooms) {
    if (membership != rooms::Membership::kJoin) continue;
    NEBU_ASSIGN_OR_RETURN(core::RoomMeta meta, core::LoadRoomMeta(view, room_id));
    out.push_back(meta.number);
  }
  return out;
}

// What happened in (from, to] that /keys/changes reports.
struct StreamChanges {
  std::set<std::string> key_changes;                              // kDeviceKeys users
  std::set<std::pair<storage::RoomNumber, std::string>> members;  // m.room.member changes
};

// The changes in (from, to]; nullopt when the range is too long to scan.
Result<std::optional<StreamChanges>> ScanChanges(const storage::ReadView& view,
                                                 storage::StreamPosition from,
                                                 storage::StreamPosition to) {
  StreamChanges changes;
  storage::RoomLog log(view);
  size_t scanned = 0;
  bool too_long = false;
  Status failed = Status::Ok();
  NEBU_RETURN_IF_ERROR(core::ScanStream(
      view, from, to, [&](storage::StreamPosition, const storage::StreamEntry& entry) {
        if (++scanned > kKeyChangesScanEntriesMax) {
          too_long = true;
          return false;
        }
        if (entry.kind == storage::StreamKind::kDeviceKeys) changes.key_changes.insert(entry.user);
        if (entry.kind != storage::StreamKind::kRoomEvent) return true;
        failed = log.Scan(entry.room, entry.sequence, entry.sequence, 1,
                          [&](const storage::EventView& event) {
                            if (event.type == "m.room.member" && event.state_key) {
                              changes.members.emplace(entry.room, std::string(*event.state_key));
                            }
                            return false;
                          });
        return failed.ok();
      }));
  NEBU_RETURN_IF_ERROR(failed);
  if (too_long) return std::optional<StreamChanges>();
  return std::optional<StreamChanges>(std::move(changes));
}

Response Changes(Context& context, const Request& request) {
  auto caller = Authenticate(request, context.engine);
  if (auto* error = std::get_if<Response>(&caller)) return *error;
  const std::string& user_id = std::get<Caller>(caller).user_id;
  auto from_text = request.Query("from");
  auto to_text = request.Query("to");
  if (!from_text || !to_text) {
    return ErrorResponse(400, "M_MISSING_PARAM", "from and to are required");
  }
  auto from = ParseSyncToken(*from_text);
  auto to = ParseSyncToken(*to_text);
  if (!from || !to) return ErrorResponse(400, "M_INVALID_PARAM", "from and to must be sync tokens");
  // Cluster-wide tokens (api/token_wait.h): wait until this node has applied both.
  const int64_t wait_ms = TokenWaitMs();
  const storage::StreamPosition needed = std::max(*from, *to);
  if (wait_ms > 0 &&
      !WaitForApplied(context.engine.notifier(),
                      [&] { return context.engine.stream_position() >= needed; }, wait_ms)) {
    return ErrorResponse(400, "M_INVALID_PARAM",
                         "Token is ahead of this server's stream (not applied here yet)");
  }
  json::array changed, left;
  if (*to <= *from) {
    return JsonResponse(200,
                        json::object{{"changed", std::move(changed)}, {"left", std::move(left)}});
  }
  // One snapshot for the answer; it holds everything up to `to` (waited for above).
  const core::Snapshot view = context.engine.Read();
  auto rooms = JoinedRooms(view, user_id);
  if (!rooms.ok()) return ErrorResponse(rooms.status());
  auto shares_room = [&](const std::string& user) {
    if (user == user_id) return true;
    for (storage::RoomNumber room : *rooms) {
      if (core::MembershipOf(view, user, room) == rooms::Membership::kJoin) return true;
    }
    return false;
  };
  auto scanned = ScanChanges(view, *from, *to);
  if (!scanned.ok()) return ErrorResponse(scanned.status());
  std::set<std::string> changed_users, left_users;
  if (*scanned) {
    changed_users = std::move((*scanned)->key_changes);
    // Whose membership changed in a room the caller is or was in: candidates for
    // `left`. The caller's own change in a room makes all of that room's members
    // candidates.
    for (const auto& [room, member] : (*scanned)->members) {
      if (core::MembershipOf(view, user_id, room) == rooms::Membership::kNone) continue;
      if (member != user_id) {
        left_users.insert(member);
        continue;
      }
      auto members = core::RoomMembers(view, room);
      if (!members.ok()) return ErrorResponse(members.status());
      for (const core::RoomMember& m : *members) left_users.insert(m.user_id);
    }
  } else {  // too long a range: everyone the caller shares a room with
    changed_users.insert(user_id);
    for (storage::RoomNumber room : *rooms) {
      auto members = core::RoomMembers(view, room);
      if (!members.ok()) return ErrorResponse(members.status());
      for (const core::RoomMember& m : *members) changed_users.insert(m.user_id);
    }
  }
  for (const std::string& user : changed_users) {
    if (shares_room(user)) changed.emplace_back(user);
  }
  for (const std::string& user : left_users) {
    if (!shares_room(user)) left.emplace_back(user);
  }
  return JsonResponse(200,
                      json::object{{"changed", std::move(changed)}, {"left", std::move(left)}});
}

// ---- PUT /sendToDevice/{eventType}/{txnId} ----

void SendToDevice(Context& context, const Request& request, const PathParams& params,
                  Respond respond) {
  auto caller = Authenticate(request, context.engine);
  if (auto* error = std::get_if<Response>(&caller)) return respond(std::move(*error));
  auto body = ParseJsonBody(request);
  if (auto* error = std::get_if<Response>(&body)) return respond(std::move(*error));
  const Caller& who = std::get<Caller>(caller);
  const json::value* messages = std::get<json::object>(body).if_contains("messages");
  if (messages == nullptr)
    return respond(ErrorResponse(400, "M_MISSING_PARAM", "Missing messages"));
  if (!messages->is_object()) return respond(BadJsonResponse("messages must be an object"));
  e2ee::SendToDeviceCommand command{.sender = who.user_id,
                                    .sender_device = who.device_id,
                                    .txn_id = params.at("txnId"),
                                    .type = params.at("eventType")};
  if (!event::IsValidEventType(command.type)) {
    return respond(ErrorResponse(400, "M_INVALID_PARAM", "Bad event type"));
  }
  const std::string& server_name = context.engine.server_name();
  for (const auto& [user_id, devices] : messages->as_object()) {
    if (!devices.is_object()) return respond(BadJsonResponse("messages values must be objects"));
    if (!IsLocalUser(user_id, server_name)) continue;  // no federation: dropped
    for (const auto& [device_id, content] : devices.as_object()) {
      if (!content.is_object()) return respond(BadJsonResponse("message contents must be objects"));
      command.messages.push_back(
          {std::string(user_id), std::string(device_id), content.as_object()});
    }
  }
  if (command.messages.size() > e2ee::kToDeviceMessagesPerRequestMax) {
    return respond(ErrorResponse(400, "M_INVALID_PARAM", "Too many messages in one request"));
  }
  SubmitE2ee(context.engine, command, std::move(respond),
             [](json::object) { return JsonResponse(200, json::object{}); });
}

}  // namespace
}  // namespace keys_internal

void AddKeysRoutes(Router& router, core::Engine& engine, std::shared_ptr<UserRateLimits> limits) {
  using namespace keys_internal;
  if (!limits) limits = std::make_shared<UserRateLimits>(/*enabled=*/false);
  auto context = std::make_shared<Context>(engine, std::move(limits));
  AddAsyncRoute(
      router, "POST", "/keys/upload",
      [context](const Request& r, const PathParams&, Respond respond) {
        Upload(*context, r, std::move(respond));
      },
      kKeysBodyBytesMax);
  AddRoute(
      router, "POST", "/keys/query",
      [context](const Request& r, const PathParams&) { return Query(*context, r); },
      kKeysBodyBytesMax);
  AddAsyncRoute(
      router, "POST", "/keys/claim",
      [context](const Request& r, const PathParams&, Respond respond) {
        Claim(*context, r, std::move(respond));
      },
      kKeysBodyBytesMax);
  for (std::string_view prefix : kClientPrefixes) {  // offloaded: it may wait (token_wait.h)
    router.Add(
        "GET", std::string(prefix) + "/keys/changes",
        [context](const Request& r, const PathParams&) { return Changes(*context, r); },
        {.offload = true});
  }
  AddAsyncRoute(
      router, "PUT", "/sendToDevice/{eventType}/{txnId}",
      [context](const Request& r, const PathParams& p, Respond respond) {
        SendToDevice(*context, r, p, std::move(respond));
      },
      kToDeviceBodyBytesMax);
  AddBackupRoutes(router, engine);
  AddSigningRoutes(router, context);
}

}  // namespace nebu::api
