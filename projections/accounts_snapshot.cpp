#include "projections/accounts_snapshot.h"

#include <boost/json/parse.hpp>
#include <map>
#include <pqxx/pqxx>

#include "engine/common/crypto.h"
#include "engine/storage/keys.h"
#include "projections/pg.h"

namespace nebu::projections {
namespace {

using storage::Cf;

Result<boost::json::object> ParseRecord(std::string_view bytes, const std::string& what) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(bytes, ec);
  if (ec || !v.is_object()) return Status::Corruption("bad " + what + " record");
  return std::move(v.as_object());
}

std::optional<std::string> StringField(const boost::json::object& o, std::string_view key) {
  const boost::json::value* v = o.if_contains(key);
  if (!v || !v->is_string()) return std::nullopt;
  return std::string(v->as_string());
}

int64_t IntField(const boost::json::object& o, std::string_view key) {
  const boost::json::value* v = o.if_contains(key);
  return v && v->is_int64() ? v->as_int64() : 0;
}

bool BoolField(const boost::json::object& o, std::string_view key) {
  const boost::json::value* v = o.if_contains(key);
  return v && v->is_bool() && v->as_bool();
}

}  // namespace

Result<AccountsSnapshot> ReadAccounts(storage::Store& store) {
  AccountsSnapshot snap;
  std::map<std::string, size_t> by_user;
  std::string all;  // digest input
  {
    auto it = store.NewIterator(Cf::kUsers);
    for (it->Seek("u"); it->Valid() && it->key().starts_with("u"); it->Next()) {
      if (snap.users.size() >= kAccountsSnapshotUsersMax) {
        return Status::ResourceExhausted("more users than the accounts snapshot holds");
      }
      std::string user_id = it->key().ToString().substr(1);
      NEBU_ASSIGN_OR_RETURN(boost::json::object r, ParseRecord(it->value().ToStringView(), "user"));
      AccountsSnapshot::User u{user_id, BoolField(r, "admin"), BoolField(r, "deactivated"),
                               IntField(r, "created_ts"), StringField(r, "password_hash")};
      by_user[user_id] = snap.users.size();
      snap.users.push_back(std::move(u));
      all.append(it->key().ToStringView()).append(it->value().ToStringView()).push_back('\n');
    }
    NEBU_RETURN_IF_ERROR(storage::FromRocks(it->status()));
    for (it->Seek("p"); it->Valid() && it->key().starts_with("p"); it->Next()) {
      auto found = by_user.find(it->key().ToString().substr(1));
      if (found == by_user.end()) continue;  // a profile without an account: not projected
      NEBU_ASSIGN_OR_RETURN(boost::json::object r, ParseRecord(it->value().ToStringView(), "profile"));
      AccountsSnapshot::User& u = snap.users[found->second];
      u.has_profile = true;
      u.displayname = StringField(r, "displayname");
      u.avatar_url = StringField(r, "avatar_url");
      all.append(it->key().ToStringView()).append(it->value().ToStringView()).push_back('\n');
    }
    NEBU_RETURN_IF_ERROR(storage::FromRocks(it->status()));
  }
  std::map<std::pair<std::string, std::string>, int64_t> device_created;
  {
    auto it = store.NewIterator(Cf::kDevices);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      std::string_view key = it->key().ToStringView();
      auto user = storage::GetLengthPrefixed(&key);
      if (!user) return Status::Corruption("bad device key");
      NEBU_ASSIGN_OR_RETURN(boost::json::object r, ParseRecord(it->value().ToStringView(), "device"));
      AccountsSnapshot::Device d{std::string(*user), std::string(key), StringField(r, "display_name"),
                                 IntField(r, "created_ts")};
      device_created[{d.user_id, d.device_id}] = d.created_ts;
      if (by_user.contains(d.user_id)) snap.devices.push_back(std::move(d));
      all.append(it->key().ToStringView()).append(it->value().ToStringView()).push_back('\n');
    }
    NEBU_RETURN_IF_ERROR(storage::FromRocks(it->status()));
  }
  {
    auto it = store.NewIterator(Cf::kTokens);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      std::string_view value = it->value().ToStringView();
      auto user = storage::GetLengthPrefixed(&value);
      auto device = user ? storage::GetLengthPrefixed(&value) : std::nullopt;
      if (it->key().size() != 32 || !device) return Status::Corruption("bad token record");
      AccountsSnapshot::Token t{HexEncode(it->key().ToStringView()), std::string(*user),
                                std::string(*device), 0};
      auto created = device_created.find({t.user_id, t.device_id});
      if (created != device_created.end()) t.created_ts = created->second;
      if (by_user.contains(t.user_id)) snap.tokens.push_back(std::move(t));
      all.append(it->key().ToStringView()).append(it->value().ToStringView()).push_back('\n');
    }
    NEBU_RETURN_IF_ERROR(storage::FromRocks(it->status()));
  }
  snap.digest = HexEncode(Sha256(all));
  return snap;
}

Status WriteAccounts(pqxx::connection& conn, const AccountsSnapshot& snap, std::string* last_digest) {
  if (*last_digest == snap.digest) return Status::Ok();
  NEBU_RETURN_IF_ERROR(pg::Run("write accounts", [&] {
    pqxx::work tx(conn);
    tx.exec("SELECT pg_advisory_xact_lock(hashtext('nebu accounts snapshot'))");  // one writer
    // Children first; users stay (upserted below) so history keeps its senders.
    tx.exec("DELETE FROM access_tokens");
    tx.exec("DELETE FROM devices");
    tx.exec("DELETE FROM user_passwords");
    tx.exec("DELETE FROM profiles");
    for (const auto& u : snap.users) {
      tx.exec_params(
          "INSERT INTO users (user_id, is_admin, deactivated, created_ts) VALUES ($1, $2, $3, $4) "
          "ON CONFLICT (user_id) DO UPDATE SET is_admin = EXCLUDED.is_admin, "
          "deactivated = EXCLUDED.deactivated, created_ts = EXCLUDED.created_ts "
          "WHERE (users.is_admin, users.deactivated, users.created_ts) IS DISTINCT FROM "
          "(EXCLUDED.is_admin, EXCLUDED.deactivated, EXCLUDED.created_ts)",
          u.user_id, u.admin, u.deactivated, u.created_ts);
    }
    {
      pqxx::stream_to passwords(tx, "user_passwords", std::vector<std::string>{"user_id", "password_hash"});
      for (const auto& u : snap.users) {
        if (u.password_hash) passwords << std::make_tuple(u.user_id, *u.password_hash);
      }
      passwords.complete();
    }
    {
      pqxx::stream_to profiles(tx, "profiles", std::vector<std::string>{"user_id", "displayname", "avatar_url"});
      for (const auto& u : snap.users) {
        if (!u.has_profile) continue;
        profiles << std::make_tuple(u.user_id, pg::NullableText{u.displayname ? &*u.displayname : nullptr},
                                    pg::NullableText{u.avatar_url ? &*u.avatar_url : nullptr});
      }
      profiles.complete();
    }
    {
      pqxx::stream_to devices(tx, "devices", std::vector<std::string>{"user_id", "device_id", "display_name", "created_ts"});
      for (const auto& d : snap.devices) {
        devices << std::make_tuple(d.user_id, d.device_id,
                                   pg::NullableText{d.display_name ? &*d.display_name : nullptr}, d.created_ts);
      }
      devices.complete();
    }
    {
      pqxx::stream_to tokens(tx, "access_tokens",
                             std::vector<std::string>{"token_hash", "user_id", "device_id", "created_ts"});
      for (const auto& t : snap.tokens) tokens << std::make_tuple(t.token_hash, t.user_id, t.device_id, t.created_ts);
      tokens.complete();
    }
    tx.commit();
  }));
  *last_digest = snap.digest;
  return Status::Ok();
}

}  // namespace nebu::projections
