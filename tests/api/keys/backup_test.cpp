// Goal: server-side key backup (/room_keys/version, /room_keys/keys at its three
// levels) answers as the spec says: versions allocated per user and never reused,
// auth_data updated only for the same algorithm, etag and count following the keys,
// the spec's rule for replacing a key, M_WRONG_ROOM_KEYS_VERSION with
// current_version, M_NOT_FOUND; and that bad input (another user's version, huge
// bodies, bad JSON shapes) gets a Matrix error and changes nothing.
// Method: KeysApiTest (a real engine on tmpfs, real HTTP on loopback); the command
// codec directly for what HTTP cannot reach.
#include "engine/e2ee/backup.h"

#include <gtest/gtest.h>

#include "api/keys/backup_routes.h"
#include "engine/e2ee/backup_keys.h"
#include "tests/api/keys/keys_testing.h"

namespace nebu::api {
namespace {

constexpr std::string_view kAlgorithm = "m.megolm_backup.v1.curve25519-aes-sha2";
constexpr std::string_view kRoom = "!room:localhost";
constexpr std::string_view kOtherRoom = "!other:localhost";

json::object AuthData(std::string_view public_key) {
  return json::object{
      {"public_key", public_key},
      {"signatures", json::object{{"@alice:localhost", json::object{{"ed25519:DEV", "sig"}}}}}};
}

json::object KeyData(int64_t first_message_index, int64_t forwarded_count, bool is_verified,
                     std::string_view marker = "x") {
  return json::object{
      {"first_message_index", first_message_index},
      {"forwarded_count", forwarded_count},
      {"is_verified", is_verified},
      {"session_data", json::object{{"ephemeral", "eph"}, {"ciphertext", marker}, {"mac", "mac"}}}};
}

class BackupApiTest : public KeysApiTest {
 protected:
  std::string CreateVersion(const std::string& token, std::string_view public_key = "pk") {
    Response r = Call("POST", "/room_keys/version", token,
                      json::object{{"algorithm", kAlgorithm}, {"auth_data", AuthData(public_key)}});
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? std::string(Body(r).at("version").as_string()) : "";
  }
  json::value Current(const std::string& token) {
    Response r = Call("GET", "/room_keys/version", token);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? Body(r) : json::value();
  }
  Response PutAll(const std::string& token, const std::string& version, const json::object& rooms) {
    return Call("PUT", "/room_keys/keys?version=" + version, token, json::object{{"rooms", rooms}});
  }
  static json::object Rooms(std::string_view room, std::string_view session, json::object data) {
    return json::object{
        {room, json::object{{"sessions", json::object{{session, std::move(data)}}}}}};
  }
};

TEST_F(BackupApiTest, VersionsAreCreatedReadUpdatedAndDeletedPerUser) {
  std::string alice = Register("alice");
  Response r = Call("GET", "/room_keys/version", alice);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(ErrCode(r), "M_NOT_FOUND");

  EXPECT_EQ(CreateVersion(alice, "pk1"), "1");
  json::value current = Current(alice);
  EXPECT_EQ(current.at("version"), "1");
  EXPECT_EQ(current.at("algorithm").as_string(), kAlgorithm);
  EXPECT_EQ(current.at("auth_data").at("public_key"), "pk1");
  EXPECT_EQ(current.at("count"), 0);
  EXPECT_TRUE(current.at("etag").is_string());
  r = Call("GET", "/_matrix/client/r0/room_keys/version/1", alice);  // r0 too
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r), current);

  // Only auth_data changes; the algorithm and the body's version must match.
  r = Call("PUT", "/room_keys/version/1", alice,
           json::object{{"algorithm", "m.other"}, {"auth_data", AuthData("pk2")}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(ErrCode(r), "M_INVALID_PARAM");
  r = Call(
      "PUT", "/room_keys/version/1", alice,
      json::object{{"algorithm", kAlgorithm}, {"auth_data", AuthData("pk2")}, {"version", "2"}});
  EXPECT_EQ(ErrCode(r), "M_INVALID_PARAM");
  EXPECT_EQ(Current(alice).at("auth_data").at("public_key"), "pk1");  // unchanged
  r = Call(
      "PUT", "/room_keys/version/1", alice,
      json::object{{"algorithm", kAlgorithm}, {"auth_data", AuthData("pk2")}, {"version", "1"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Current(alice).at("auth_data").at("public_key"), "pk2");
  r = Call("PUT", "/room_keys/version/7", alice,
           json::object{{"algorithm", kAlgorithm}, {"auth_data", AuthData("pk2")}});
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(ErrCode(r), "M_NOT_FOUND");

  // A new version becomes current; deleting it makes the previous one current again;
  // deleting it twice succeeds; its number is never reused.
  EXPECT_EQ(CreateVersion(alice), "2");
  EXPECT_EQ(Current(alice).at("version"), "2");
  EXPECT_EQ(Call("DELETE", "/room_keys/version/2", alice).status, 200);
  EXPECT_EQ(Current(alice).at("version"), "1");
  EXPECT_EQ(Call("DELETE", "/room_keys/version/2", alice).status, 200);
  r = Call("GET", "/room_keys/version/2", alice);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(ErrCode(r), "M_NOT_FOUND");
  for (std::string_view unknown : {"99", "abc", "01", "-1", "99999999999999999999"}) {
    r = Call("DELETE", "/room_keys/version/" + std::string(unknown), alice);
    EXPECT_EQ(r.status, 404) << unknown;
    EXPECT_EQ(ErrCode(r), "M_NOT_FOUND") << unknown;
  }
  EXPECT_EQ(CreateVersion(alice), "3");

  // Versions are per user: Bob's first is "1" too, and he never sees Alice's.
  std::string bob = Register("bob");
  EXPECT_EQ(Call("GET", "/room_keys/version/3", bob).status, 404);
  EXPECT_EQ(Call("DELETE", "/room_keys/version/3", bob).status, 404);
  EXPECT_EQ(Current(alice).at("version"), "3");
  EXPECT_EQ(CreateVersion(bob, "bob-pk"), "1");
  EXPECT_EQ(Current(alice).at("version"), "3");
  EXPECT_EQ(Current(bob).at("auth_data").at("public_key"), "bob-pk");
}

TEST_F(BackupApiTest, KeysAtThreeLevelsWithEtagAndCount) {
  std::string alice = Register("alice");
  const std::string v = CreateVersion(alice);
  const std::string etag0(Current(alice).at("etag").as_string());

  json::object rooms = Rooms(kRoom, "s1", KeyData(0, 0, false, "a"));
  rooms[kRoom].as_object()["sessions"].as_object()["s2"] = KeyData(0, 0, false, "b");
  rooms[kOtherRoom] = json::object{{"sessions", json::object{{"s3", KeyData(0, 0, false, "c")}}}};
  Response r = PutAll(alice, v, rooms);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r).at("count"), 3);
  const std::string etag1(Body(r).at("etag").as_string());
  EXPECT_NE(etag1, etag0);
  json::value current = Current(alice);
  EXPECT_EQ(current.at("count"), 3);
  EXPECT_EQ(current.at("etag").as_string(), etag1);

  // The same keys again change nothing, not even the etag.
  r = PutAll(alice, v, rooms);
  EXPECT_EQ(Body(r).at("etag").as_string(), etag1);
  EXPECT_EQ(Body(r).at("count"), 3);

  // Reads at the three levels.
  r = Call("GET", "/room_keys/keys?version=" + v, alice);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r).at("rooms"), json::value(rooms));
  r = Call("GET", "/room_keys/keys/" + std::string(kRoom) + "?version=" + v, alice);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r), rooms.at(kRoom));
  r = Call("GET", "/room_keys/keys/" + std::string(kRoom) + "/s2?version=" + v, alice);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r), json::value(KeyData(0, 0, false, "b")));
  r = Call("GET", "/room_keys/keys/" + std::string(kRoom) + "/s9?version=" + v, alice);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(ErrCode(r), "M_NOT_FOUND");

  // Uploads at the room and session levels.
  r = Call("PUT", "/room_keys/keys/" + std::string(kRoom) + "?version=" + v, alice,
           json::object{{"sessions", json::object{{"s4", KeyData(1, 0, false)}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r).at("count"), 4);
  r = Call("PUT", "/room_keys/keys/" + std::string(kOtherRoom) + "/s5?version=" + v, alice,
           KeyData(2, 0, true));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r).at("count"), 5);
  const std::string etag2(Body(r).at("etag").as_string());

  // Deletes at the three levels; a delete of nothing keeps the etag.
  r = Call("DELETE", "/room_keys/keys/" + std::string(kRoom) + "/s1?version=" + v, alice);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r).at("count"), 4);
  EXPECT_NE(Body(r).at("etag").as_string(), etag2);
  r = Call("DELETE", "/room_keys/keys/" + std::string(kRoom) + "/s1?version=" + v, alice);
  EXPECT_EQ(Body(r).at("count"), 4);
  r = Call("DELETE", "/room_keys/keys/" + std::string(kRoom) + "?version=" + v, alice);
  EXPECT_EQ(Body(r).at("count"), 2);  // s2, s4 gone
  r = Call("GET", "/room_keys/keys/" + std::string(kRoom) + "?version=" + v, alice);
  EXPECT_EQ(Body(r), json::value(json::object{{"sessions", json::object{}}}));
  r = Call("DELETE", "/room_keys/keys?version=" + v, alice);
  EXPECT_EQ(Body(r).at("count"), 0);
  r = Call("GET", "/room_keys/keys?version=" + v, alice);
  EXPECT_EQ(Body(r), json::value(json::object{{"rooms", json::object{}}}));
  EXPECT_EQ(Current(alice).at("count"), 0);
}

TEST_F(BackupApiTest, AStoredKeyIsReplacedOnlyByABetterOne) {
  std::string alice = Register("alice");
  const std::string v = CreateVersion(alice);
  struct Case {
    json::object stored, incoming;
    bool replaced;
  };
  const Case cases[] = {
      {KeyData(5, 1, false, "old"), KeyData(9, 9, true, "new"), true},    // verified wins
      {KeyData(0, 0, true, "old"), KeyData(0, 0, false, "new"), false},   // unverified loses
      {KeyData(5, 1, false, "old"), KeyData(4, 9, false, "new"), true},   // lower index wins
      {KeyData(5, 1, true, "old"), KeyData(6, 0, true, "new"), false},    // higher index loses
      {KeyData(5, 3, false, "old"), KeyData(5, 2, false, "new"), true},   // fewer forwards win
      {KeyData(5, 3, false, "old"), KeyData(5, 4, false, "new"), false},  // more forwards lose
      {KeyData(5, 3, false, "old"), KeyData(5, 3, false, "new"), false},  // a tie keeps the old
  };
  int n = 0;
  for (const Case& c : cases) {
    const std::string session = "case" + std::to_string(n++);
    const std::string path =
        "/room_keys/keys/" + std::string(kRoom) + "/" + session + "?version=" + v;
    ASSERT_EQ(Call("PUT", path, alice, c.stored).status, 200);
    const json::value etag = Current(alice).at("etag");
    Response r = Call("PUT", path, alice, c.incoming);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(Body(Call("GET", path, alice)), json::value(c.replaced ? c.incoming : c.stored))
        << session;
    EXPECT_EQ(Body(r).at("etag") != etag, c.replaced) << session;
  }
}

TEST_F(BackupApiTest, UploadsGoToTheCurrentVersionOnly) {
  std::string alice = Register("alice");
  const std::string path = "/room_keys/keys/" + std::string(kRoom) + "/s1?version=";
  Response r = Call("PUT", path + "1", alice, KeyData(0, 0, false));
  EXPECT_EQ(r.status, 404);  // no backup at all
  EXPECT_EQ(ErrCode(r), "M_NOT_FOUND");
  const std::string v1 = CreateVersion(alice);
  ASSERT_EQ(Call("PUT", path + v1, alice, KeyData(0, 0, false)).status, 200);
  const std::string v2 = CreateVersion(alice);
  for (const std::string& stale : {v1, std::string("77"), std::string("abc")}) {
    r = Call("PUT", path + stale, alice, KeyData(0, 0, false));
    EXPECT_EQ(r.status, 403) << stale;
    EXPECT_EQ(ErrCode(r), "M_WRONG_ROOM_KEYS_VERSION") << stale;
    EXPECT_EQ(Body(r).at("current_version").as_string(), v2) << stale;
  }
  // The old version's keys can still be read (a restore from it) and deleted.
  r = Call("GET", "/room_keys/keys?version=" + v1, alice);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r).at("rooms").as_object().size(), 1u);
  r = Call("GET", "/room_keys/keys?version=" + v2, alice);
  EXPECT_TRUE(Body(r).at("rooms").as_object().empty());
  // Reads and deletes of a version that does not exist: 404; ?version= is required.
  for (std::string_view method : {"GET", "DELETE"}) {
    r = Call(std::string(method), "/room_keys/keys?version=77", alice);
    EXPECT_EQ(r.status, 404) << method;
    EXPECT_EQ(ErrCode(r), "M_NOT_FOUND") << method;
    r = Call(std::string(method), "/room_keys/keys", alice);
    EXPECT_EQ(r.status, 400) << method;
    EXPECT_EQ(ErrCode(r), "M_MISSING_PARAM") << method;
  }
  // Deleting a version deletes its keys.
  ASSERT_EQ(Call("DELETE", "/room_keys/version/" + v1, alice).status, 200);
  EXPECT_EQ(Call("GET", "/room_keys/keys?version=" + v1, alice).status, 404);
  const std::string v3 = CreateVersion(alice);
  ASSERT_EQ(Call("DELETE", "/room_keys/version/" + v2, alice).status, 200);
  ASSERT_EQ(Call("DELETE", "/room_keys/version/" + v3, alice).status, 200);
  r = Call("GET", "/room_keys/version", alice);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(engine_->Read().NewIterator(storage::Cf::kKeyBackup)->status().ok(), true);
  auto it = engine_->Read().NewIterator(storage::Cf::kKeyBackup);
  size_t records = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++records;
  EXPECT_EQ(records, 1u);  // only Alice's version counter is left
}

TEST_F(BackupApiTest, BadInputGetsAMatrixErrorAndChangesNothing) {
  std::string alice = Register("alice");
  std::string bob = Register("bob");
  const std::string v = CreateVersion(alice);
  ASSERT_EQ(PutAll(alice, v, Rooms(kRoom, "s1", KeyData(0, 0, false))).status, 200);
  const json::value before = Current(alice);
  const std::string keys = "/room_keys/keys?version=" + v;

  // Another user cannot touch Alice's version: to Bob, it does not exist.
  EXPECT_EQ(Call("PUT", keys, bob, json::object{{"rooms", Rooms(kRoom, "s9", KeyData(0, 0, true))}})
                .status,
            404);
  EXPECT_EQ(Call("DELETE", keys, bob).status, 404);
  EXPECT_EQ(Call("GET", keys, bob).status, 404);
  EXPECT_EQ(Call("PUT", "/room_keys/version/" + v, bob,
                 json::object{{"algorithm", kAlgorithm}, {"auth_data", AuthData("evil")}})
                .status,
            404);
  EXPECT_EQ(Call("GET", keys, "").status, 401);
  EXPECT_EQ(Call("POST", "/room_keys/version", "",
                 json::object{{"algorithm", kAlgorithm}, {"auth_data", AuthData("x")}})
                .status,
            401);

  struct Bad {
    std::string method, path, body;
    int status;
    std::string errcode;
  };
  const std::string room_path = "/room_keys/keys/" + std::string(kRoom) + "?version=" + v;
  const std::string session_path = "/room_keys/keys/" + std::string(kRoom) + "/s2?version=" + v;
  auto with = [](json::object data, std::string_view field, json::value value) {
    if (value.is_null()) {
      data.erase(field);
    } else {
      data[field] = std::move(value);
    }
    return json::serialize(data);
  };
  json::object big_session = KeyData(0, 0, false);
  big_session["session_data"].as_object()["ciphertext"] =
      std::string(e2ee::kBackupSessionDataBytesMax, 'A');
  json::object many;
  for (size_t i = 0; i <= e2ee::kBackupSessionsPerPutMax; ++i) {
    many["s" + std::to_string(i)] = KeyData(0, 0, false, "");
  }
  const Bad cases[] = {
      {"PUT", keys, "not json", 400, "M_NOT_JSON"},
      {"PUT", keys, "[]", 400, "M_BAD_JSON"},
      {"PUT", keys, "{}", 400, "M_BAD_JSON"},
      {"PUT", keys, R"({"rooms": []})", 400, "M_BAD_JSON"},
      {"PUT", keys, R"({"rooms": {"!r:localhost": {"sessions": []}}})", 400, "M_BAD_JSON"},
      {"PUT", keys, R"({"rooms": {"!r:localhost": {}}})", 400, "M_BAD_JSON"},
      {"PUT", keys, R"({"rooms": {"not-a-room": {"sessions": {}}}})", 400, "M_INVALID_PARAM"},
      {"PUT", session_path, "[1]", 400, "M_BAD_JSON"},
      {"PUT", session_path, with(KeyData(0, 0, false), "is_verified", "yes"), 400, "M_BAD_JSON"},
      {"PUT", session_path, with(KeyData(0, 0, false), "session_data", nullptr), 400, "M_BAD_JSON"},
      {"PUT", session_path, with(KeyData(0, 0, false), "first_message_index", nullptr), 400,
       "M_BAD_JSON"},
      {"PUT", session_path, with(KeyData(0, 0, false), "forwarded_count", 1.5), 400, "M_BAD_JSON"},
      {"PUT", session_path, with(KeyData(0, 0, false), "first_message_index", -1), 400,
       "M_INVALID_PARAM"},
      {"PUT", session_path, json::serialize(big_session), 413, "M_TOO_LARGE"},
      {"PUT", room_path, json::serialize(json::object{{"sessions", many}}), 413, "M_TOO_LARGE"},
      {"PUT", session_path, std::string(kBackupKeysBodyBytesMax + 1, ' '), 413, "M_TOO_LARGE"},
      {"PUT", "/room_keys/keys/not-a-room/s1?version=" + v, json::serialize(KeyData(0, 0, false)),
       400, "M_INVALID_PARAM"},
      {"POST", "/room_keys/version", R"({"algorithm": "a"})", 400, "M_MISSING_PARAM"},
      {"POST", "/room_keys/version", R"({"algorithm": 1, "auth_data": {}})", 400, "M_BAD_JSON"},
      {"POST", "/room_keys/version", R"({"algorithm": "a", "auth_data": "x"})", 400, "M_BAD_JSON"},
      {"POST", "/room_keys/version", R"({"algorithm": "", "auth_data": {}})", 400,
       "M_INVALID_PARAM"},
      {"POST", "/room_keys/version",
       json::serialize(json::object{
           {"algorithm", "a"},
           {"auth_data", json::object{{"k", std::string(e2ee::kBackupAuthDataBytesMax, 'x')}}}}),
       413, "M_TOO_LARGE"},
      {"PUT", "/room_keys/version/" + v, R"({"algorithm": 5, "auth_data": {}})", 400, "M_BAD_JSON"},
  };
  for (const Bad& bad : cases) {
    Response r = Call(bad.method, bad.path, alice, bad.body);
    EXPECT_EQ(r.status, bad.status)
        << bad.method << " " << bad.path << " " << bad.body.substr(0, 80);
    EXPECT_EQ(ErrCode(r), bad.errcode)
        << bad.method << " " << bad.path << " " << bad.body.substr(0, 80);
  }
  EXPECT_EQ(Current(alice), before);
  Response r = Call("GET", keys, alice);
  EXPECT_EQ(Body(r).at("rooms"), json::value(Rooms(kRoom, "s1", KeyData(0, 0, false))));
}

TEST_F(BackupApiTest, AUserHoldsAtMostTheVersionQuota) {
  std::string alice = Register("alice");
  for (size_t i = 0; i < e2ee::kBackupVersionsPerUserMax; ++i) {
    ASSERT_FALSE(CreateVersion(alice).empty()) << i;
  }
  Response r = Call("POST", "/room_keys/version", alice,
                    json::object{{"algorithm", kAlgorithm}, {"auth_data", AuthData("x")}});
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(ErrCode(r), "M_FORBIDDEN");
  ASSERT_EQ(Call("DELETE", "/room_keys/version/1", alice).status, 200);
  EXPECT_EQ(CreateVersion(alice), std::to_string(e2ee::kBackupVersionsPerUserMax + 1));
}

TEST_F(BackupApiTest, AUserHoldsAtMostTheKeyQuota) {
  std::string alice = Register("alice");
  const std::string v = CreateVersion(alice);
  ASSERT_EQ(PutAll(alice, v, Rooms(kRoom, "s0", KeyData(5, 0, false))).status, 200);
  // Storing 500,000 keys over HTTP takes too long for a unit test: the version record
  // is set to one key short of the quota, as if they were stored.
  json::value info = Current(alice);
  e2ee::BackupVersionInfo near_full{.version = 1,
                                    .algorithm = std::string(kAlgorithm),
                                    .auth_data = info.at("auth_data").as_object(),
                                    .count = e2ee::kBackupKeysPerUserMax - 1,
                                    .etag = 7};
  rocksdb::WriteBatch batch;
  ASSERT_TRUE(batch
                  .Put(engine_->store().handle(storage::Cf::kKeyBackup),
                       e2ee::backup_internal::VersionKey("@alice:localhost", 1),
                       e2ee::backup_internal::EncodeVersionRecord(near_full))
                  .ok());
  ASSERT_TRUE(engine_->store().Write(batch, /*sync=*/false).ok());

  json::object two = Rooms(kRoom, "s1", KeyData(0, 0, false));
  two[kRoom].as_object()["sessions"].as_object()["s2"] = KeyData(0, 0, false);
  Response r = PutAll(alice, v, two);
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(ErrCode(r), "M_FORBIDDEN");
  EXPECT_EQ(Current(alice).at("count"), static_cast<int64_t>(e2ee::kBackupKeysPerUserMax - 1));
  // A better copy of a stored key adds nothing: allowed at the quota.
  r = PutAll(alice, v, Rooms(kRoom, "s0", KeyData(1, 0, false)));
  EXPECT_EQ(r.status, 200) << r.body;
  r = PutAll(alice, v, Rooms(kRoom, "s1", KeyData(0, 0, false)));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r).at("count"), static_cast<int64_t>(e2ee::kBackupKeysPerUserMax));
  r = PutAll(alice, v, Rooms(kRoom, "s2", KeyData(0, 0, false)));
  EXPECT_EQ(ErrCode(r), "M_FORBIDDEN");
  // A second version counts against the same quota.
  const std::string v2 = CreateVersion(alice);
  r = PutAll(alice, v2, Rooms(kRoom, "s2", KeyData(0, 0, false)));
  EXPECT_EQ(ErrCode(r), "M_FORBIDDEN");
}

// A backup of a few thousand sessions of realistic size (~1 KiB of session_data):
// uploads of 1,000 keys (~1.2 MB, over the 256 KiB command) are split into several
// commands and answer the final count; the whole backup reads back key for key, as
// one answer and room by room; an answer over its bound is refused, not truncated.
TEST_F(BackupApiTest, AFewThousandSessionsUploadInSplitCommandsAndReadBackWhole) {
  std::string alice = Register("alice");
  const std::string v = CreateVersion(alice);
  constexpr size_t kUploads = 3;
  const std::string filler(1000, 'c');
  json::object expected;  // room -> {"sessions": {...}}
  int64_t etag_before = 0;
  for (size_t u = 0; u < kUploads; ++u) {
    json::object rooms;
    for (size_t k = 0; k < e2ee::kBackupSessionsPerPutMax; ++k) {
      const std::string room = "!r" + std::to_string(k % 7) + ":localhost";
      const std::string session = "u" + std::to_string(u) + "s" + std::to_string(k);
      json::value& entry = rooms[room];
      if (!entry.is_object()) entry = json::object{{"sessions", json::object{}}};
      entry.as_object()["sessions"].as_object()[session] =
          KeyData(static_cast<int64_t>(k), 0, false, filler + session);
    }
    const std::string body = json::serialize(json::object{{"rooms", rooms}});
    ASSERT_GT(body.size(), core::kCommandBytesMax * 4);
    Response r = Call("PUT", "/room_keys/keys?version=" + v, alice, body);
    ASSERT_EQ(r.status, 200) << r.body.substr(0, 200);
    EXPECT_EQ(Body(r).at("count"), static_cast<int64_t>((u + 1) * e2ee::kBackupSessionsPerPutMax));
    const int64_t etag = std::stoll(std::string(Body(r).at("etag").as_string()));
    EXPECT_GT(etag, etag_before);
    etag_before = etag;
    for (auto& [room, entry] : rooms) {
      json::value& into = expected[room];
      if (!into.is_object()) into = json::object{{"sessions", json::object{}}};
      for (auto& [session, data] : entry.as_object()["sessions"].as_object()) {
        into.as_object()["sessions"].as_object()[session] = data;
      }
    }
  }
  Response all = Call("GET", "/room_keys/keys?version=" + v, alice);
  ASSERT_EQ(all.status, 200);
  EXPECT_EQ(Body(all).at("rooms"), json::value(expected));
  Response one = Call("GET", "/room_keys/keys/!r3:localhost?version=" + v, alice);
  ASSERT_EQ(one.status, 200);
  EXPECT_EQ(Body(one).at("sessions"), expected.at("!r3:localhost").at("sessions"));
  Response none = Call("GET", "/room_keys/keys/!nothing:localhost?version=" + v, alice);
  ASSERT_EQ(none.status, 200);
  EXPECT_EQ(Body(none), (json::object{{"sessions", json::object{}}}));

  // The bound, with a small limit through the engine's read: refused whole.
  const core::Snapshot snap = engine_->Read();
  Result<std::string> bounded = e2ee::BackupKeysAnswer(snap, "@alice:localhost", 1, std::nullopt,
                                                       all.body.size() - 1);
  ASSERT_FALSE(bounded.ok());
  EXPECT_EQ(bounded.status().code(), StatusCode::kTooLarge);
  Result<std::string> exact =
      e2ee::BackupKeysAnswer(snap, "@alice:localhost", 1, std::nullopt, all.body.size());
  ASSERT_TRUE(exact.ok());
  EXPECT_EQ(*exact, all.body);
}

TEST_F(BackupApiTest, DeactivationDeletesTheBackup) {
  std::string alice = RegisterWithPassword("alice");
  std::string bob = RegisterWithPassword("bob");
  const std::string v = CreateVersion(alice);
  ASSERT_EQ(PutAll(alice, v, Rooms(kRoom, "s1", KeyData(0, 0, false))).status, 200);
  const std::string bob_v = CreateVersion(bob);
  ASSERT_EQ(PutAll(bob, bob_v, Rooms(kRoom, "s1", KeyData(0, 0, false))).status, 200);
  Response r = Call(
      "POST", "/account/deactivate", alice,
      json::object{{"auth", json::object{{"type", "m.login.password"},
                                         {"identifier",
                                          json::object{{"type", "m.id.user"}, {"user", "alice"}}},
                                         {"password", kPassword}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  auto view = engine_->Read();
  auto alice_v = e2ee::GetBackupVersion(view, "@alice:localhost", std::nullopt);
  ASSERT_TRUE(alice_v.ok());
  EXPECT_FALSE(alice_v->has_value());
  auto listed = e2ee::ListBackupKeys(view, "@alice:localhost", 1, std::nullopt);
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->empty());
  EXPECT_EQ(Current(bob).at("count"), 1);  // Bob's is untouched
}

TEST(BackupCommandTest, EncodeDecodeRoundTripsAndDecodeIsStrict) {
  e2ee::PutBackupKeys put{.user_id = "@a:localhost", .version = 3};
  put.keys.push_back({"!a:localhost", "s1", {.first_message_index = 1, .session_data = {}}});
  put.keys.push_back({"!b:localhost", "s0", {.is_verified = true}});
  const e2ee::BackupCommand commands[] = {
      e2ee::CreateBackupVersion{
          .user_id = "@a:localhost", .algorithm = "alg", .auth_data = {{"k", "v"}}},
      e2ee::UpdateBackupVersion{.user_id = "@a:localhost", .version = 2, .algorithm = "alg"},
      e2ee::DeleteBackupVersion{.user_id = "@a:localhost", .version = 2},
      put,
      e2ee::DeleteBackupKeys{
          .user_id = "@a:localhost", .version = 1, .room_id = "!a:localhost", .session_id = "s"},
  };
  for (const e2ee::BackupCommand& c : commands) {
    auto encoded = e2ee::EncodeBackupCommand(c);
    ASSERT_TRUE(encoded.ok()) << encoded.status().ToString();
    auto decoded = e2ee::DecodeBackupCommand(*encoded);
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    EXPECT_TRUE(*decoded == c) << *encoded;
  }
  for (
      std::string_view bad : {
          R"({"op":"nope","user_id":"@a:localhost"})",
          R"({"op":"delete_version","user_id":"@a:localhost","version":1,"extra":1})",
          R"({"op":"delete_version","user_id":"@a:localhost","version":0})",
          R"({"op":"delete_keys","user_id":"@a:localhost","version":1,"session_id":"s"})",
          R"({"op":"put_keys","user_id":"@a:localhost","version":1,"rooms":{"!a:localhost":{"s":{"first_message_index":0,"forwarded_count":0,"is_verified":false,"session_data":{},"x":1}}}})",
      }) {
    EXPECT_FALSE(e2ee::DecodeBackupCommand(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace nebu::api
