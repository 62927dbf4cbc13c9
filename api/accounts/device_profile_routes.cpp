// Device and profile endpoints of api/accounts/account_routes.h.
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <optional>
#include <string>

#include "api/accounts/account_common.h"
#include "api/rooms/rooms_routes.h"
#include "api/errors.h"
#include "engine/event/canonical_json.h"
#include "engine/accounts/accounts.h"
#include "engine/core/engine.h"

namespace nebu::api::account_internal {
namespace {

using boost::json::object;

object DeviceJson(const accounts::Device& device) {
  object json{{"device_id", device.device_id}};
  if (device.display_name) json["display_name"] = *device.display_name;
  return json;
}

// Runs `then` with the caller, or answers the authentication error.
template <typename Then>
void DeviceWithCaller(Context& context, const Request& request, const Respond& respond,
                      Then&& then) {
  auto caller = Authenticate(request, context.engine);
  if (auto* error = std::get_if<Response>(&caller)) return respond(std::move(*error));
  then(std::get<Caller>(caller));
}

// ---- devices ----

Response ListDevices(Context& context, const Request& request) {
  auto caller = Authenticate(request, context.engine);
  if (auto* error = std::get_if<Response>(&caller)) return *error;
  auto devices = accounts::ListDevices(context.engine.Read(), std::get<Caller>(caller).user_id);
  if (!devices.ok()) return ErrorResponse(devices.status());
  boost::json::array list;
  for (const accounts::Device& device : *devices) list.push_back(DeviceJson(device));
  return JsonResponse(200, object{{"devices", std::move(list)}});
}

Response GetDevice(Context& context, const Request& request, const PathParams& params) {
  auto caller = Authenticate(request, context.engine);
  if (auto* error = std::get_if<Response>(&caller)) return *error;
  auto device = accounts::GetDevice(context.engine.Read(), std::get<Caller>(caller).user_id,
                                    params.at("deviceId"));
  if (!device.ok()) return ErrorResponse(device.status());
  return JsonResponse(200, DeviceJson(*device));
}

void RenameDevice(Context* context, const Request& request, const PathParams& params,
                  Respond respond) {
  auto parsed = ParseJsonBody(request);
  if (auto* error = std::get_if<Response>(&parsed)) return respond(std::move(*error));
  DeviceWithCaller(*context, request, respond, [&](const Caller& caller) {
    Response error;
    std::optional<std::string> name;
    if (!ReadString(std::get<object>(parsed), "display_name", &name, &error)) {
      return respond(std::move(error));
    }
    if (name) {
      if (Status checked = accounts::CheckNewDisplayName(*name); !checked.ok()) {
        return respond(ErrorResponse(checked));  // U+0000: 400 M_INVALID_PARAM
      }
    }
    const std::string& device_id = params.at("deviceId");
    if (!name) {  // the spec: an absent display_name leaves it unchanged
      auto device = accounts::GetDevice(context->engine.Read(), caller.user_id, device_id);
      return respond(device.ok() ? JsonResponse(200, object{}) : ErrorResponse(device.status()));
    }
    SubmitAndAnswer(context->engine,
                    accounts::SetDeviceDisplayNameCommand{
                        .user_id = caller.user_id, .device_id = device_id, .display_name = name},
                    respond);
  });
}

void DeleteDevice(Context* context, const Request& request, const PathParams& params,
                  Respond respond) {
  auto parsed = ParseJsonBody(request);
  if (auto* error = std::get_if<Response>(&parsed)) return respond(std::move(*error));
  DeviceWithCaller(*context, request, respond, [&](const Caller& caller) {
    Response answer;
    std::optional<std::string> password =
        UiaPassword(std::get<object>(parsed), caller, context->server_name(), &answer);
    if (!password) return respond(std::move(answer));
    accounts::DeleteDeviceCommand command{.user_id = caller.user_id,
                                          .device_id = params.at("deviceId")};
    VerifyThen(context, caller.user_id, *password, respond,
               [context, respond, command] {
                 SubmitAndAnswer(context->engine, command, respond);
               });
  });
}

// The device IDs of a /delete_devices body, or nullopt with *error.
std::optional<std::vector<std::string>> ReadDeviceIds(const object& body, Response* error) {
  const boost::json::value* devices = body.if_contains("devices");
  if (devices == nullptr) {
    *error = MissingParam("devices");
    return std::nullopt;
  }
  if (!devices->is_array() || devices->as_array().size() > kDeleteDevicesMax) {
    *error = ErrorResponse(400, "M_BAD_JSON", "devices must be an array of at most 1000 IDs");
    return std::nullopt;
  }
  std::vector<std::string> ids;
  for (const boost::json::value& id : devices->as_array()) {
    if (!id.is_string()) {
      *error = ErrorResponse(400, "M_BAD_JSON", "devices must hold strings");
      return std::nullopt;
    }
    ids.emplace_back(id.as_string());
  }
  return ids;
}

// Deletes every device concurrently; answers {} once all applied. Unknown devices are
// skipped (already gone); the first other error is the answer.
void DeleteAll(Context* context, const std::string& user_id, std::vector<std::string> ids,
               Respond respond) {
  if (ids.empty()) return respond(JsonResponse(200, object{}));
  struct Progress {
    std::mutex mutex;
    size_t remaining;  // guarded by mutex
    Status failure;    // guarded by mutex
  };
  auto progress = std::make_shared<Progress>();
  progress->remaining = ids.size();
  for (std::string& id : ids) {
    accounts::DeleteDeviceCommand command{.user_id = user_id, .device_id = std::move(id)};
    SubmitCommand(context->engine, command, [progress, respond](core::ApplyOutcome outcome) {
      std::unique_lock lock(progress->mutex);
      if (!outcome.ok() && outcome.status().code() != StatusCode::kNotFound &&
          progress->failure.ok()) {
        progress->failure = outcome.status();
      }
      if (--progress->remaining > 0) return;
      Status failure = progress->failure;
      lock.unlock();
      respond(failure.ok() ? JsonResponse(200, object{}) : ErrorResponse(failure));
    });
  }
}

void DeleteDevices(Context* context, const Request& request, const PathParams&, Respond respond) {
  auto parsed = ParseJsonBody(request);
  if (auto* error = std::get_if<Response>(&parsed)) return respond(std::move(*error));
  DeviceWithCaller(*context, request, respond, [&](const Caller& caller) {
    const object& body = std::get<object>(parsed);
    Response answer;
    std::optional<std::vector<std::string>> ids = ReadDeviceIds(body, &answer);
    if (!ids) return respond(std::move(answer));
    std::optional<std::string> password =
        UiaPassword(body, caller, context->server_name(), &answer);
    if (!password) return respond(std::move(answer));
    VerifyThen(context, caller.user_id, *password, respond,
               [context, respond, user_id = caller.user_id, ids = std::move(*ids)] {
                 DeleteAll(context, user_id, ids, respond);
               });
  });
}

// ---- profiles ----

// A profile field's name in the path and the body.
enum class ProfileField { kDisplayName, kAvatarUrl };

std::string_view FieldName(ProfileField field) {
  return field == ProfileField::kDisplayName ? "displayname" : "avatar_url";
}

Response GetProfile(Context& context, const std::string& user_id,
                    std::optional<ProfileField> only) {
  auto profile = accounts::GetProfile(context.engine.Read(), user_id);
  if (!profile.ok()) {
    if (profile.status().code() == StatusCode::kNotFound) {
      return ErrorResponse(404, "M_NOT_FOUND", "Profile not found");
    }
    return ErrorResponse(profile.status());
  }
  object body;
  if (profile->displayname && only != ProfileField::kAvatarUrl) {
    body["displayname"] = *profile->displayname;
  }
  if (profile->avatar_url && only != ProfileField::kDisplayName) {
    body["avatar_url"] = *profile->avatar_url;
  }
  if (!only) {
    for (const auto& field : profile->fields) body[field.key()] = field.value();
  }
  return JsonResponse(200, body);
}

// ---- extended profile fields (m.tz, ...): GET|PUT|DELETE /profile/{userId}/{keyName} ----

std::optional<Response> ProfileLimited(Context& context, const std::string& user_id);  // below

Response GetProfileKey(Context& context, const std::string& user_id, const std::string& key) {
  auto profile = accounts::GetProfile(context.engine.Read(), user_id);
  if (!profile.ok()) {
    if (profile.status().code() == StatusCode::kNotFound) {
      return ErrorResponse(404, "M_NOT_FOUND", "Profile not found");
    }
    return ErrorResponse(profile.status());
  }
  const boost::json::value* value = profile->fields.if_contains(key);
  if (value == nullptr) return ErrorResponse(404, "M_NOT_FOUND", "No such profile field");
  return JsonResponse(200, object{{key, *value}});
}

// PUT (body {keyName: value}, any JSON value) or DELETE (no body) of one field of the
// caller's own profile. Limits (engine/accounts/commands.h): key kProfileKeyBytesMax
// (400 M_KEY_TOO_LARGE), whole profile kProfileBytesMax (400 M_PROFILE_TOO_LARGE).
// Values must be canonical JSON (no floats: 400 M_BAD_JSON). No member events: only
// displayname and avatar_url are carried in m.room.member.
void EditProfileKey(Context* context, const Request& request, const PathParams& params,
                    bool remove, Respond respond) {
  const std::string& key = params.at("keyName");
  auto parsed = ParseJsonBody(request);
  if (auto* error = std::get_if<Response>(&parsed)) return respond(std::move(*error));
  DeviceWithCaller(*context, request, respond, [&](const Caller& caller) {
    if (params.at("userId") != caller.user_id) {
      return respond(ErrorResponse(403, "M_FORBIDDEN", "Cannot change another user's profile"));
    }
    if (key.empty()) return respond(ErrorResponse(400, "M_INVALID_PARAM", "Invalid profile key"));
    if (key.size() > accounts::kProfileKeyBytesMax) {
      return respond(ErrorResponse(400, "M_KEY_TOO_LARGE", "Profile key over 255 bytes"));
    }
    accounts::SetProfileFieldCommand command{.user_id = caller.user_id, .key = key};
    if (!remove) {
      const object& body = std::get<object>(parsed);
      const boost::json::value* value = body.if_contains(key);
      if (value == nullptr) return respond(MissingParam(key));
      Result<std::string> text = event::CanonicalJson(*value);
      if (!text.ok()) return respond(ErrorResponse(400, "M_BAD_JSON", text.status().message()));
      if (text->size() > accounts::kProfileBytesMax) {
        return respond(ErrorResponse(400, "M_PROFILE_TOO_LARGE", "Profile over 64 KiB"));
      }
      command.value_json = std::move(*text);
    }
    if (auto limited = ProfileLimited(*context, caller.user_id)) {
      return respond(std::move(*limited));
    }
    SubmitCommand(context->engine, command, [respond](core::ApplyOutcome outcome) {
      if (outcome.ok()) return respond(JsonResponse(200, object{}));
      if (outcome.status().code() == StatusCode::kTooLarge) {
        return respond(ErrorResponse(400, "M_PROFILE_TOO_LARGE", "Profile over 64 KiB"));
      }
      respond(ErrorResponse(outcome.status()));
    });
  });
}

// 429 when the user's profile bucket cannot pay 1 + the joined rooms the change would
// update (kProfileRateLimit; the cost is capped at the burst).
std::optional<Response> ProfileLimited(Context& context, const std::string& user_id) {
  double cost = 1;
  if (auto joined = context.engine.RoomsOf(user_id); joined.ok()) {
    for (const auto& [room_id, membership] : *joined) {
      if (membership == rooms::Membership::kJoin) cost += 1;
    }
  }
  return Limited(context.limits->profile, user_id, context.MonotonicMs(), cost);
}

// The room number a capped profile command's outcome says its member events go on
// after (commands.h, kProfileFanoutRoomsPerCommand); nullopt when they are all done.
std::optional<uint64_t> MoreAfterRoom(const std::string& outcome) {
  boost::system::error_code ec;
  boost::json::value parsed = boost::json::parse(outcome, ec);
  const boost::json::object* o = ec ? nullptr : parsed.if_object();
  const boost::json::value* more = o ? o->if_contains("more_after_room") : nullptr;
  if (more == nullptr || !more->is_int64() || more->as_int64() < 0) return std::nullopt;
  return static_cast<uint64_t>(more->as_int64());
}

// Proposes `command` (a capped profile change, or its continuation) and, while its
// outcome says joined rooms remain, the refresh_member_events command for the next
// kProfileFanoutRoomsPerCommand of them; answers {} once the last one is applied, or
// the first error (the profile itself is set once the first command applied).
void SubmitProfileChange(core::Engine* engine, const accounts::AccountCommand& command,
                         std::string user_id, int64_t ts, Respond respond) {
  SubmitCommand(*engine, command,
                [engine, user_id = std::move(user_id), ts, respond](core::ApplyOutcome outcome) {
                  if (!outcome.ok()) return respond(ErrorResponse(outcome.status()));
                  std::optional<uint64_t> more = MoreAfterRoom(*outcome);
                  if (!more) return respond(JsonResponse(200, object{}));
                  accounts::RefreshMemberEventsCommand next{
                      .user_id = user_id,
                      .after_room = *more,
                      .member_events_ts = ts,
                      .rooms_max = accounts::kProfileFanoutRoomsPerCommand};
                  SubmitProfileChange(engine, next, user_id, ts, respond);
                });
}

void PutProfileField(Context* context, ProfileField field, const Request& request,
                     const PathParams& params, Respond respond) {
  auto parsed = ParseJsonBody(request);
  if (auto* error = std::get_if<Response>(&parsed)) return respond(std::move(*error));
  DeviceWithCaller(*context, request, respond, [&](const Caller& caller) {
    if (params.at("userId") != caller.user_id) {
      return respond(ErrorResponse(403, "M_FORBIDDEN", "Cannot set another user's profile"));
    }
    const object& body = std::get<object>(parsed);
    std::string_view name = FieldName(field);
    if (!body.contains(name)) return respond(MissingParam(name));
    Response error;
    std::optional<std::string> value;  // null clears the field
    if (!ReadString(body, name, &value, &error)) return respond(std::move(error));
    size_t bytes_max = field == ProfileField::kDisplayName ? accounts::kDisplayNameBytesMax
                                                           : accounts::kAvatarUrlBytesMax;
    if (value && value->size() > bytes_max) {
      return respond(ErrorResponse(400, "M_TOO_LARGE", std::string(name) + " too long"));
    }
    if (value && value->find('\0') != std::string::npos) {  // CheckNewDisplayName's rule
      return respond(ErrorResponse(400, "M_INVALID_PARAM", std::string(name) + " contains U+0000"));
    }
    if (auto limited = ProfileLimited(*context, caller.user_id)) {
      return respond(std::move(*limited));
    }
    // One command: the profile and the member events of the first
    // kProfileFanoutRoomsPerCommand rooms the user is joined to when it is applied
    // (spec: profile changes update m.room.member), in one write; refresh commands
    // follow for the other rooms. The answer comes after all of them are applied.
    const int64_t ts = context->engine.clock().NowUnixMs();
    const uint32_t rooms_max = accounts::kProfileFanoutRoomsPerCommand;
    accounts::AccountCommand command;
    if (field == ProfileField::kDisplayName) {
      command = accounts::SetDisplayNameCommand{.user_id = caller.user_id,
                                                .displayname = value,
                                                .member_events_ts = ts,
                                                .member_events_rooms_max = rooms_max};
    } else {
      command = accounts::SetAvatarUrlCommand{.user_id = caller.user_id,
                                              .avatar_url = value,
                                              .member_events_ts = ts,
                                              .member_events_rooms_max = rooms_max};
    }
    SubmitProfileChange(&context->engine, command, caller.user_id, ts, respond);
  });
}

void AddBothProfileField(Router& router, const ContextPtr& context, ProfileField field) {
  std::string suffix = "/profile/{userId}/" + std::string(FieldName(field));
  AddBoth(router, "GET", suffix, [context, field](const Request&, const PathParams& params) {
    return GetProfile(*context, params.at("userId"), field);
  });
  AddBothAsync(router, "PUT", suffix,
               [context, field](const Request& request, const PathParams& params, Respond respond) {
                 PutProfileField(context.get(), field, request, params, std::move(respond));
               });
}

}  // namespace

void AddDeviceRoutes(Router& router, const ContextPtr& context) {
  AddBoth(router, "GET", "/devices", [context](const Request& request, const PathParams&) {
    return ListDevices(*context, request);
  });
  AddBoth(router, "GET", "/devices/{deviceId}",
          [context](const Request& request, const PathParams& params) {
            return GetDevice(*context, request, params);
          });
  auto bind = [context](void (*handler)(Context*, const Request&, const PathParams&, Respond)) {
    return [context, handler](const Request& request, const PathParams& params, Respond respond) {
      handler(context.get(), request, params, std::move(respond));
    };
  };
  AddBothAsync(router, "PUT", "/devices/{deviceId}", bind(RenameDevice));
  AddBothAsync(router, "DELETE", "/devices/{deviceId}", bind(DeleteDevice));
  AddBothAsync(router, "POST", "/delete_devices", bind(DeleteDevices));
}

void AddProfileRoutes(Router& router, const ContextPtr& context) {
  AddBoth(router, "GET", "/profile/{userId}", [context](const Request&, const PathParams& params) {
    return GetProfile(*context, params.at("userId"), std::nullopt);
  });
  AddBothProfileField(router, context, ProfileField::kDisplayName);
  AddBothProfileField(router, context, ProfileField::kAvatarUrl);
  AddBoth(router, "GET", "/profile/{userId}/{keyName}",
          [context](const Request&, const PathParams& params) {
            return GetProfileKey(*context, params.at("userId"), params.at("keyName"));
          });
  for (bool remove : {false, true}) {
    AddBothAsync(router, remove ? "DELETE" : "PUT", "/profile/{userId}/{keyName}",
                 [context, remove](const Request& request, const PathParams& params,
                                   Respond respond) {
                   EditProfileKey(context.get(), request, params, remove, std::move(respond));
                 });
  }
}

}  // namespace nebu::api::account_internal
