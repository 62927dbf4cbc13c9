// Goal: /keys/upload, /keys/query, /keys/claim and /keys/changes answer as the spec
// says on a real engine, refuse bad input with the
// Matrix error and change nothing, and what they store is what /sync reads
// (OneTimeKeyCounts, UnusedFallbackKeyTypes, the kDeviceKeys stream entries).
// Method: KeysApiTest (real engine on tmpfs, Router::Handle, no sockets).
#include <gtest/gtest.h>

#include "tests/api/keys/keys_testing.h"

namespace nebu::api {
namespace {

TEST_F(KeysApiTest, UploadAnswersCountsAndQueryReturnsTheDeviceKeys) {
  std::string alice = Register("alice");
  std::string device = DeviceOf(alice);
  json::object body{{"device_keys", DeviceKeys("@alice:localhost", device)},
                    {"one_time_keys", json::object{{"signed_curve25519:AAAAAQ", SignedKey("k1")},
                                                   {"signed_curve25519:AAAAAg", SignedKey("k2")}}}};
  Response r = Call("POST", "/keys/upload", alice, body);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r).at("one_time_key_counts").at("signed_curve25519").as_int64(), 2);

  std::string bob = Register("bob");
  r = Call("POST", "/keys/query", bob,
           json::object{{"device_keys", json::object{{"@alice:localhost", json::array{}},
                                                     {"@nobody:localhost", json::array{}}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  json::value v = Body(r);
  const json::value& keys = v.at("device_keys").at("@alice:localhost").at(device);
  EXPECT_EQ(keys.at("keys"), body["device_keys"].at("keys"));
  EXPECT_EQ(keys.at("signatures"), body["device_keys"].at("signatures"));
  EXPECT_TRUE(v.at("device_keys").at("@nobody:localhost").as_object().empty());
  EXPECT_TRUE(v.at("failures").as_object().empty());
  EXPECT_TRUE(v.at("user_signing_keys").as_object().empty());

  // Only the devices asked for; the r0 prefix answers the same.
  r = Call("POST", "/_matrix/client/r0/keys/query", bob,
           json::object{{"device_keys", json::object{{"@alice:localhost", json::array{"OTHER"}}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(Body(r).at("device_keys").at("@alice:localhost").as_object().empty());
}

TEST_F(KeysApiTest, QueryShowsTheDeviceDisplayNameAndListsRemoteUsersAsFailures) {
  std::string alice = Register("alice");
  ASSERT_EQ(
      Call("PUT", "/devices/" + DeviceOf(alice), alice, json::object{{"display_name", "Phone"}})
          .status,
      200);
  ASSERT_EQ(UploadDeviceKeys(alice).status, 200);
  json::object users{{"@alice:localhost", json::array{}}, {"@carol:remote.example", json::array{}}};
  Response r = Call("POST", "/keys/query", alice, json::object{{"device_keys", users}});
  ASSERT_EQ(r.status, 200) << r.body;
  json::value v = Body(r);
  EXPECT_EQ(v.at("device_keys")
                .at("@alice:localhost")
                .at(DeviceOf(alice))
                .at("unsigned")
                .at("device_display_name"),
            "Phone");
  EXPECT_TRUE(v.at("failures").as_object().contains("remote.example"));
}

TEST_F(KeysApiTest, UploadRefusesKeysOfAnotherDeviceOrUserAndStoresNothing) {
  std::string alice = Register("alice");
  std::string device = DeviceOf(alice);
  for (const auto& keys :
       {DeviceKeys("@alice:localhost", "NOTMINE"), DeviceKeys("@bob:localhost", device)}) {
    Response r = Call("POST", "/keys/upload", alice, json::object{{"device_keys", keys}});
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(ErrCode(r), "M_INVALID_PARAM");
  }
  auto stored = e2ee::ListDeviceKeys(engine_->store(), "@alice:localhost");
  ASSERT_TRUE(stored.ok());
  EXPECT_TRUE(stored->empty());
}

TEST_F(KeysApiTest, BadBodiesAndTokensGetMatrixErrors) {
  std::string alice = Register("alice");
  const uint64_t before = engine_->stream_position();
  Response r = Call("POST", "/keys/upload", alice, std::string("{not json"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(ErrCode(r), "M_NOT_JSON");
  r = Call("POST", "/keys/upload", alice, json::object{{"device_keys", "nope"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(ErrCode(r), "M_BAD_JSON");
  r = Call("POST", "/keys/upload", alice,
           json::object{{"one_time_keys", json::object{{"no-colon", "k"}}}});
  EXPECT_EQ(r.status, 400) << r.body;
  r = Call("POST", "/keys/upload", alice,
           json::object{{"fallback_keys", json::object{{"alg:1", "a"}, {"alg:2", "b"}}}});
  EXPECT_EQ(r.status, 400) << r.body;
  json::object many;
  for (size_t i = 0; i <= e2ee::kOneTimeKeysPerUploadMax; ++i)
    many["alg:" + std::to_string(i)] = "k";
  r = Call("POST", "/keys/upload", alice, json::object{{"one_time_keys", many}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(ErrCode(r), "M_INVALID_PARAM");
  r = Call("POST", "/keys/query", alice, json::object{});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(ErrCode(r), "M_MISSING_PARAM");
  r = Call("POST", "/keys/claim", alice, json::object{{"one_time_keys", json::array{}}});
  EXPECT_EQ(ErrCode(r), "M_BAD_JSON");
  for (const char* path : {"/keys/upload", "/keys/query", "/keys/claim"}) {
    r = Call("POST", path, "nebu_unknown", json::object{});
    EXPECT_EQ(r.status, 401) << path;
    EXPECT_EQ(ErrCode(r), "M_UNKNOWN_TOKEN");
    r = Call("POST", path, "", json::object{});
    EXPECT_EQ(ErrCode(r), "M_MISSING_TOKEN");
  }
  EXPECT_EQ(engine_->stream_position(), before);
  auto counts = e2ee::OneTimeKeyCounts(engine_->store(), "@alice:localhost", DeviceOf(alice));
  EXPECT_EQ(counts->at("signed_curve25519"), 0u);
}

TEST_F(KeysApiTest, ClaimsExhaustOneTimeKeysThenReturnTheFallbackKey) {
  std::string alice = Register("alice");
  std::string bob = Register("bob");
  std::string device = DeviceOf(alice);
  Response r = Call(
      "POST", "/keys/upload", alice,
      json::object{
          {"one_time_keys", json::object{{"signed_curve25519:AAAAAg", SignedKey("k2")},
                                         {"signed_curve25519:AAAAAQ", SignedKey("k1")}}},
          {"fallback_keys", json::object{{"signed_curve25519:AAAAAw", SignedKey("fb", true)}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(*e2ee::UnusedFallbackKeyTypes(engine_->store(), "@alice:localhost", device),
            std::vector<std::string>{"signed_curve25519"});
  const json::object claim{
      {"one_time_keys",
       json::object{{"@alice:localhost", json::object{{device, "signed_curve25519"}}}}}};
  std::vector<std::string> got;
  for (int i = 0; i < 4; ++i) {
    r = Call("POST", "/keys/claim", bob, claim);
    ASSERT_EQ(r.status, 200) << r.body;
    json::value v = Body(r);
    EXPECT_TRUE(v.at("failures").as_object().empty());
    const json::object& keys = v.at("one_time_keys").at("@alice:localhost").at(device).as_object();
    ASSERT_EQ(keys.size(), 1u);
    got.emplace_back(keys.begin()->key());
  }
  EXPECT_EQ(got,
            (std::vector<std::string>{"signed_curve25519:AAAAAQ", "signed_curve25519:AAAAAg",
                                      "signed_curve25519:AAAAAw", "signed_curve25519:AAAAAw"}));
  EXPECT_EQ(
      e2ee::OneTimeKeyCounts(engine_->store(), "@alice:localhost", device)->at("signed_curve25519"),
      0u);
  EXPECT_TRUE(e2ee::UnusedFallbackKeyTypes(engine_->store(), "@alice:localhost", device)->empty());

  // A device without keys, an unknown user and a remote user.
  r = Call("POST", "/keys/claim", bob,
           json::object{
               {"one_time_keys",
                json::object{{"@bob:localhost", json::object{{DeviceOf(bob), "signed_curve25519"}}},
                             {"@x:remote.example", json::object{{"D", "signed_curve25519"}}}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(Body(r).at("one_time_keys").as_object().empty());
  EXPECT_TRUE(Body(r).at("failures").as_object().contains("remote.example"));
}

TEST_F(KeysApiTest, ChangesListsUsersSharingARoomWhoseKeysChanged) {
  std::string alice = Register("alice");
  std::string bob = Register("bob");
  std::string carol = Register("carol");
  std::string room = CreateRoom(alice, json::object{{"preset", "public_chat"}});
  ASSERT_EQ(Post(bob, "/join/" + room), 200);
  const std::string from = SyncToken();
  ASSERT_EQ(UploadDeviceKeys(bob).status, 200);
  ASSERT_EQ(UploadDeviceKeys(carol).status, 200);  // shares no room with alice
  const std::string to = SyncToken() + "_0_0";

  Response r = Call("GET", "/keys/changes?from=" + from + "&to=" + to, alice);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r).at("changed"), json::array{"@bob:localhost"});
  EXPECT_TRUE(Body(r).at("left").as_array().empty());
  r = Call("GET", "/keys/changes?from=" + to + "&to=" + to, alice);
  EXPECT_TRUE(Body(r).at("changed").as_array().empty());
  r = Call("GET", "/keys/changes?from=" + from + "&to=" + to, carol);  // carol sees herself
  EXPECT_EQ(Body(r).at("changed"), json::array{"@carol:localhost"});

  // Bob leaves the only room he shared with Alice: he is in `left`, not `changed`.
  const std::string before_leave = SyncToken();
  ASSERT_EQ(Post(bob, "/rooms/" + room + "/leave"), 200);
  ASSERT_EQ(UploadDeviceKeys(alice).status, 200);
  r = Call("GET", "/keys/changes?from=" + before_leave + "&to=" + SyncToken(), alice);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r).at("changed"), json::array{"@alice:localhost"});
  EXPECT_EQ(Body(r).at("left"), json::array{"@bob:localhost"});

  r = Call("GET", "/keys/changes?from=x1&to=" + to, alice);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(ErrCode(r), "M_INVALID_PARAM");
  r = Call("GET", "/keys/changes?from=" + from, alice);
  EXPECT_EQ(ErrCode(r), "M_MISSING_PARAM");
}

TEST_F(KeysApiTest, LoggingOutADeviceDeletesItsKeysAndAnnouncesTheChange) {
  std::string alice = Register("alice");
  std::string second = Login("@alice:localhost");
  const std::string device = DeviceOf(alice);
  ASSERT_EQ(UploadDeviceKeys(alice, /*one_time_key=*/true).status, 200);
  ASSERT_EQ(UploadDeviceKeys(second).status, 200);
  const uint64_t before = engine_->stream_position();
  ASSERT_EQ(Post(alice, "/logout"), 200);
  // The answer came after the prune applied.
  auto keys = e2ee::ListDeviceKeys(engine_->store(), "@alice:localhost");
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_EQ((*keys)[0].first, DeviceOf(second));
  EXPECT_EQ(
      e2ee::OneTimeKeyCounts(engine_->store(), "@alice:localhost", device)->at("signed_curve25519"),
      0u);
  auto it = engine_->store().NewIterator(storage::Cf::kStream);
  it->Seek(storage::U64Key(before + 1));
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(*storage::DecodeStreamEntry(it->value().ToStringView()),
            storage::StreamEntry::DeviceKeys("@alice:localhost", true));
}

TEST_F(KeysApiTest, DeletingADeviceWithUiaDeletesItsKeys) {
  std::string alice = RegisterWithPassword("alice");
  std::string second = Login("@alice:localhost");
  const std::string gone = DeviceOf(second);
  ASSERT_EQ(UploadDeviceKeys(second).status, 200);
  Response r = Call("DELETE", "/devices/" + gone, alice,
                    json::object{{"auth", json::object{{"type", "m.login.password"},
                                                       {"user", "alice"},
                                                       {"password", kPassword}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(e2ee::GetDeviceKeys(engine_->store(), "@alice:localhost", gone)->has_value());
  r = Call("POST", "/keys/query", alice,
           json::object{{"device_keys", json::object{{"@alice:localhost", json::array{}}}}});
  EXPECT_TRUE(Body(r).at("device_keys").at("@alice:localhost").as_object().empty());
}

TEST_F(KeysApiTest, KeysAndQueuesSurviveARestart) {
  std::string alice = Register("alice");
  std::string bob = Register("bob");
  const std::string device = DeviceOf(alice);
  ASSERT_EQ(UploadDeviceKeys(alice, /*one_time_key=*/true).status, 200);
  ASSERT_EQ(Call("PUT", "/sendToDevice/m.x/t1", bob,
                 json::object{{"messages", json::object{{"@alice:localhost",
                                                         json::object{{device, json::object{}}}}}}})
                .status,
            200);
  const uint64_t position = engine_->stream_position();
  engine_.reset();  // the routes are not used again: they hold the old engine
  auto reopened =
      core::Engine::Open({.data_dir = dir_.path(), .server_name = "localhost", .clock = &clock_});
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  engine_ = std::move(reopened).value();
  EXPECT_EQ(engine_->stream_position(), position);
  EXPECT_TRUE(e2ee::GetDeviceKeys(engine_->store(), "@alice:localhost", device)->has_value());
  EXPECT_EQ(
      e2ee::OneTimeKeyCounts(engine_->store(), "@alice:localhost", device)->at("signed_curve25519"),
      1u);
  EXPECT_EQ(
      e2ee::ToDeviceMessages(engine_->store(), "@alice:localhost", device, 0, position, 10)->size(),
      1u);
}

}  // namespace
}  // namespace nebu::api
