#include "projections/accounts_snapshot.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <map>
#include <pqxx/pqxx>
#include <set>

#include "engine/accounts/accounts.h"
#include "engine/admin/admin.h"
#include "engine/common/crypto.h"
#include "engine/core/room_reads.h"
#include "projections/pg.h"
#include "projections/stream_reader.h"

namespace nebu::projections {
namespace {

constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";  // U+FFFD in UTF-8

// A free-text field (display names, avatar URL) as a text column can hold it: each
// U+0000 becomes U+FFFD, as in events (batch_writer.h). The API refuses U+0000 in new
// names, but a log may hold older ones, and one such row would fail every snapshot.
std::optional<std::string> TextField(const std::optional<std::string>& text) {
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

// Every U+0000 in the strings and keys of v as U+FFFD (jsonb refuses \u0000).
boost::json::value WithoutNul(const boost::json::value& v) {
  auto clean = [](std::string_view text) {
    return TextField(std::string(text)).value_or(std::string());
  };
  if (const auto* s = v.if_string()) return boost::json::value(clean(*s));
  if (const auto* a = v.if_array()) {
    boost::json::array out;
    for (const auto& e : *a) out.push_back(WithoutNul(e));
    return out;
  }
  if (const auto* o = v.if_object()) {
    boost::json::object out;
    for (const auto& [key, value] : *o) out[clean(key)] = WithoutNul(value);
    return out;
  }
  return v;
}

// The digest input: every projected value, length-prefixed so no two snapshots
// give the same bytes; a missing optional value is "-".
class DigestInput {
 public:
  DigestInput& Add(std::string_view v) {
    text_.append(std::to_string(v.size())).push_back(':');
    text_.append(v);
    return *this;
  }
  DigestInput& Add(const std::string& v) { return Add(std::string_view(v)); }
  DigestInput& Add(const std::optional<std::string>& v) { return v ? Add(*v) : Raw("-"); }
  DigestInput& Add(int64_t v) { return Add(std::string_view(std::to_string(v))); }
  DigestInput& Add(bool v) { return Raw(v ? "1" : "0"); }
  // Ends one row.
  void End() { text_.push_back('\n'); }
  std::string Hex() const { return HexEncode(Sha256(text_)); }

 private:
  DigestInput& Raw(std::string_view v) {
    text_.append(v);
    return *this;
  }
  std::string text_;
};

Status ReadUsers(const storage::ReadView& store, AccountsSnapshot* snap, std::set<std::string>* users) {
  return accounts::ForEachAccountRecord(store, [&](const accounts::AccountRecord& a) -> Status {
    if (snap->users.size() >= kAccountsSnapshotUsersMax) {
      return Status::ResourceExhausted("more users than the accounts snapshot holds");
    }
    AccountsSnapshot::User u{a.user.user_id, a.user.admin, a.user.deactivated, a.user.created_ts,
                             a.password_hash, std::nullopt, std::nullopt, a.profile.has_value()};
    u.locked = a.user.locked;
    u.suspended = a.user.suspended;
    u.shadow_banned = a.user.shadow_banned;
    if (!a.user.deactivated) {  // the effective admin flag: a role record wins (admin.h)
      NEBU_ASSIGN_OR_RETURN(admin::Roles roles, admin::GetRoles(store, a.user.user_id));
      u.admin = roles.admin;
    }
    if (a.profile) {
      u.displayname = TextField(a.profile->displayname);
      u.avatar_url = TextField(a.profile->avatar_url);
      u.profile_fields = boost::json::serialize(WithoutNul(a.profile->fields));
    }
    users->insert(u.user_id);
    snap->users.push_back(std::move(u));
    return Status::Ok();
  });
}

// The devices and tokens of the snapshot's users; a token's created_ts is its device's.
Status ReadDevices(const storage::ReadView& store, const std::set<std::string>& users,
                   AccountsSnapshot* snap) {
  std::map<std::pair<std::string, std::string>, int64_t> device_created;
  NEBU_RETURN_IF_ERROR(accounts::ForEachDevice(
      store, [&](std::string_view user_id, const accounts::Device& device) -> Status {
        AccountsSnapshot::Device d{std::string(user_id), device.device_id,
                                   TextField(device.display_name), device.created_ts};
        device_created[{d.user_id, d.device_id}] = d.created_ts;
        if (users.contains(d.user_id)) snap->devices.push_back(std::move(d));
        return Status::Ok();
      }));
  return accounts::ForEachAccessToken(
      store, [&](std::string_view token_hash, const accounts::TokenOwner& owner) -> Status {
        AccountsSnapshot::Token t{std::string(token_hash), owner.user_id, owner.device_id, 0};
        auto created = device_created.find({t.user_id, t.device_id});
        if (created != device_created.end()) t.created_ts = created->second;
        if (users.contains(t.user_id)) snap->tokens.push_back(std::move(t));
        return Status::Ok();
      });
}

Status ReadAliases(const storage::ReadView& store, AccountsSnapshot* snap) {
  return core::ForEachRoomAlias(store, [&](std::string_view alias, std::string_view room_id,
                                           const std::optional<std::string>& creator) -> Status {
    if (snap->aliases.size() >= kAccountsSnapshotAliasesMax) {
      return Status::ResourceExhausted("more room aliases than the accounts snapshot holds");
    }
    snap->aliases.push_back({std::string(alias), std::string(room_id), creator});
    return Status::Ok();
  });
}

Status ReadForgotten(const storage::ReadView& store, AccountsSnapshot* snap) {
  StreamReader rooms(store);  // room number -> room ID, cached
  return core::ForEachForgottenRoom(
      store, [&](std::string_view user_id, storage::RoomNumber number) -> Status {
        if (snap->forgotten.size() >= kAccountsSnapshotForgottenMax) {
          return Status::ResourceExhausted("more forgotten rooms than the accounts snapshot holds");
        }
        NEBU_ASSIGN_OR_RETURN(StreamReader::RoomInfo room, rooms.Room(number));
        snap->forgotten.push_back({std::string(user_id), std::move(room.room_id)});
        return Status::Ok();
      });
}

// The digest of everything the snapshot holds (what WriteAccounts writes).
std::string Digest(const AccountsSnapshot& snap) {
  DigestInput in;
  for (const auto& u : snap.users) {
    in.Add(u.user_id).Add(u.admin).Add(u.deactivated).Add(u.created_ts).Add(u.password_hash);
    in.Add(u.has_profile).Add(u.displayname).Add(u.avatar_url).Add(u.locked).Add(u.suspended);
    in.Add(u.shadow_banned).Add(u.profile_fields).End();
  }
  in.End();
  for (const auto& d : snap.devices) in.Add(d.user_id).Add(d.device_id).Add(d.display_name).Add(d.created_ts).End();
  in.End();
  for (const auto& t : snap.tokens) in.Add(t.token_hash).Add(t.user_id).Add(t.device_id).Add(t.created_ts).End();
  in.End();
  for (const auto& a : snap.aliases) in.Add(a.alias).Add(a.room_id).Add(a.creator).End();
  in.End();
  for (const auto& f : snap.forgotten) in.Add(f.user_id).Add(f.room_id).End();
  return in.Hex();
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
  std::set<std::string> users;
  NEBU_RETURN_IF_ERROR(ReadUsers(store, &snap, &users));
  NEBU_RETURN_IF_ERROR(ReadDevices(store, users, &snap));
  NEBU_RETURN_IF_ERROR(ReadAliases(store, &snap));
  NEBU_RETURN_IF_ERROR(ReadForgotten(store, &snap));
  snap.digest = Digest(snap);
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
          "INSERT INTO users (user_id, is_admin, deactivated, created_ts, locked, suspended, "
          "shadow_banned) VALUES ($1, $2, $3, $4, $5, $6, $7) "
          "ON CONFLICT (user_id) DO UPDATE SET is_admin = EXCLUDED.is_admin, "
          "deactivated = EXCLUDED.deactivated, created_ts = EXCLUDED.created_ts, "
          "locked = EXCLUDED.locked, suspended = EXCLUDED.suspended, "
          "shadow_banned = EXCLUDED.shadow_banned "
          "WHERE (users.is_admin, users.deactivated, users.created_ts, users.locked, "
          "users.suspended, users.shadow_banned) IS DISTINCT FROM (EXCLUDED.is_admin, "
          "EXCLUDED.deactivated, EXCLUDED.created_ts, EXCLUDED.locked, EXCLUDED.suspended, "
          "EXCLUDED.shadow_banned)",
          u.user_id, u.admin, u.deactivated, u.created_ts, u.locked, u.suspended,
          u.shadow_banned);
    }
    {
      pqxx::stream_to passwords(tx, "user_passwords", std::vector<std::string>{"user_id", "password_hash"});
      for (const auto& u : snap.users) {
        if (u.password_hash) passwords << std::make_tuple(u.user_id, *u.password_hash);
      }
      passwords.complete();
    }
    {
      pqxx::stream_to profiles(
          tx, "profiles", std::vector<std::string>{"user_id", "displayname", "avatar_url", "fields"});
      for (const auto& u : snap.users) {
        if (!u.has_profile) continue;
        profiles << std::make_tuple(u.user_id, pg::NullableText{u.displayname ? &*u.displayname : nullptr},
                                    pg::NullableText{u.avatar_url ? &*u.avatar_url : nullptr},
                                    u.profile_fields);
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
