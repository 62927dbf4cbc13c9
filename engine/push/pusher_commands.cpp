// The kPusher payload codec and the stateless checks (pushers.h § PusherCommand).
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <utility>

#include "engine/event/canonical_json.h"
#include "engine/event/command_fields.h"
#include "engine/event/identifiers.h"
#include "engine/push/pushers.h"

namespace nebu::push {
namespace {

namespace json = boost::json;

constexpr std::string_view kOpSet = "set";
constexpr std::string_view kOpDelete = "delete";
constexpr std::string_view kOpDelivered = "delivered";
constexpr std::string_view kOpRemoveDevice = "remove_device";

size_t Utf8Chars(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

bool HasControl(std::string_view s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F || c == ' ') return true;
  }
  return false;
}

// http(s)://authority/...kPushGatewayPath, no query or fragment, no spaces.
Status ValidateUrl(std::string_view url) {
  if (url.size() > kPusherUrlBytesMax) return Status::InvalidArgument("data.url is too long");
  if (HasControl(url)) return Status::InvalidArgument("data.url holds spaces or controls");
  std::string_view rest;
  if (url.starts_with("https://")) {
    rest = url.substr(8);
  } else if (url.starts_with("http://")) {
    rest = url.substr(7);
  } else {
    return Status::InvalidArgument("data.url must be an http or https URL");
  }
  const size_t slash = rest.find('/');
  if (slash == 0 || slash == std::string_view::npos) {
    return Status::InvalidArgument("data.url has no host or no path");
  }
  const std::string_view authority = rest.substr(0, slash);
  if (authority.find('@') != std::string_view::npos) {
    return Status::InvalidArgument("data.url must not carry credentials");
  }
  const std::string_view path = rest.substr(slash);
  if (path.find_first_of("?#") != std::string_view::npos) {
    return Status::InvalidArgument("data.url must not carry a query or fragment");
  }
  if (!path.ends_with(kPushGatewayPath)) {
    return Status::InvalidArgument("data.url's path must end with " +
                                   std::string(kPushGatewayPath));
  }
  return Status::Ok();
}

Status ValidateText(std::string_view value, std::string_view field) {
  if (value.size() > kPusherTextBytesMax) {
    return Status::InvalidArgument(std::string(field) + " is too long");
  }
  return Status::Ok();
}

Status ValidateKey(const Pusher& p) {
  if (p.app_id.empty() || Utf8Chars(p.app_id) > kAppIdCharsMax) {
    return Status::InvalidArgument("app_id must have 1 to 64 characters");
  }
  if (p.pushkey.empty() || p.pushkey.size() > kPushkeyBytesMax) {
    return Status::InvalidArgument("pushkey must have 1 to 512 bytes");
  }
  return Status::Ok();
}

std::string_view OpName(PusherOp op) {
  switch (op) {
    case PusherOp::kSet:
      return kOpSet;
    case PusherOp::kDelete:
      return kOpDelete;
    case PusherOp::kDelivered:
      return kOpDelivered;
    case PusherOp::kRemoveDevice:
      return kOpRemoveDevice;
  }
  return kOpSet;
}

Result<PusherOp> ParseOp(std::string_view name) {
  if (name == kOpSet) return PusherOp::kSet;
  if (name == kOpDelete) return PusherOp::kDelete;
  if (name == kOpDelivered) return PusherOp::kDelivered;
  if (name == kOpRemoveDevice) return PusherOp::kRemoveDevice;
  return Status::BadJson("pusher command has an unknown op");
}

}  // namespace

Status ValidatePusher(const Pusher& p) {
  NEBU_RETURN_IF_ERROR(ValidateKey(p));
  if (p.kind != kPusherKindHttp) {
    return Status::InvalidArgument("only kind \"http\" is supported by this server");
  }
  NEBU_RETURN_IF_ERROR(ValidateText(p.app_display_name, "app_display_name"));
  NEBU_RETURN_IF_ERROR(ValidateText(p.device_display_name, "device_display_name"));
  NEBU_RETURN_IF_ERROR(ValidateText(p.profile_tag, "profile_tag"));
  NEBU_RETURN_IF_ERROR(ValidateText(p.lang, "lang"));
  Result<std::string> data = event::CanonicalJson(p.data);
  if (!data.ok()) return Status::InvalidArgument("data is not canonical JSON (no floats)");
  if (data->size() > kPusherDataBytesMax) return Status::TooLarge("data is too large");
  const json::value* url = p.data.if_contains("url");
  if (url == nullptr || !url->is_string()) {
    return Status::InvalidArgument("data.url is required for an http pusher");
  }
  NEBU_RETURN_IF_ERROR(ValidateUrl(url->get_string()));
  if (const json::value* format = p.data.if_contains("format")) {
    if (!format->is_string() || format->get_string() != kFormatEventIdOnly) {
      return Status::InvalidArgument("data.format must be \"event_id_only\" when present");
    }
  }
  return Status::Ok();
}

Status ValidatePusherCommand(const PusherCommand& c) {
  if (!event::IsValidUserId(c.user_id)) return Status::InvalidArgument("invalid user_id");
  if (c.device_id.size() > kDeviceIdBytesMax) return Status::InvalidArgument("device_id too long");
  if (c.ts < 0 || c.ts > event::kCanonicalIntMax || c.if_ts < 0 ||
      c.if_ts > event::kCanonicalIntMax) {
    return Status::InvalidArgument("bad ts");
  }
  if (c.position > static_cast<uint64_t>(event::kCanonicalIntMax)) {
    return Status::InvalidArgument("bad position");
  }
  switch (c.op) {
    case PusherOp::kSet:
      return ValidatePusher(c.pusher);
    case PusherOp::kDelete:
    case PusherOp::kDelivered:
      return ValidateKey(c.pusher);
    case PusherOp::kRemoveDevice:
      return Status::Ok();
  }
  return Status::Ok();
}

Result<std::string> EncodePusherCommand(const PusherCommand& c) {
  NEBU_RETURN_IF_ERROR(ValidatePusherCommand(c));
  json::object o;
  o["op"] = OpName(c.op);
  o["user_id"] = c.user_id;
  switch (c.op) {
    case PusherOp::kSet: {
      json::object p = PusherJson(c.pusher);
      o["pusher"] = std::move(p);
      o["device_id"] = c.device_id;
      o["append"] = c.append;
      o["ts"] = c.ts;
      break;
    }
    case PusherOp::kDelete:
      o["app_id"] = c.pusher.app_id;
      o["pushkey"] = c.pusher.pushkey;
      o["if_ts"] = c.if_ts;
      break;
    case PusherOp::kDelivered:
      o["app_id"] = c.pusher.app_id;
      o["pushkey"] = c.pusher.pushkey;
      o["if_ts"] = c.if_ts;
      o["position"] = c.position;
      break;
    case PusherOp::kRemoveDevice:
      o["device_id"] = c.device_id;
      break;
  }
  return event::CanonicalJson(o);
}

json::object PusherJson(const Pusher& p) {
  json::object o{{"app_id", p.app_id},
                 {"pushkey", p.pushkey},
                 {"kind", p.kind},
                 {"app_display_name", p.app_display_name},
                 {"device_display_name", p.device_display_name},
                 {"lang", p.lang},
                 {"data", p.data}};
  if (!p.profile_tag.empty()) o["profile_tag"] = p.profile_tag;
  return o;
}

namespace internal {

// The pusher object of a kSet command and of a stored record.
Result<Pusher> DecodePusherObject(const json::object& o) {
  event::CommandFields f(o, "pusher");
  Pusher p;
  NEBU_ASSIGN_OR_RETURN(p.app_id, f.String("app_id"));
  NEBU_ASSIGN_OR_RETURN(p.pushkey, f.String("pushkey"));
  NEBU_ASSIGN_OR_RETURN(p.kind, f.String("kind"));
  NEBU_ASSIGN_OR_RETURN(p.app_display_name, f.String("app_display_name"));
  NEBU_ASSIGN_OR_RETURN(p.device_display_name, f.String("device_display_name"));
  NEBU_ASSIGN_OR_RETURN(p.lang, f.String("lang"));
  NEBU_ASSIGN_OR_RETURN(auto tag, f.OptionalString("profile_tag"));
  if (tag) p.profile_tag = std::move(*tag);
  NEBU_ASSIGN_OR_RETURN(const json::object* data, f.Object("data"));
  p.data = *data;
  NEBU_RETURN_IF_ERROR(f.Finish());
  return p;
}

}  // namespace internal

Result<PusherCommand> DecodePusherCommand(std::string_view payload) {
  NEBU_ASSIGN_OR_RETURN(json::value v, event::ParseJson(payload));
  if (!v.is_object()) return Status::BadJson("pusher command is not an object");
  event::CommandFields f(v.get_object(), "pusher command");
  PusherCommand c;
  NEBU_ASSIGN_OR_RETURN(std::string op, f.String("op"));
  NEBU_ASSIGN_OR_RETURN(c.op, ParseOp(op));
  NEBU_ASSIGN_OR_RETURN(c.user_id, f.String("user_id"));
  switch (c.op) {
    case PusherOp::kSet: {
      NEBU_ASSIGN_OR_RETURN(const json::object* pusher, f.Object("pusher"));
      NEBU_ASSIGN_OR_RETURN(c.pusher, internal::DecodePusherObject(*pusher));
      NEBU_ASSIGN_OR_RETURN(c.device_id, f.String("device_id"));
      NEBU_ASSIGN_OR_RETURN(c.append, f.Bool("append"));
      NEBU_ASSIGN_OR_RETURN(c.ts, f.Int("ts"));
      break;
    }
    case PusherOp::kDelete:
    case PusherOp::kDelivered: {
      NEBU_ASSIGN_OR_RETURN(c.pusher.app_id, f.String("app_id"));
      NEBU_ASSIGN_OR_RETURN(c.pusher.pushkey, f.String("pushkey"));
      NEBU_ASSIGN_OR_RETURN(c.if_ts, f.Int("if_ts"));
      if (c.op == PusherOp::kDelivered) {
        NEBU_ASSIGN_OR_RETURN(c.position, f.Unsigned("position"));
      }
      break;
    }
    case PusherOp::kRemoveDevice: {
      NEBU_ASSIGN_OR_RETURN(c.device_id, f.String("device_id"));
      break;
    }
  }
  NEBU_RETURN_IF_ERROR(f.Finish());
  NEBU_RETURN_IF_ERROR(ValidatePusherCommand(c));
  return c;
}

}  // namespace nebu::push
