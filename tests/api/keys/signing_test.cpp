// Goal: cross-signing through /keys/device_signing/upload (UIA only when replacing
// keys, signatures by the master key verified), /keys/signatures/upload (who may
// sign what, ed25519 signatures verified) and /keys/query (which signatures and keys
// each caller sees).
// Method: KeysApiTest (real engine on tmpfs, Router::Handle) with real ed25519 key
// pairs (OpenSSL) signing the JSON the Matrix way.
#include <gtest/gtest.h>

#include <latch>
#include <thread>
#include <vector>

#include "tests/api/keys/keys_testing.h"
#include "tests/engine/e2ee/ed25519_testing.h"

namespace nebu::api {
namespace {

using e2ee::testing::Ed25519Key;

// A user's three cross-signing key pairs.
struct CrossSigning {
  Ed25519Key master, self_signing, user_signing;
};

json::object SigningKey(const std::string& user_id, const std::string& usage, const Ed25519Key& key,
                        const Ed25519Key* master = nullptr) {
  json::object o{{"user_id", user_id},
                 {"usage", json::array{usage}},
                 {"keys", json::object{{"ed25519:" + key.public_key(), key.public_key()}}}};
  if (master != nullptr) master->Sign(o, user_id, master->public_key());
  return o;
}

json::object UploadBody(const std::string& user_id, const CrossSigning& keys) {
  return json::object{
      {"master_key", SigningKey(user_id, "master", keys.master)},
      {"self_signing_key", SigningKey(user_id, "self_signing", keys.self_signing, &keys.master)},
      {"user_signing_key", SigningKey(user_id, "user_signing", keys.user_signing, &keys.master)}};
}

class SigningApiTest : public KeysApiTest {
 protected:
  json::value Query(const std::string& token, const std::string& user_id) {
    Response r = Call("POST", "/keys/query", token,
                      json::object{{"device_keys", json::object{{user_id, json::array{}}}}});
    EXPECT_EQ(r.status, 200) << r.body;
    return Body(r);
  }
  static json::object PasswordAuth(std::string_view user, std::string_view password) {
    return json::object{{"type", "m.login.password"},
                        {"identifier", json::object{{"type", "m.id.user"}, {"user", user}}},
                        {"password", password}};
  }
};

TEST_F(SigningApiTest, FirstUploadNeedsNoAuthAndReplacingNeedsThePassword) {
  std::string alice = RegisterWithPassword("alice");
  CrossSigning first, second;
  const uint64_t before = engine_->stream_position();
  Response r =
      Call("POST", "/keys/device_signing/upload", alice, UploadBody("@alice:localhost", first));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_GT(engine_->stream_position(), before);  // a kDeviceKeys stream entry
  // The same keys again (a retry): no UIA.
  r = Call("POST", "/keys/device_signing/upload", alice, UploadBody("@alice:localhost", first));
  EXPECT_EQ(r.status, 200) << r.body;

  json::object replacement = UploadBody("@alice:localhost", second);
  r = Call("POST", "/keys/device_signing/upload", alice, replacement);
  ASSERT_EQ(r.status, 401) << r.body;
  EXPECT_EQ(Body(r).at("flows").at(0).at("stages").at(0), "m.login.password");
  replacement["auth"] = PasswordAuth("alice", "wrong password!");
  r = Call("POST", "/keys/device_signing/upload", alice, replacement);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(ErrCode(r), "M_FORBIDDEN");
  const std::string first_id = "ed25519:" + first.master.public_key();
  EXPECT_TRUE(Query(alice, "@alice:localhost")
                  .at("master_keys")
                  .at("@alice:localhost")
                  .at("keys")
                  .as_object()
                  .contains(first_id));
  replacement["auth"] = PasswordAuth("alice", kPassword);
  r = Call("POST", "/keys/device_signing/upload", alice, replacement);
  ASSERT_EQ(r.status, 200) << r.body;
  json::value v = Query(alice, "@alice:localhost");
  EXPECT_TRUE(v.at("master_keys")
                  .at("@alice:localhost")
                  .at("keys")
                  .as_object()
                  .contains("ed25519:" + second.master.public_key()));
  EXPECT_TRUE(v.at("self_signing_keys").as_object().contains("@alice:localhost"));
  EXPECT_TRUE(v.at("user_signing_keys").as_object().contains("@alice:localhost"));
}

// Two concurrent "first" uploads without auth, each with its own keys: whichever
// applies second finds the master key of the first (in apply, whatever its node read
// before) and is answered the UIA challenge. Exactly one succeeds per round.
TEST_F(SigningApiTest, RacingFirstUploadsWithoutAuthLetExactlyOneThrough) {
  constexpr int kRounds = 6;  // one fresh user each
  for (int round = 0; round < kRounds; ++round) {
    const std::string localpart = "racer" + std::to_string(round);
    const std::string user_id = "@" + localpart + ":localhost";
    const std::string token = RegisterWithPassword(localpart);
    CrossSigning keys[2];
    Response answers[2];
    std::latch start(2);
    std::vector<std::thread> threads;
    for (int i = 0; i < 2; ++i) {
      threads.emplace_back([&, i] {
        json::object body = UploadBody(user_id, keys[i]);
        start.arrive_and_wait();
        answers[i] = Call("POST", "/keys/device_signing/upload", token, body);
      });
    }
    for (std::thread& t : threads) t.join();
    const int winner = answers[0].status == 200 ? 0 : 1;
    ASSERT_EQ(answers[winner].status, 200) << answers[winner].body;
    ASSERT_EQ(answers[1 - winner].status, 401) << "round " << round << ": " << answers[1 - winner].body;
    EXPECT_EQ(Body(answers[1 - winner]).at("flows").at(0).at("stages").at(0), "m.login.password");
    EXPECT_TRUE(Query(token, user_id)
                    .at("master_keys")
                    .at(user_id)
                    .at("keys")
                    .as_object()
                    .contains("ed25519:" + keys[winner].master.public_key()));
  }
}

TEST_F(SigningApiTest, BadCrossSigningKeysAreRefused) {
  std::string alice = RegisterWithPassword("alice");
  CrossSigning keys;
  Ed25519Key stranger;
  // A self-signing key with no master key anywhere.
  Response r =
      Call("POST", "/keys/device_signing/upload", alice,
           json::object{{"self_signing_key", SigningKey("@alice:localhost", "self_signing",
                                                        keys.self_signing, &keys.master)}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(ErrCode(r), "M_MISSING_PARAM");
  // Signed by another key, or a signature that does not verify.
  json::object body = UploadBody("@alice:localhost", keys);
  json::object forged = SigningKey("@alice:localhost", "self_signing", keys.self_signing);
  stranger.Sign(forged, "@alice:localhost", keys.master.public_key());  // labelled as the master
  body["self_signing_key"] = forged;
  r = Call("POST", "/keys/device_signing/upload", alice, body);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(ErrCode(r), "M_INVALID_SIGNATURE");
  body = UploadBody("@alice:localhost", keys);
  body["user_signing_key"].as_object()["usage"] =
      json::array{"user_signing", "extra"};  // after signing
  r = Call("POST", "/keys/device_signing/upload", alice, body);
  EXPECT_EQ(ErrCode(r), "M_INVALID_SIGNATURE");
  // Another user's key, or the wrong usage.
  r = Call("POST", "/keys/device_signing/upload", alice,
           json::object{{"master_key", SigningKey("@bob:localhost", "master", keys.master)}});
  EXPECT_EQ(ErrCode(r), "M_INVALID_PARAM");
  r = Call(
      "POST", "/keys/device_signing/upload", alice,
      json::object{{"master_key", SigningKey("@alice:localhost", "self_signing", keys.master)}});
  EXPECT_EQ(ErrCode(r), "M_INVALID_PARAM");
  EXPECT_TRUE(Query(alice, "@alice:localhost").at("master_keys").as_object().empty());
}

TEST_F(SigningApiTest, SignaturesAreVerifiedStoredAndShownToWhomTheyConcern) {
  std::string alice = RegisterWithPassword("alice");
  std::string bob = RegisterWithPassword("bob");
  const std::string device = DeviceOf(alice);
  CrossSigning alice_keys, bob_keys;
  Ed25519Key device_key;
  json::object device_keys = DeviceKeys("@alice:localhost", device);
  device_keys["keys"].as_object()["ed25519:" + device] = device_key.public_key();
  device_keys.erase("signatures");
  device_key.Sign(device_keys, "@alice:localhost", device);
  ASSERT_EQ(Call("POST", "/keys/upload", alice, json::object{{"device_keys", device_keys}}).status,
            200);
  ASSERT_EQ(
      Call("POST", "/keys/device_signing/upload", alice, UploadBody("@alice:localhost", alice_keys))
          .status,
      200);
  ASSERT_EQ(Call("POST", "/keys/device_signing/upload", bob, UploadBody("@bob:localhost", bob_keys))
                .status,
            200);
  const std::string alice_master = alice_keys.master.public_key();

  // Alice signs her device with her self-signing key, and her master key with her device.
  json::object own_device = device_keys;
  alice_keys.self_signing.Sign(own_device, "@alice:localhost",
                               alice_keys.self_signing.public_key());
  json::object own_master = SigningKey("@alice:localhost", "master", alice_keys.master);
  device_key.Sign(own_master, "@alice:localhost", device);
  Response r = Call("POST", "/keys/signatures/upload", alice,
                    json::object{{"@alice:localhost",
                                  json::object{{device, own_device}, {alice_master, own_master}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(Body(r).at("failures").as_object().empty()) << r.body;

  // Bob signs Alice's master key with his user-signing key; he may not sign her device.
  json::object signed_master = SigningKey("@alice:localhost", "master", alice_keys.master);
  bob_keys.user_signing.Sign(signed_master, "@bob:localhost", bob_keys.user_signing.public_key());
  json::object signed_device = device_keys;
  bob_keys.user_signing.Sign(signed_device, "@bob:localhost", bob_keys.user_signing.public_key());
  r = Call("POST", "/keys/signatures/upload", bob,
           json::object{{"@alice:localhost",
                         json::object{{alice_master, signed_master}, {device, signed_device}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  json::value failures = Body(r).at("failures");
  EXPECT_EQ(failures.at("@alice:localhost").at(device).at("errcode"), "M_INVALID_SIGNATURE");
  EXPECT_FALSE(failures.at("@alice:localhost").as_object().contains(alice_master));

  json::value seen_by_alice = Query(alice, "@alice:localhost");
  const json::object& device_sigs = seen_by_alice.at("device_keys")
                                        .at("@alice:localhost")
                                        .at(device)
                                        .at("signatures")
                                        .at("@alice:localhost")
                                        .as_object();
  EXPECT_EQ(device_sigs.size(), 2u);  // the device's own and the self-signing key's
  EXPECT_TRUE(device_sigs.contains("ed25519:" + alice_keys.self_signing.public_key()));
  const json::object& master_sigs =
      seen_by_alice.at("master_keys").at("@alice:localhost").at("signatures").as_object();
  EXPECT_TRUE(master_sigs.at("@alice:localhost").as_object().contains("ed25519:" + device));
  EXPECT_FALSE(master_sigs.contains("@bob:localhost"));  // only the owner's and the caller's
  EXPECT_TRUE(seen_by_alice.at("user_signing_keys").as_object().contains("@alice:localhost"));

  json::value seen_by_bob = Query(bob, "@alice:localhost");
  EXPECT_TRUE(seen_by_bob.at("master_keys")
                  .at("@alice:localhost")
                  .at("signatures")
                  .at("@bob:localhost")
                  .as_object()
                  .contains("ed25519:" + bob_keys.user_signing.public_key()));
  EXPECT_TRUE(seen_by_bob.at("user_signing_keys").as_object().empty());  // not bob's own
  EXPECT_TRUE(seen_by_bob.at("device_keys")
                  .at("@alice:localhost")
                  .at(device)
                  .at("signatures")
                  .at("@alice:localhost")
                  .as_object()
                  .contains("ed25519:" + alice_keys.self_signing.public_key()));

  // A third user sees the owner's signatures (device by self-signing key, master key
  // by the device), not Bob's signature of Alice's master key; also when asking for
  // one device by ID.
  std::string carol = RegisterWithPassword("carol");
  Response asked = Call("POST", "/keys/query", carol,
                        json::object{{"device_keys",
                                      json::object{{"@alice:localhost", json::array{device}}}}});
  ASSERT_EQ(asked.status, 200) << asked.body;
  json::value seen_by_carol = Body(asked);
  const json::object& carol_master_sigs =
      seen_by_carol.at("master_keys").at("@alice:localhost").at("signatures").as_object();
  EXPECT_TRUE(carol_master_sigs.at("@alice:localhost").as_object().contains("ed25519:" + device));
  EXPECT_FALSE(carol_master_sigs.contains("@bob:localhost"));
  EXPECT_TRUE(seen_by_carol.at("device_keys")
                  .at("@alice:localhost")
                  .at(device)
                  .at("signatures")
                  .at("@alice:localhost")
                  .as_object()
                  .contains("ed25519:" + alice_keys.self_signing.public_key()));
  EXPECT_TRUE(seen_by_carol.at("self_signing_keys")
                  .at("@alice:localhost")
                  .at("signatures")
                  .at("@alice:localhost")
                  .as_object()
                  .contains("ed25519:" + alice_master));
  EXPECT_TRUE(seen_by_carol.at("user_signing_keys").as_object().empty());

  // A forged signature (right key ID, wrong key) and a key that differs from the
  // stored one are failures; nothing is stored for them.
  const uint64_t before = engine_->stream_position();
  Ed25519Key stranger;
  json::object forged = SigningKey("@alice:localhost", "master", alice_keys.master);
  stranger.Sign(forged, "@bob:localhost", bob_keys.user_signing.public_key());
  json::object other_key = SigningKey("@alice:localhost", "master", stranger);
  bob_keys.user_signing.Sign(other_key, "@bob:localhost", bob_keys.user_signing.public_key());
  for (const json::object& attempt : {forged, other_key}) {
    r = Call("POST", "/keys/signatures/upload", bob,
             json::object{{"@alice:localhost", json::object{{alice_master, attempt}}}});
    EXPECT_EQ(Body(r).at("failures").at("@alice:localhost").at(alice_master).at("errcode"),
              "M_INVALID_SIGNATURE");
  }
  EXPECT_EQ(engine_->stream_position(), before);
}

}  // namespace
}  // namespace nebu::api
