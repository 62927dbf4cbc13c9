// The kExternalId command: codec, apply and reads (engine/accounts/external_ids.h).
#include "engine/accounts/external_ids.h"

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "engine/accounts/accounts.h"
#include "engine/accounts/commands.h"
#include "engine/accounts/internal/records.h"
#include "engine/event/canonical_json.h"
#include "engine/storage/keys.h"

namespace nebu::accounts {
namespace {

namespace json = boost::json;
using storage::Cf;

constexpr std::string_view kOp = "sso_login";
constexpr char kSubjectTag = 's';
constexpr char kExternalIdUserTag = 'u';

std::string SubjectKey(std::string_view idp_id, std::string_view subject) {
  std::string key(1, kSubjectTag);
  storage::PutLengthPrefixed(&key, idp_id);
  key.append(subject);
  return key;
}

std::string UserPrefix(std::string_view user_id) {
  std::string key(1, kExternalIdUserTag);
  storage::PutLengthPrefixed(&key, user_id);
  return key;
}

bool IsIdpId(std::string_view id) {
  if (id.empty() || id.size() > kIdpIdBytesMax) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                    c == '-';
    if (!ok) return false;
  }
  return true;
}

bool IsPrintableAscii(std::string_view text) {
  for (char c : text) {
    if (c < 0x21 || c > 0x7E) return false;
  }
  return true;
}

bool IsLowerHex(std::string_view text, size_t size) {
  if (text.size() != size) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Result<std::string> GetString(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) {
    return Status::InvalidArgument("sso_login: " + std::string(key) + " must be a string");
  }
  return std::string(v->as_string());
}

Result<int64_t> GetInt(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_int64()) {
    return Status::InvalidArgument("sso_login: " + std::string(key) + " must be an integer");
  }
  return v->as_int64();
}

// Registers a fresh user for the command at the first free candidate; its ID.
Result<std::string> RegisterNewUser(storage::Store& store, rocksdb::WriteBatch& batch,
                                    const SsoLoginCommand& c) {
  for (uint32_t attempt = 0; attempt <= kLocalpartCollisionsMax; ++attempt) {
    Result<std::string> user_id = NewUserId(CollisionCandidate(c.localpart, attempt), c.server_name);
    if (!user_id.ok()) return Status::AlreadyExists("no valid user ID for this localpart");
    NEBU_ASSIGN_OR_RETURN(bool taken, UserExists(store, *user_id));
    if (taken) continue;
    RegisterCommand reg{.user_id = *user_id, .created_ts = c.ts, .displayname = c.displayname};
    NEBU_ASSIGN_OR_RETURN(std::string payload, EncodeAccountCommand(AccountCommand(reg)));
    NEBU_RETURN_IF_ERROR(ApplyAccountCommand(store, batch, payload).status());
    return std::move(*user_id);
  }
  return Status::AlreadyExists("every candidate user ID is taken");
}

}  // namespace

Status ValidateSsoLoginCommand(const SsoLoginCommand& c) {
  if (!IsIdpId(c.idp_id)) return Status::InvalidArgument("sso_login: bad idp_id");
  if (c.subject.empty() || c.subject.size() > kSubjectBytesMax || !IsPrintableAscii(c.subject)) {
    return Status::InvalidArgument("sso_login: bad subject");
  }
  if (c.localpart.empty() || c.localpart.size() > kLocalpartBytesMax) {
    return Status::InvalidArgument("sso_login: bad localpart");
  }
  if (c.server_name.empty()) return Status::InvalidArgument("sso_login: bad server_name");
  if (c.displayname && c.displayname->size() > kDisplayNameBytesMax) {
    return Status::InvalidArgument("sso_login: displayname too long");
  }
  if (!IsLowerHex(c.login_token_hash, kTokenHashHexChars)) {
    return Status::InvalidArgument("sso_login: bad login_token_hash");
  }
  if (c.ts < 0 || c.login_token_expires_ms <= c.ts) {
    return Status::InvalidArgument("sso_login: bad timestamps");
  }
  return Status::Ok();
}

Result<std::string> EncodeSsoLoginCommand(const SsoLoginCommand& c) {
  NEBU_RETURN_IF_ERROR(ValidateSsoLoginCommand(c));
  json::object o{{"op", kOp},
                 {"idp_id", c.idp_id},
                 {"subject", c.subject},
                 {"localpart", c.localpart},
                 {"server_name", c.server_name},
                 {"ts", c.ts},
                 {"login_token_hash", c.login_token_hash},
                 {"login_token_expires_ms", c.login_token_expires_ms}};
  if (c.displayname) o["displayname"] = *c.displayname;
  return event::CanonicalJson(json::value(std::move(o)));
}

Result<SsoLoginCommand> DecodeSsoLoginCommand(std::string_view payload) {
  boost::system::error_code ec;
  json::value v = json::parse(payload, ec);
  if (ec || !v.is_object()) return Status::InvalidArgument("sso_login: not a JSON object");
  const json::object& o = v.as_object();
  NEBU_ASSIGN_OR_RETURN(std::string op, GetString(o, "op"));
  if (op != kOp) return Status::InvalidArgument("external id: unknown op " + op);
  for (const auto& field : o) {
    static constexpr std::string_view kKnown[] = {
        "op", "idp_id", "subject", "localpart", "server_name", "ts", "login_token_hash",
        "login_token_expires_ms", "displayname"};
    bool known = false;
    for (std::string_view k : kKnown) known = known || field.key() == k;
    if (!known) return Status::InvalidArgument("sso_login: unknown field " + std::string(field.key()));
  }
  SsoLoginCommand c;
  NEBU_ASSIGN_OR_RETURN(c.idp_id, GetString(o, "idp_id"));
  NEBU_ASSIGN_OR_RETURN(c.subject, GetString(o, "subject"));
  NEBU_ASSIGN_OR_RETURN(c.localpart, GetString(o, "localpart"));
  NEBU_ASSIGN_OR_RETURN(c.server_name, GetString(o, "server_name"));
  NEBU_ASSIGN_OR_RETURN(c.ts, GetInt(o, "ts"));
  NEBU_ASSIGN_OR_RETURN(c.login_token_hash, GetString(o, "login_token_hash"));
  NEBU_ASSIGN_OR_RETURN(c.login_token_expires_ms, GetInt(o, "login_token_expires_ms"));
  if (o.contains("displayname")) {
    NEBU_ASSIGN_OR_RETURN(std::string displayname, GetString(o, "displayname"));
    c.displayname = std::move(displayname);
  }
  NEBU_RETURN_IF_ERROR(ValidateSsoLoginCommand(c));
  return c;
}

std::string CollisionCandidate(std::string_view localpart, uint32_t attempt) {
  std::string out(localpart);
  if (attempt > 0) out += std::to_string(attempt);
  return out;
}

namespace {

Result<std::string> ApplySsoLogin(storage::Store& store, rocksdb::WriteBatch& batch,
                                  const SsoLoginCommand& c) {
  const std::string token_key = internal::SideTokenKey(internal::kLoginTokenTag, c.login_token_hash);
  NEBU_ASSIGN_OR_RETURN(std::optional<std::string> token_taken, store.Get(Cf::kTokens, token_key));
  if (token_taken) return Status::AlreadyExists("login token hash already in use");

  NEBU_ASSIGN_OR_RETURN(std::optional<std::string> linked, ExternalIdOwner(store, c.idp_id, c.subject));
  std::string user_id;
  if (linked) {
    NEBU_ASSIGN_OR_RETURN(User user, GetUser(store, *linked));
    if (user.deactivated) return Status::Forbidden("this account has been deactivated");
    if (user.locked) return Status::Forbidden("this account has been locked");
    user_id = std::move(*linked);
  } else {
    NEBU_ASSIGN_OR_RETURN(user_id, RegisterNewUser(store, batch, c));
    std::string user_key = UserPrefix(user_id) + c.idp_id;
    NEBU_RETURN_IF_ERROR(storage::FromRocks(
        batch.Put(store.handle(Cf::kExternalIds), SubjectKey(c.idp_id, c.subject), user_id)));
    NEBU_RETURN_IF_ERROR(
        storage::FromRocks(batch.Put(store.handle(Cf::kExternalIds), user_key, c.subject)));
  }
  NEBU_RETURN_IF_ERROR(storage::FromRocks(batch.Put(
      store.handle(Cf::kTokens), token_key,
      internal::EncodeSideTokenRecord({user_id, "", c.login_token_expires_ms}))));
  json::object outcome{{"created", !linked.has_value()}, {"user_id", user_id}};
  return event::CanonicalJson(json::value(std::move(outcome)));
}

}  // namespace

Result<std::string> ApplyExternalIdCommand(storage::Store& store, rocksdb::WriteBatch& batch,
                                           std::string_view payload) {
  NEBU_ASSIGN_OR_RETURN(SsoLoginCommand c, DecodeSsoLoginCommand(payload));
  batch.SetSavePoint();
  Result<std::string> outcome = ApplySsoLogin(store, batch, c);
  rocksdb::Status undo = outcome.ok() ? batch.PopSavePoint() : batch.RollbackToSavePoint();
  NEBU_CHECK(undo.ok(), "WriteBatch save point lost");
  return outcome;
}

Result<std::optional<std::string>> ExternalIdOwner(const storage::ReadView& store,
                                                   std::string_view idp_id,
                                                   std::string_view subject) {
  return store.Get(Cf::kExternalIds, SubjectKey(idp_id, subject));
}

Result<bool> HasExternalId(const storage::ReadView& store, std::string_view user_id) {
  const std::string prefix = UserPrefix(user_id);
  auto it = store.NewIterator(Cf::kExternalIds);
  it->Seek(prefix);
  if (it->Valid() && it->key().starts_with(prefix)) return true;
  NEBU_RETURN_IF_ERROR(storage::FromRocks(it->status()));
  return false;
}

}  // namespace nebu::accounts
