// Goal: ApplyBackupCommand is deterministic and follows its contract (backup.h):
// two stores that apply the same random command sequence hold the same bytes, and
// every outcome equals that of a plain model (versions allocated per user and never
// reused, the current version is the highest live one, uploads only to it, the
// replacement rule, count = the keys stored, etag bumped by every change).
// Method: a seeded random sequence (the seed is printed; NEBU_TEST_SEED replays one)
// of 400 commands for two users over small pools of rooms and sessions, applied to
// two real RocksDB stores on tmpfs one batch each, as the state machine does; the
// model is a few std::maps.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <map>
#include <random>
#include <tuple>

#include "engine/e2ee/backup.h"
#include "engine/event/canonical_json.h"
#include "tests/engine/accounts/temp_store.h"

namespace nebu::e2ee {
namespace {

namespace json = boost::json;
using accounts::testing::Dump;
using accounts::testing::TempStore;

constexpr size_t kSteps = 400;

struct ModelVersion {
  std::string algorithm;
  json::object auth_data;
  uint64_t count = 0;
  uint64_t etag = 0;
};
struct ModelUser {
  uint64_t last = 0;
  std::map<uint64_t, ModelVersion> versions;
  std::map<std::tuple<uint64_t, std::string, std::string>, BackupKeyData> keys;
};

bool Better(const BackupKeyData& a, const BackupKeyData& b) {
  if (a.is_verified != b.is_verified) return a.is_verified;
  if (a.first_message_index != b.first_message_index) {
    return a.first_message_index < b.first_message_index;
  }
  return a.forwarded_count < b.forwarded_count;
}

std::string CountEtag(const ModelVersion& v) {
  return event::CanonicalJson(json::object{{"count", static_cast<int64_t>(v.count)},
                                           {"etag", std::to_string(v.etag)}})
      .value();
}

// The model's outcome: canonical JSON, or the error code.
Result<std::string> ModelApply(std::map<std::string, ModelUser>& users, const BackupCommand& c) {
  struct Visitor {
    std::map<std::string, ModelUser>& users;
    Result<std::string> operator()(const CreateBackupVersion& c) {
      ModelUser& u = users[c.user_id];
      ++u.last;
      u.versions[u.last] = {c.algorithm, c.auth_data, 0, 0};
      return event::CanonicalJson(json::object{{"version", std::to_string(u.last)}});
    }
    Result<std::string> operator()(const UpdateBackupVersion& c) {
      ModelUser& u = users[c.user_id];
      auto it = u.versions.find(c.version);
      if (it == u.versions.end()) return Status::NotFound("");
      if (it->second.algorithm != c.algorithm) return Status::InvalidArgument("");
      it->second.auth_data = c.auth_data;
      return std::string("{}");
    }
    Result<std::string> operator()(const DeleteBackupVersion& c) {
      ModelUser& u = users[c.user_id];
      if (!u.versions.erase(c.version)) {
        if (c.version <= u.last) return std::string("{}");
        return Status::NotFound("");
      }
      std::erase_if(u.keys, [&](const auto& kv) { return std::get<0>(kv.first) == c.version; });
      return std::string("{}");
    }
    Result<std::string> operator()(const PutBackupKeys& c) {
      ModelUser& u = users[c.user_id];
      if (u.versions.empty()) return Status::NotFound("");
      auto& [current, info] = *u.versions.rbegin();
      if (current != c.version) {
        return event::CanonicalJson(
            json::object{{"current_version", std::to_string(current)}, {"wrong_version", true}});
      }
      bool changed = false;
      for (const BackupKeyEntry& k : c.keys) {
        auto key = std::make_tuple(c.version, k.room_id, k.session_id);
        auto it = u.keys.find(key);
        if (it != u.keys.end() && !Better(k.data, it->second)) continue;
        if (it == u.keys.end()) ++info.count;
        u.keys[key] = k.data;
        changed = true;
      }
      if (changed) ++info.etag;
      return CountEtag(info);
    }
    Result<std::string> operator()(const DeleteBackupKeys& c) {
      ModelUser& u = users[c.user_id];
      auto v = u.versions.find(c.version);
      if (v == u.versions.end()) return Status::NotFound("");
      const size_t erased = std::erase_if(u.keys, [&](const auto& kv) {
        const auto& [version, room, session] = kv.first;
        return version == c.version && (!c.room_id || room == *c.room_id) &&
               (!c.session_id || session == *c.session_id);
      });
      v->second.count -= erased;
      if (erased > 0) ++v->second.etag;
      return CountEtag(v->second);
    }
  };
  return std::visit(Visitor{users}, c);
}

uint64_t Seed() {
  if (const char* text = std::getenv("NEBU_TEST_SEED")) return std::strtoull(text, nullptr, 10);
  return std::random_device{}();
}

TEST(BackupPropertyTest, TwoStoresAndAModelAgreeOnARandomSequence) {
  const uint64_t seed = Seed();
  std::cout << "seed " << seed << " (replay with NEBU_TEST_SEED=" << seed << ")\n";
  std::mt19937_64 rng(seed);
  auto pick = [&](uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng); };
  const std::string users[] = {"@a:hs", "@b:hs"};
  const std::string rooms[] = {"!r1:hs", "!r2:hs", "!r3:hs"};
  const std::string algorithms[] = {"alg.one", "alg.two"};
  TempStore stores[2];
  std::map<std::string, ModelUser> model;

  for (size_t step = 0; step < kSteps; ++step) {
    const std::string& user = users[pick(2)];
    const uint64_t version = 1 + pick(model[user].last + 2);  // sometimes unknown
    auto data = [&] {
      return BackupKeyData{.first_message_index = static_cast<int64_t>(pick(4)),
                           .forwarded_count = static_cast<int64_t>(pick(3)),
                           .is_verified = pick(2) == 1,
                           .session_data = {{"step", static_cast<int64_t>(step)}}};
    };
    BackupCommand command;
    switch (pick(10)) {
      case 0:
        command =
            CreateBackupVersion{user, algorithms[pick(2)], {{"k", static_cast<int64_t>(step)}}};
        break;
      case 1:
        command = UpdateBackupVersion{
            user, version, algorithms[pick(2)], {{"u", static_cast<int64_t>(step)}}};
        break;
      case 2:
        command = DeleteBackupVersion{user, version};
        break;
      case 3:
      case 4: {
        DeleteBackupKeys d{.user_id = user, .version = version};
        if (pick(3) > 0) d.room_id = rooms[pick(3)];
        if (d.room_id && pick(2) == 1) d.session_id = "s" + std::to_string(pick(4));
        command = d;
        break;
      }
      default: {
        // Mostly the current version, so that uploads land.
        PutBackupKeys put{.user_id = user, .version = version};
        if (!model[user].versions.empty() && pick(4) > 0) {
          put.version = model[user].versions.rbegin()->first;
        }
        std::map<std::pair<std::string, std::string>, BackupKeyData> entries;
        for (uint64_t n = 1 + pick(4); n > 0; --n) {
          entries[{rooms[pick(3)], "s" + std::to_string(pick(4))}] = data();
        }
        for (auto& [where, d] : entries) put.keys.push_back({where.first, where.second, d});
        command = put;
      }
    }
    auto payload = EncodeBackupCommand(command);
    ASSERT_TRUE(payload.ok()) << payload.status().ToString();
    Result<std::string> expected = ModelApply(model, command);
    for (TempStore& s : stores) {
      rocksdb::WriteBatch batch;
      Result<std::string> outcome = ApplyBackupCommand(s.store(), batch, *payload);
      ASSERT_EQ(outcome.ok(), expected.ok())
          << "step " << step << " " << *payload << ": " << outcome.status().ToString();
      if (!outcome.ok()) {
        EXPECT_EQ(outcome.status().code(), expected.status().code()) << "step " << step;
        continue;  // a refused command writes nothing (the state machine drops the batch)
      }
      EXPECT_EQ(*outcome, *expected) << "step " << step << " " << *payload;
      ASSERT_TRUE(s.store().Write(batch, false).ok());
    }
    ASSERT_EQ(Dump(stores[0].store(), storage::Cf::kKeyBackup),
              Dump(stores[1].store(), storage::Cf::kKeyBackup))
        << "step " << step;
  }
  // The stored state is the model's.
  for (const std::string& user : users) {
    const ModelUser& u = model[user];
    auto current = GetBackupVersion(stores[0].store(), user, std::nullopt);
    ASSERT_TRUE(current.ok());
    ASSERT_EQ(current->has_value(), !u.versions.empty());
    for (const auto& [number, info] : u.versions) {
      auto stored = GetBackupVersion(stores[0].store(), user, number);
      ASSERT_TRUE(stored.ok() && stored->has_value());
      EXPECT_EQ((*stored)->count, info.count);
      EXPECT_EQ((*stored)->etag, info.etag);
      EXPECT_EQ((*stored)->auth_data, info.auth_data);
      auto listed = ListBackupKeys(stores[0].store(), user, number, std::nullopt);
      ASSERT_TRUE(listed.ok());
      size_t n = 0;
      for (const auto& [room, sessions] : *listed) n += sessions.at("sessions").as_object().size();
      EXPECT_EQ(n, info.count);
    }
    for (const auto& [key, data] : u.keys) {
      auto stored = GetBackupKey(stores[0].store(), user, std::get<0>(key), std::get<1>(key),
                                 std::get<2>(key));
      ASSERT_TRUE(stored.ok() && stored->has_value());
      EXPECT_TRUE(**stored == data);
    }
  }
}

}  // namespace
}  // namespace nebu::e2ee
