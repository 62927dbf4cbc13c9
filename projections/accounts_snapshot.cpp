#include "projections/accounts_snapshot.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <map>
#include <pqxx/pqxx>

#include "engine/common/crypto.h"
#include "engine/storage/keys.h"
#include "projections/pg.h"
#include "projections/stream_reader.h"

namespace nebu::projections {
namespace {

using storage::Cf;

constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";  // U+FFFD in UTF-8

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

// A free-text field (display names, avatar URL) as a text column can hold it: each
// U+0000 becomes U+FFFD, as in events (batch_writer.h). The API refuses U+0000 in new
// names, but a log may hold older ones, and one such row would fail every snapshot.
std::optional<std::string> TextField(const boost::json::object& o, std::string_view key) {
  std::optional<std::string> text = StringField(o, key);
  if (!text || text->find('\0') == std::string::npos) return text;
  std::string out;
  out.reserve(text->size() + 8);
  for (char c : *text) {
    if (c == '\0') {
      out.append(kReplacementCharacter);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

int64_t IntField(const boost::json::object& o, std::string_view key) {
  const boost::json::value* v = o.if_contains(key);
  return v && v->is_int64() ? v->as_int64() : 0;
}

bool BoolField(const boost::json::object& o, std::string_view key) {
  const boost::json::value* v = o.if_contains(key);
  return v && v->is_bool() && v->as_bool();
}

// Cf::kRooms 'a' alias -> room ID, 'c' alias -> creator.
Status ReadAliases(const storage::ReadView& store, AccountsSnapshot* snap, std::string* all) {
  auto it = store.NewIterator(Cf::kRooms);
  const std::string prefix = storage::RoomAliasKey("");
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    if (snap->aliases.size() >= kAccountsSnapshotAliasesMax) {
      return Status::ResourceExhausted("more room aliases than the accounts snapshot holds");
    }
    std::string alias = it->key().ToString().substr(prefix.size());
    AccountsSnapshot::Alias a{alias, it->value().ToString(), std::nullopt};
    NEBU_ASSIGN_OR_RETURN(a.creator, store.Get(Cf::kRooms, storage::RoomAliasCreatorKey(alias)));
    all->append(it->key().ToStringView()).append(it->value().ToStringView()).push_back('\x1f');
    all->append(a.creator.value_or("")).push_back('\n');
    snap->aliases.push_back(std::move(a));
  }
  return storage::FromRocks(it->status());
}

// Cf::kMembership 'f' lp(user) u64 room -> "".
Status ReadForgotten(const storage::ReadView& store, AccountsSnapshot* snap, std::string* all) {
  StreamReader rooms(store);  // room number -> room ID, cached
  auto it = store.NewIterator(Cf::kMembership);
  for (it->Seek("f"); it->Valid() && it->key().starts_with("f"); it->Next()) {
    if (snap->forgotten.size() >= kAccountsSnapshotForgottenMax) {
      return Status::ResourceExhausted("more forgotten rooms than the accounts snapshot holds");
    }
    std::string_view rest = it->key().ToStringView().substr(1);
    auto user = storage::GetLengthPrefixed(&rest);
    if (!user || rest.size() != 8) return Status::Corruption("bad forgotten-room key");
    NEBU_ASSIGN_OR_RETURN(StreamReader::RoomInfo room, rooms.Room(storage::GetU64(rest.data())));
    all->append(it->key().ToStringView()).push_back('\n');
    snap->forgotten.push_back({std::string(*user), std::move(room.room_id)});
  }
  return storage::FromRocks(it->status());
}

// Replaces room_aliases with the snapshot's aliases whose room row exists; returns
// how many were left out for want of their room.
size_t WriteAliases(pqxx::work& tx, const AccountsSnapshot& snap) {
  boost::json::array rows;
  for (const auto& a : snap.aliases) {
    boost::json::object row{{"alias", a.alias}, {"room_id", a.room_id}};
    if (a.creator) row["creator"] = *a.creator;
    rows.push_back(std::move(row));
  }
  const std::string param = boost::json::serialize(rows);
  constexpr const char* kRows =
      "jsonb_to_recordset($1::jsonb) AS r(alias text, room_id text, creator text)";
  tx.exec_params(std::string("DELETE FROM room_aliases a WHERE NOT EXISTS (SELECT 1 FROM ") + kRows +
                     " WHERE r.alias = a.alias AND r.room_id = a.room_id AND "
                     "r.creator IS NOT DISTINCT FROM a.creator)",
                 param);
  tx.exec_params(
      std::string("INSERT INTO room_aliases (alias, room_id, creator) SELECT r.alias, r.room_id, "
                  "r.creator FROM ") + kRows +
          " WHERE EXISTS (SELECT 1 FROM rooms WHERE rooms.room_id = r.room_id) "
          "ON CONFLICT (alias) DO NOTHING",
      param);
  pqxx::result present = tx.exec_params(
      std::string("SELECT count(*) FROM ") + kRows +
          " JOIN rooms ON rooms.room_id = r.room_id",
      param);
  return snap.aliases.size() - present[0][0].as<size_t>();
}

}  // namespace

Result<AccountsSnapshot> ReadAccounts(const storage::ReadView& source) {
  const storage::ReadView store = source.Pin();  // one consistent state for the digest
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
      u.displayname = TextField(r, "displayname");
      u.avatar_url = TextField(r, "avatar_url");
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
      AccountsSnapshot::Device d{std::string(*user), std::string(key), TextField(r, "display_name"),
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
  NEBU_RETURN_IF_ERROR(ReadAliases(store, &snap, &all));
  NEBU_RETURN_IF_ERROR(ReadForgotten(store, &snap, &all));
  snap.digest = HexEncode(Sha256(all));
  return snap;
}

Status WriteAccounts(pqxx::connection& conn, const AccountsSnapshot& snap, std::string* last_digest,
                     size_t* aliases_skipped) {
  if (aliases_skipped) *aliases_skipped = 0;
  if (*last_digest == snap.digest) return Status::Ok();
  size_t skipped = 0;
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
    skipped = WriteAliases(tx, snap);
    tx.exec("DELETE FROM room_forgotten");
    {
      pqxx::stream_to forgotten(tx, "room_forgotten", std::vector<std::string>{"user_id", "room_id"});
      for (const auto& f : snap.forgotten) forgotten << std::make_tuple(f.user_id, f.room_id);
      forgotten.complete();
    }
    tx.commit();
  }));
  if (aliases_skipped) *aliases_skipped = skipped;
  if (skipped == 0) *last_digest = snap.digest;
  return Status::Ok();
}

}  // namespace nebu::projections
