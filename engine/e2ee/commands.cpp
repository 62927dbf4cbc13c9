#include "engine/e2ee/commands.h"

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>
#include <set>
#include <utility>

#include "engine/event/command_fields.h"
#include "engine/event/canonical_json.h"

namespace nebu::e2ee {
namespace {

namespace json = boost::json;

// ---- validation ----

Status CheckId(std::string_view what, std::string_view id) {
  if (id.empty()) return Status::InvalidArgument(std::string(what) + " is empty");
  if (id.size() > kIdBytesMax) return Status::InvalidArgument(std::string(what) + " is too long");
  for (char c : id) {
    if (static_cast<unsigned char>(c) < 0x20) {
      return Status::InvalidArgument(std::string(what) + " has a control character");
    }
  }
  return Status::Ok();
}

Status CheckUserId(std::string_view user_id) {
  NEBU_RETURN_IF_ERROR(CheckId("user ID", user_id));
  if (user_id[0] != '@' || user_id.find(':') == std::string_view::npos) {
    return Status::InvalidArgument("not a user ID: " + std::string(user_id));
  }
  return Status::Ok();
}

Status CheckJsonObject(std::string_view what, const json::object& o, size_t bytes_max) {
  NEBU_ASSIGN_OR_RETURN(std::string text, event::CanonicalJson(o));
  if (text.size() > bytes_max) return Status::TooLarge(std::string(what) + " is too large");
  return Status::Ok();
}

// One-time or fallback keys: "<alg>:<id>" -> string or object.
Status CheckKeyMap(const json::object& keys, size_t count_max, bool one_per_algorithm) {
  if (keys.size() > count_max) return Status::TooLarge("too many keys in one upload");
  std::set<std::string_view> algorithms;
  for (const auto& [name, key] : keys) {
    auto split = SplitKeyName(name);
    if (!split) return Status::InvalidArgument("key name is not <algorithm>:<key id>");
    NEBU_RETURN_IF_ERROR(CheckId("key name", name));
    if (!key.is_string() && !key.is_object()) {
      return Status::InvalidArgument("a key must be a string or an object");
    }
    NEBU_ASSIGN_OR_RETURN(std::string text, event::CanonicalJson(key));
    if (text.size() > kKeyJsonBytesMax) return Status::TooLarge("key is too large");
    if (one_per_algorithm && !algorithms.insert(split->first).second) {
      return Status::InvalidArgument("more than one fallback key for an algorithm");
    }
  }
  return Status::Ok();
}

struct Validator {
  Status operator()(const UploadKeysCommand& c) const {
    NEBU_RETURN_IF_ERROR(CheckUserId(c.user_id));
    NEBU_RETURN_IF_ERROR(CheckId("device ID", c.device_id));
    if (c.device_keys)
      NEBU_RETURN_IF_ERROR(CheckJsonObject("device_keys", *c.device_keys, kKeyJsonBytesMax));
    NEBU_RETURN_IF_ERROR(CheckKeyMap(c.one_time_keys, kOneTimeKeysPerUploadMax, false));
    return CheckKeyMap(c.fallback_keys, kFallbackKeysPerUploadMax, true);
  }
  Status operator()(const ClaimKeysCommand& c) const {
    if (c.claims.size() > kClaimsPerRequestMax) return Status::TooLarge("too many claims");
    std::set<std::tuple<std::string_view, std::string_view, std::string_view>> seen;
    for (const KeyClaim& claim : c.claims) {
      NEBU_RETURN_IF_ERROR(CheckUserId(claim.user_id));
      NEBU_RETURN_IF_ERROR(CheckId("device ID", claim.device_id));
      NEBU_RETURN_IF_ERROR(CheckId("algorithm", claim.algorithm));
      if (!seen.emplace(claim.user_id, claim.device_id, claim.algorithm).second) {
        return Status::InvalidArgument("a claim is repeated");
      }
    }
    return Status::Ok();
  }
  Status operator()(const UploadSigningKeysCommand& c) const {
    NEBU_RETURN_IF_ERROR(CheckUserId(c.user_id));
    for (const auto* key : {&c.master_key, &c.self_signing_key, &c.user_signing_key}) {
      if (*key) NEBU_RETURN_IF_ERROR(CheckJsonObject("cross-signing key", **key, kKeyJsonBytesMax));
    }
    return Status::Ok();
  }
  Status operator()(const UploadSignaturesCommand& c) const {
    NEBU_RETURN_IF_ERROR(CheckUserId(c.signer));
    if (c.signatures.size() > kSignaturesPerUploadMax)
      return Status::TooLarge("too many signatures");
    for (const SignatureEntry& s : c.signatures) {
      NEBU_RETURN_IF_ERROR(CheckUserId(s.target_user));
      NEBU_RETURN_IF_ERROR(CheckId("target key ID", s.target_key_id));
      NEBU_RETURN_IF_ERROR(CheckId("signer key ID", s.signer_key_id));
      if (s.signature.empty() || s.signature.size() > kKeyJsonBytesMax) {
        return Status::InvalidArgument("bad signature length");
      }
    }
    return Status::Ok();
  }
  Status operator()(const SendToDeviceCommand& c) const {
    NEBU_RETURN_IF_ERROR(CheckUserId(c.sender));
    NEBU_RETURN_IF_ERROR(CheckId("device ID", c.sender_device));
    NEBU_RETURN_IF_ERROR(CheckId("txn ID", c.txn_id));
    NEBU_RETURN_IF_ERROR(CheckId("event type", c.type));
    if (c.messages.size() > kToDeviceMessagesPerRequestMax) {
      return Status::TooLarge("too many to-device messages");
    }
    for (const ToDeviceTarget& m : c.messages) {
      NEBU_RETURN_IF_ERROR(CheckUserId(m.user_id));
      NEBU_RETURN_IF_ERROR(CheckId("device ID", m.device_id));
      NEBU_RETURN_IF_ERROR(CheckJsonObject("content", m.content, kToDeviceContentBytesMax));
    }
    return Status::Ok();
  }
  Status operator()(const DeleteToDeviceCommand& c) const {
    NEBU_RETURN_IF_ERROR(CheckUserId(c.user_id));
    NEBU_RETURN_IF_ERROR(CheckId("device ID", c.device_id));
    if (c.upto > static_cast<uint64_t>(event::kCanonicalIntMax)) {
      return Status::InvalidArgument("upto out of range");
    }
    return Status::Ok();
  }
  Status operator()(const PruneDevicesCommand& c) const { return CheckUserId(c.user_id); }
};

// ---- encoding ----

json::array Strings(std::initializer_list<std::string_view> items) {
  json::array out;
  for (std::string_view s : items) out.emplace_back(s);
  return out;
}

struct Encoder {
  json::object operator()(const UploadKeysCommand& c) const {
    json::object o{{"user_id", c.user_id},
                   {"device_id", c.device_id},
                   {"one_time_keys", c.one_time_keys},
                   {"fallback_keys", c.fallback_keys}};
    if (c.device_keys) o["device_keys"] = *c.device_keys;
    return o;
  }
  json::object operator()(const ClaimKeysCommand& c) const {
    json::array claims;
    for (const KeyClaim& k : c.claims)
      claims.push_back(Strings({k.user_id, k.device_id, k.algorithm}));
    return {{"claims", std::move(claims)}};
  }
  json::object operator()(const UploadSigningKeysCommand& c) const {
    json::object o{{"user_id", c.user_id}};
    if (c.master_key) o["master_key"] = *c.master_key;
    if (c.self_signing_key) o["self_signing_key"] = *c.self_signing_key;
    if (c.user_signing_key) o["user_signing_key"] = *c.user_signing_key;
    if (c.without_uia) o["without_uia"] = true;
    if (c.check_master_signature) o["check_master_signature"] = true;
    return o;
  }
  json::object operator()(const UploadSignaturesCommand& c) const {
    json::array list;
    for (const SignatureEntry& s : c.signatures) {
      list.push_back(Strings({s.target_user, s.target_key_id, s.signer_key_id, s.signature}));
    }
    json::object o{{"signer", c.signer}, {"signatures", std::move(list)}};
    if (c.check_signatures) o["check_signatures"] = true;
    return o;
  }
  json::object operator()(const SendToDeviceCommand& c) const {
    json::array list;
    for (const ToDeviceTarget& m : c.messages) {
      list.push_back(json::array{json::string(m.user_id), json::string(m.device_id), m.content});
    }
    return {{"sender", c.sender},
            {"sender_device", c.sender_device},
            {"txn_id", c.txn_id},
            {"type", c.type},
            {"messages", std::move(list)}};
  }
  json::object operator()(const DeleteToDeviceCommand& c) const {
    return {
        {"user_id", c.user_id}, {"device_id", c.device_id}, {"upto", static_cast<int64_t>(c.upto)}};
  }
  json::object operator()(const PruneDevicesCommand& c) const { return {{"user_id", c.user_id}}; }
};

// ---- decoding ----

using Fields = event::CommandFields;

// An array of arrays of `n` strings (the last may be an object when last_object).
Result<std::vector<std::vector<json::value>>> Tuples(const json::array& list, size_t n,
                                                     bool last_object) {
  std::vector<std::vector<json::value>> out;
  for (const json::value& item : list) {
    if (!item.is_array() || item.as_array().size() != n) return Status::BadJson("bad tuple");
    const json::array& a = item.as_array();
    for (size_t i = 0; i < n; ++i) {
      const bool want_object = last_object && i + 1 == n;
      if (want_object ? !a[i].is_object() : !a[i].is_string()) return Status::BadJson("bad tuple");
    }
    out.emplace_back(a.begin(), a.end());
  }
  return out;
}

std::string Str(const json::value& v) { return std::string(v.as_string()); }

Result<E2eeCommand> DecodeOp(std::string_view op, Fields& f) {
  if (op == "upload_keys") {
    UploadKeysCommand c;
    NEBU_ASSIGN_OR_RETURN(c.user_id, f.String("user_id"));
    NEBU_ASSIGN_OR_RETURN(c.device_id, f.String("device_id"));
    NEBU_ASSIGN_OR_RETURN(c.device_keys, f.OptionalObject("device_keys"));
    NEBU_ASSIGN_OR_RETURN(const json::object* one_time_keys, f.Object("one_time_keys"));
    NEBU_ASSIGN_OR_RETURN(const json::object* fallback_keys, f.Object("fallback_keys"));
    c.one_time_keys = *one_time_keys;
    c.fallback_keys = *fallback_keys;
    return E2eeCommand(std::move(c));
  }
  if (op == "claim_keys") {
    ClaimKeysCommand c;
    NEBU_ASSIGN_OR_RETURN(const json::array* list, f.Array("claims"));
    NEBU_ASSIGN_OR_RETURN(auto tuples, Tuples(*list, 3, false));
    for (auto& t : tuples) c.claims.push_back({Str(t[0]), Str(t[1]), Str(t[2])});
    return E2eeCommand(std::move(c));
  }
  if (op == "upload_signing_keys") {
    UploadSigningKeysCommand c;
    NEBU_ASSIGN_OR_RETURN(c.user_id, f.String("user_id"));
    NEBU_ASSIGN_OR_RETURN(c.master_key, f.OptionalObject("master_key"));
    NEBU_ASSIGN_OR_RETURN(c.self_signing_key, f.OptionalObject("self_signing_key"));
    NEBU_ASSIGN_OR_RETURN(c.user_signing_key, f.OptionalObject("user_signing_key"));
    if (f.Has("without_uia")) {
      NEBU_ASSIGN_OR_RETURN(c.without_uia, f.Bool("without_uia"));
      if (!c.without_uia) return Status::BadJson("without_uia is present only when true");
    }
    if (f.Has("check_master_signature")) {
      NEBU_ASSIGN_OR_RETURN(c.check_master_signature, f.Bool("check_master_signature"));
      if (!c.check_master_signature) {
        return Status::BadJson("check_master_signature is present only when true");
      }
    }
    return E2eeCommand(std::move(c));
  }
  if (op == "upload_signatures") {
    UploadSignaturesCommand c;
    NEBU_ASSIGN_OR_RETURN(c.signer, f.String("signer"));
    NEBU_ASSIGN_OR_RETURN(const json::array* list, f.Array("signatures"));
    NEBU_ASSIGN_OR_RETURN(auto tuples, Tuples(*list, 4, false));
    for (auto& t : tuples) c.signatures.push_back({Str(t[0]), Str(t[1]), Str(t[2]), Str(t[3])});
    if (f.Has("check_signatures")) {
      NEBU_ASSIGN_OR_RETURN(c.check_signatures, f.Bool("check_signatures"));
      if (!c.check_signatures) return Status::BadJson("check_signatures is present only when true");
    }
    return E2eeCommand(std::move(c));
  }
  if (op == "send_to_device") {
    SendToDeviceCommand c;
    NEBU_ASSIGN_OR_RETURN(c.sender, f.String("sender"));
    NEBU_ASSIGN_OR_RETURN(c.sender_device, f.String("sender_device"));
    NEBU_ASSIGN_OR_RETURN(c.txn_id, f.String("txn_id"));
    NEBU_ASSIGN_OR_RETURN(c.type, f.String("type"));
    NEBU_ASSIGN_OR_RETURN(const json::array* list, f.Array("messages"));
    NEBU_ASSIGN_OR_RETURN(auto tuples, Tuples(*list, 3, true));
    for (auto& t : tuples) c.messages.push_back({Str(t[0]), Str(t[1]), t[2].as_object()});
    return E2eeCommand(std::move(c));
  }
  if (op == "delete_to_device") {
    DeleteToDeviceCommand c;
    NEBU_ASSIGN_OR_RETURN(c.user_id, f.String("user_id"));
    NEBU_ASSIGN_OR_RETURN(c.device_id, f.String("device_id"));
    NEBU_ASSIGN_OR_RETURN(c.upto, f.Unsigned("upto"));
    return E2eeCommand(std::move(c));
  }
  if (op == "prune_devices") {
    PruneDevicesCommand c;
    NEBU_ASSIGN_OR_RETURN(c.user_id, f.String("user_id"));
    return E2eeCommand(std::move(c));
  }
  return Status::BadJson("unknown e2ee op " + std::string(op));
}

}  // namespace

std::optional<std::pair<std::string_view, std::string_view>> SplitKeyName(std::string_view name) {
  size_t colon = name.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == name.size()) {
    return std::nullopt;
  }
  return std::pair{name.substr(0, colon), name.substr(colon + 1)};
}

std::string_view E2eeCommandName(const E2eeCommand& command) {
  static constexpr std::string_view kNames[] = {
      "upload_keys",    "claim_keys",       "upload_signing_keys", "upload_signatures",
      "send_to_device", "delete_to_device", "prune_devices"};
  return kNames[command.index()];
}

Status ValidateE2eeCommand(const E2eeCommand& command) { return std::visit(Validator{}, command); }

Result<std::string> EncodeE2eeCommand(const E2eeCommand& command) {
  NEBU_RETURN_IF_ERROR(ValidateE2eeCommand(command));
  json::object o = std::visit(Encoder{}, command);
  o["op"] = E2eeCommandName(command);
  return event::CanonicalJson(o);
}

Result<E2eeCommand> DecodeE2eeCommand(std::string_view payload) {
  NEBU_ASSIGN_OR_RETURN(json::value v, event::ParseJson(payload));
  if (!v.is_object()) return Status::BadJson("e2ee command is not an object");
  const json::object& o = v.as_object();
  const json::value* op = o.if_contains("op");
  if (op == nullptr || !op->is_string()) return Status::BadJson("e2ee command has no op");
  Fields fields(o, "e2ee command", /*already_read=*/1);  // "op"
  NEBU_ASSIGN_OR_RETURN(E2eeCommand command, DecodeOp(op->as_string(), fields));
  NEBU_RETURN_IF_ERROR(fields.Finish());
  NEBU_RETURN_IF_ERROR(ValidateE2eeCommand(command));
  return command;
}

}  // namespace nebu::e2ee
