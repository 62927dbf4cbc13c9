// Goal: ApplyE2eeCommand stores what the endpoints need and the reads /sync makes see
// it: device keys (a stream entry only on change), one-time key counts, claims (lowest
// key ID, then the fallback key marked used), cross-signing keys and signatures,
// to-device queues with their stream positions, acknowledgement, idempotent txn ids,
// and pruning of deleted devices. A failed command writes nothing.
// Method: a real RocksDB on tmpfs with real accounts; commands encoded, applied and
// written one batch each, like the state machine does.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "engine/e2ee/e2ee.h"
#include "engine/e2ee/keys.h"
#include "engine/e2ee/signatures.h"
#include "engine/event/canonical_json.h"
#include "tests/engine/e2ee/e2ee_testing.h"
#include "tests/engine/e2ee/ed25519_testing.h"

namespace nebu::e2ee {
namespace {

namespace json = boost::json;
using storage::StreamEntry;
using testing::DeviceKeys;
using testing::SignedKey;

const std::string kAlice = "@alice:hs";
const std::string kBob = "@bob:hs";

json::value Parse(const Result<std::string>& text) {
  EXPECT_TRUE(text.ok()) << text.status().ToString();
  return text.ok() ? json::parse(*text) : json::value();
}

class E2eeApplyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_.AddDevice(kAlice, "PHONE");
    db_.AddDevice(kAlice, "LAPTOP");
    db_.AddDevice(kBob, "BOBDEV");
  }
  storage::Store& store() { return db_.store(); }

  Result<std::string> UploadOneTimeKeys(const std::string& device, std::vector<std::string> ids,
                                        std::string algorithm = "signed_curve25519") {
    UploadKeysCommand c{.user_id = kAlice, .device_id = device};
    for (const std::string& id : ids) c.one_time_keys[algorithm + ":" + id] = SignedKey("k" + id);
    return db_.Apply(c);
  }
  Result<std::string> Claim(const std::string& device,
                            std::string algorithm = "signed_curve25519") {
    return db_.Apply(ClaimKeysCommand{{{kAlice, device, algorithm}}});
  }
  uint64_t Count(const std::string& device, const std::string& algorithm = "signed_curve25519") {
    auto counts = OneTimeKeyCounts(store(), kAlice, device);
    EXPECT_TRUE(counts.ok());
    return counts.ok() && counts->contains(algorithm) ? counts->at(algorithm) : 0;
  }

  testing::E2eeStore db_;
};

TEST_F(E2eeApplyTest, DeviceKeysAreStoredAndAnnouncedOnlyWhenTheyChange) {
  UploadKeysCommand c{
      .user_id = kAlice, .device_id = "PHONE", .device_keys = DeviceKeys(kAlice, "PHONE")};
  ASSERT_TRUE(db_.Apply(c).ok());
  EXPECT_EQ(db_.StreamAfter(0), std::vector<StreamEntry>{StreamEntry::DeviceKeys(kAlice)});
  auto stored = GetDeviceKeys(store(), kAlice, "PHONE");
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ(**stored, *event::CanonicalJson(*c.device_keys));
  ASSERT_TRUE(db_.Apply(c).ok());  // the same again: no new entry
  EXPECT_EQ(db_.position(), 1u);
  c.device_keys = DeviceKeys(kAlice, "PHONE", "other-curve");
  ASSERT_TRUE(db_.Apply(c).ok());
  EXPECT_EQ(db_.position(), 2u);
  auto all = ListDeviceKeys(store(), kAlice);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].first, "PHONE");
}

TEST_F(E2eeApplyTest, UploadForAnUnknownDeviceIsNotFoundAndWritesNothing) {
  UploadKeysCommand c{
      .user_id = kAlice, .device_id = "GHOST", .device_keys = DeviceKeys(kAlice, "GHOST")};
  c.one_time_keys["signed_curve25519:A"] = SignedKey("a");
  EXPECT_EQ(db_.Apply(c).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(db_.StreamAfter(0).empty());
  EXPECT_EQ(db_.position(), 0u);
  auto keys = GetDeviceKeys(store(), kAlice, "GHOST");
  ASSERT_TRUE(keys.ok());
  EXPECT_FALSE(keys->has_value());
}

TEST_F(E2eeApplyTest, OneTimeKeysAreCountedAndARetriedUploadIsNotCountedTwice) {
  json::value out = Parse(UploadOneTimeKeys("PHONE", {"AAAAAQ", "AAAAAg", "AAAAAw"}));
  EXPECT_EQ(out.at("one_time_key_counts").at("signed_curve25519").as_int64(), 3);
  out = Parse(UploadOneTimeKeys("PHONE", {"AAAAAw", "AAAABA"}));
  EXPECT_EQ(out.at("one_time_key_counts").at("signed_curve25519").as_int64(), 4);
  EXPECT_EQ(Count("PHONE"), 4u);
  EXPECT_EQ(Count("LAPTOP"), 0u);  // reported, as zero
  auto counts = OneTimeKeyCounts(store(), kAlice, "LAPTOP");
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->count("signed_curve25519"), 1u);
  EXPECT_TRUE(db_.StreamAfter(0).empty());  // counts are not stream changes
}

TEST_F(E2eeApplyTest, ReusingAKeyIdWithOtherContentIsRefusedAndChangesNothing) {
  ASSERT_TRUE(UploadOneTimeKeys("PHONE", {"A"}).ok());
  UploadKeysCommand c{.user_id = kAlice, .device_id = "PHONE"};
  c.one_time_keys["signed_curve25519:B"] = SignedKey("new");
  c.one_time_keys["signed_curve25519:A"] = SignedKey("different");
  EXPECT_EQ(db_.Apply(c).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Count("PHONE"), 1u);
}

TEST_F(E2eeApplyTest, ClaimsTakeTheLowestKeyIdThenTheFallbackKeyWhichStaysUntilReplaced) {
  UploadKeysCommand c{.user_id = kAlice, .device_id = "PHONE"};
  c.one_time_keys["signed_curve25519:B"] = SignedKey("kB");
  c.one_time_keys["signed_curve25519:A"] = SignedKey("kA");
  c.fallback_keys["signed_curve25519:F"] = SignedKey("kF");
  ASSERT_TRUE(db_.Apply(c).ok());
  EXPECT_EQ(*UnusedFallbackKeyTypes(store(), kAlice, "PHONE"),
            std::vector<std::string>{"signed_curve25519"});

  json::value first = Parse(Claim("PHONE"));
  EXPECT_EQ(first.at("one_time_keys").at(kAlice).at("PHONE").at("signed_curve25519:A").at("key"),
            "kA");
  json::value second = Parse(Claim("PHONE"));
  EXPECT_TRUE(second.at("one_time_keys")
                  .at(kAlice)
                  .at("PHONE")
                  .as_object()
                  .contains("signed_curve25519:B"));
  EXPECT_EQ(Count("PHONE"), 0u);
  EXPECT_FALSE(UnusedFallbackKeyTypes(store(), kAlice, "PHONE")->empty());

  for (int i = 0; i < 2; ++i) {  // the fallback key is handed out again and again
    json::value fb = Parse(Claim("PHONE"));
    EXPECT_EQ(fb.at("one_time_keys").at(kAlice).at("PHONE").at("signed_curve25519:F").at("key"),
              "kF");
  }
  EXPECT_TRUE(UnusedFallbackKeyTypes(store(), kAlice, "PHONE")->empty());

  // Re-uploading the same fallback key keeps it used; a new one is unused.
  ASSERT_TRUE(db_.Apply(c).ok());
  EXPECT_EQ(Count("PHONE"), 2u);  // A and B were claimed, so they count again
  EXPECT_TRUE(UnusedFallbackKeyTypes(store(), kAlice, "PHONE")->empty());
  UploadKeysCommand replace{.user_id = kAlice, .device_id = "PHONE"};
  replace.fallback_keys["signed_curve25519:G"] = SignedKey("kG");
  ASSERT_TRUE(db_.Apply(replace).ok());
  EXPECT_EQ(UnusedFallbackKeyTypes(store(), kAlice, "PHONE")->size(), 1u);
}

TEST_F(E2eeApplyTest, ClaimingFromADeviceWithoutKeysReturnsNothing) {
  json::value out = Parse(db_.Apply(ClaimKeysCommand{
      {{kAlice, "LAPTOP", "signed_curve25519"}, {"@nobody:hs", "X", "signed_curve25519"}}}));
  EXPECT_TRUE(out.at("one_time_keys").as_object().empty());
}

TEST_F(E2eeApplyTest, ToDeviceMessagesQueuePerDeviceWithTheirStreamPositions) {
  SendToDeviceCommand send{kBob,
                           "BOBDEV",
                           "t1",
                           "m.room_key",
                           {{kAlice, "PHONE", {{"n", 1}}},
                            {kAlice, "GHOST", {{"n", 2}}},
                            {"@nobody:hs", "*", {{"n", 3}}}}};
  json::value out = Parse(db_.Apply(send));
  EXPECT_EQ(out.at("queued").as_int64(), 1);  // unknown devices and users are dropped
  EXPECT_EQ(db_.StreamAfter(0), std::vector<StreamEntry>{StreamEntry::ToDevice(kAlice, "PHONE")});

  auto messages = ToDeviceMessages(store(), kAlice, "PHONE", 0, db_.position(), 10);
  ASSERT_TRUE(messages.ok());
  ASSERT_EQ(messages->size(), 1u);
  EXPECT_EQ((*messages)[0].position, 1u);
  EXPECT_EQ((*messages)[0].sender, kBob);
  EXPECT_EQ((*messages)[0].type, "m.room_key");
  EXPECT_EQ((*messages)[0].content, "{\"n\":1}");

  // The same txn id from the same device queues nothing.
  EXPECT_EQ(Parse(db_.Apply(send)).at("queued").as_int64(), 0);
  EXPECT_EQ(db_.position(), 1u);

  // "*" reaches every device of the user at one stream position.
  ASSERT_TRUE(
      db_.Apply(SendToDeviceCommand{kBob, "BOBDEV", "t2", "m.x", {{kAlice, "*", {{"n", 4}}}}})
          .ok());
  EXPECT_EQ(db_.StreamAfter(1), std::vector<StreamEntry>{StreamEntry::ToDevice(kAlice, "*")});
  for (const char* device : {"PHONE", "LAPTOP"}) {
    auto got = ToDeviceMessages(store(), kAlice, device, 1, 2, 10);
    ASSERT_TRUE(got.ok());
    ASSERT_EQ(got->size(), 1u) << device;
    EXPECT_EQ((*got)[0].position, 2u);
  }
  // Ranges and limits.
  EXPECT_EQ(ToDeviceMessages(store(), kAlice, "PHONE", 0, 2, 1)->size(), 1u);
  EXPECT_EQ(ToDeviceMessages(store(), kAlice, "PHONE", 0, 2, 10)->size(), 2u);
  EXPECT_EQ(ToDeviceMessages(store(), kAlice, "PHONE", 0, 1, 10)->size(), 1u);
  EXPECT_TRUE(ToDeviceMessages(store(), kAlice, "PHONE", 2, 2, 10)->empty());
}

TEST_F(E2eeApplyTest, AcknowledgedMessagesAreDeletedUpToThePosition) {
  for (int i = 1; i <= 3; ++i) {
    ASSERT_TRUE(
        db_
            .Apply(SendToDeviceCommand{
                kBob, "BOBDEV", "t" + std::to_string(i), "m.x", {{kAlice, "PHONE", {{"i", i}}}}})
            .ok());
  }
  EXPECT_TRUE(*HasToDeviceUpTo(store(), kAlice, "PHONE", 1));
  EXPECT_FALSE(*HasToDeviceUpTo(store(), kAlice, "LAPTOP", 3));
  ASSERT_TRUE(db_.ApplyPayload(*EncodeDeleteToDevice(kAlice, "PHONE", 2)).ok());
  EXPECT_FALSE(*HasToDeviceUpTo(store(), kAlice, "PHONE", 2));
  EXPECT_TRUE(*HasToDeviceUpTo(store(), kAlice, "PHONE", 3));
  auto left = ToDeviceMessages(store(), kAlice, "PHONE", 0, 3, 10);
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ((*left)[0].content, "{\"i\":3}");
}

// Fills `device` of kAlice with `n` messages from `sender`, in commands of at most
// kToDeviceMessagesPerRequestMax; each must queue all of its messages.
void Fill(testing::E2eeStore& db, const std::string& sender, const std::string& device, size_t n) {
  const size_t per = std::min(n, kToDeviceMessagesPerRequestMax);
  for (size_t sent = 0; sent < n; sent += per) {
    SendToDeviceCommand c{sender, "SENDERDEV", "bulk" + std::to_string(sent), "m.x", {}};
    c.messages.assign(per, ToDeviceTarget{kAlice, device, {}});
    ASSERT_EQ(Parse(db.Apply(c)).at("queued").as_int64(), static_cast<int64_t>(per));
  }
}

TEST_F(E2eeApplyTest, AFullQueueDropsFurtherMessages) {
  // kToDeviceQueueMax messages from senders that each stay within their quota.
  for (size_t s = 0; s < kToDeviceQueueMax / kToDeviceFromSenderMax; ++s) {
    Fill(db_, "@sender" + std::to_string(s) + ":hs", "PHONE", kToDeviceFromSenderMax);
  }
  EXPECT_EQ(
      Parse(db_.Apply(SendToDeviceCommand{kBob, "BOBDEV", "over", "m.x", {{kAlice, "PHONE", {}}}}))
          .at("queued")
          .as_int64(),
      0);
  ASSERT_TRUE(db_.ApplyPayload(*EncodeDeleteToDevice(kAlice, "PHONE", db_.position())).ok());
  EXPECT_EQ(
      Parse(db_.Apply(SendToDeviceCommand{kBob, "BOBDEV", "after", "m.x", {{kAlice, "PHONE", {}}}}))
          .at("queued")
          .as_int64(),
      1);
}

TEST_F(E2eeApplyTest, OneSenderQueuesAtMostItsQuotaForADevice) {
  Fill(db_, kBob, "PHONE", kToDeviceFromSenderMax);
  // Only the over-quota device: refused, nothing written (the txn can be retried).
  const storage::StreamPosition before = db_.position();
  Result<std::string> over =
      db_.Apply(SendToDeviceCommand{kBob, "BOBDEV", "over", "m.x", {{kAlice, "PHONE", {}}}});
  EXPECT_EQ(over.status().code(), StatusCode::kForbidden);
  EXPECT_NE(over.status().message().find("quota"), std::string::npos);
  EXPECT_EQ(db_.position(), before);
  // Among other targets, the over-quota device is skipped and the rest is queued.
  EXPECT_EQ(Parse(db_.Apply(SendToDeviceCommand{
                      kBob, "BOBDEV", "mixed", "m.x", {{kAlice, "PHONE", {}}, {kAlice, "LAPTOP", {}}}}))
                .at("queued")
                .as_int64(),
            1);
  // Another sender is not affected.
  EXPECT_EQ(
      Parse(db_.Apply(SendToDeviceCommand{"@carol:hs", "C", "c1", "m.x", {{kAlice, "PHONE", {}}}}))
          .at("queued")
          .as_int64(),
      1);
  // Acknowledged messages give the quota back.
  ASSERT_TRUE(db_.ApplyPayload(*EncodeDeleteToDevice(kAlice, "PHONE", db_.position())).ok());
  EXPECT_EQ(
      Parse(db_.Apply(SendToDeviceCommand{kBob, "BOBDEV", "over", "m.x", {{kAlice, "PHONE", {}}}}))
          .at("queued")
          .as_int64(),
      1);
}

TEST_F(E2eeApplyTest, OneTimeKeysAreCappedAcrossAlgorithms) {
  const size_t per = kOneTimeKeysPerUploadMax;
  size_t uploaded = 0;
  for (int algorithm = 0; uploaded < kOneTimeKeysPerDeviceMax; ++algorithm) {
    std::vector<std::string> ids;
    for (size_t i = 0; i < per && uploaded < kOneTimeKeysPerDeviceMax; ++i, ++uploaded) {
      ids.push_back("K" + std::to_string(uploaded));
    }
    ASSERT_TRUE(UploadOneTimeKeys("PHONE", ids, "alg" + std::to_string(algorithm)).ok());
  }
  const auto before = db_.position();
  Result<std::string> over = UploadOneTimeKeys("PHONE", {"ONE"}, "yet_another_algorithm");
  EXPECT_EQ(over.status().code(), StatusCode::kForbidden);
  EXPECT_NE(over.status().message().find("quota"), std::string::npos);
  EXPECT_EQ(Count("PHONE", "yet_another_algorithm"), 0u);
  EXPECT_EQ(db_.position(), before);
  // A retried upload of stored keys is still fine; the other device has its own quota.
  EXPECT_TRUE(UploadOneTimeKeys("PHONE", {"K0"}, "alg0").ok());
  EXPECT_TRUE(UploadOneTimeKeys("LAPTOP", {"ONE"}).ok());
  // A claim frees a slot.
  ASSERT_TRUE(Claim("PHONE", "alg0").ok());
  EXPECT_TRUE(UploadOneTimeKeys("PHONE", {"ONE"}, "yet_another_algorithm").ok());
}

TEST_F(E2eeApplyTest, FallbackKeysAreCappedPerDevice) {
  auto upload = [&](size_t first, size_t n) {
    UploadKeysCommand c{.user_id = kAlice, .device_id = "PHONE"};
    for (size_t i = first; i < first + n; ++i) {
      c.fallback_keys["alg" + std::to_string(i) + ":F"] = SignedKey("f" + std::to_string(i));
    }
    return db_.Apply(c);
  };
  for (size_t i = 0; i < kFallbackKeysPerDeviceMax; i += kFallbackKeysPerUploadMax) {
    ASSERT_TRUE(upload(i, kFallbackKeysPerUploadMax).ok());
  }
  EXPECT_EQ(upload(kFallbackKeysPerDeviceMax, 1).status().code(), StatusCode::kForbidden);
  EXPECT_TRUE(upload(0, 1).ok());  // replacing one it has
}

// Two "first" uploads built from the same view (no master key yet) and both marked
// without_uia: apply decides on the applied state, so the second is refused and
// nothing of it is stored; a repeat of the stored keys still passes, and the old
// command form (no without_uia) applies unconditionally.
TEST_F(E2eeApplyTest, AnUploadWithoutUiaIsRefusedOnceAMasterKeyExists) {
  auto master = [](const std::string& pub) {
    return json::object{{"user_id", kAlice},
                        {"usage", json::array{"master"}},
                        {"keys", json::object{{"ed25519:" + pub, pub}}}};
  };
  const UploadSigningKeysCommand first{
      .user_id = kAlice, .master_key = master("ONE"), .without_uia = true};
  const UploadSigningKeysCommand second{
      .user_id = kAlice, .master_key = master("TWO"), .without_uia = true};
  ASSERT_TRUE(db_.Apply(first).ok());
  const uint64_t position = db_.position();
  EXPECT_EQ(db_.Apply(second).status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(db_.position(), position);
  EXPECT_EQ(**GetCrossSigningKey(store(), kAlice, kUsageMaster), *event::CanonicalJson(master("ONE")));
  EXPECT_TRUE(db_.Apply(first).ok());  // a retry of the stored keys
  // The form logs hold from before without_uia existed.
  ASSERT_TRUE(db_.ApplyPayload(R"({"master_key":)" + *event::CanonicalJson(master("OLD")) +
                               R"(,"op":"upload_signing_keys","user_id":"@alice:hs"})")
                  .ok());
  EXPECT_EQ(**GetCrossSigningKey(store(), kAlice, kUsageMaster), *event::CanonicalJson(master("OLD")));
}

// A self-signing key checked by the proposer against master key ONE, applied after
// another command replaced the master key with TWO: apply checks against TWO and
// refuses it (nothing stored); signed by TWO, or with its own master key in the same
// command, it is stored. The old command form (no flag) is stored unchecked.
TEST_F(E2eeApplyTest, SubKeysMustBeSignedByTheMasterKeyInEffectWhenApplied) {
  testing::Ed25519Key one, two, self;
  auto master = [](const testing::Ed25519Key& key) {
    return json::object{{"user_id", kAlice},
                        {"usage", json::array{"master"}},
                        {"keys", json::object{{"ed25519:" + key.public_key(), key.public_key()}}}};
  };
  auto self_signing = [&](const testing::Ed25519Key& signer) {
    json::object key{{"user_id", kAlice},
                     {"usage", json::array{"self_signing"}},
                     {"keys", json::object{{"ed25519:" + self.public_key(), self.public_key()}}}};
    signer.Sign(key, kAlice, signer.public_key());
    return key;
  };
  ASSERT_TRUE(db_.Apply(UploadSigningKeysCommand{.user_id = kAlice, .master_key = master(one)}).ok());
  // The proposer read ONE and built this; before it applies, TWO replaces ONE.
  const UploadSigningKeysCommand stale{.user_id = kAlice,
                                       .self_signing_key = self_signing(one),
                                       .check_master_signature = true};
  ASSERT_TRUE(db_.Apply(UploadSigningKeysCommand{.user_id = kAlice, .master_key = master(two)}).ok());
  const uint64_t position = db_.position();
  Result<std::string> refused = db_.Apply(stale);
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(refused.status().message().starts_with(kNotSignedByMaster));
  EXPECT_FALSE(GetCrossSigningKey(store(), kAlice, kUsageSelfSigning)->has_value());
  EXPECT_EQ(db_.position(), position);

  // Signed by the master key in effect: stored.
  ASSERT_TRUE(db_.Apply(UploadSigningKeysCommand{.user_id = kAlice,
                                                 .self_signing_key = self_signing(two),
                                                 .check_master_signature = true})
                  .ok());
  EXPECT_EQ(**GetCrossSigningKey(store(), kAlice, kUsageSelfSigning),
            *event::CanonicalJson(self_signing(two)));
  // With its own master key in the command, that one is the one in effect.
  ASSERT_TRUE(db_.Apply(UploadSigningKeysCommand{.user_id = kAlice,
                                                 .master_key = master(one),
                                                 .self_signing_key = self_signing(one),
                                                 .check_master_signature = true})
                  .ok());
  // Without any master key: kNoMasterSigningKey.
  Result<std::string> no_master = db_.Apply(UploadSigningKeysCommand{
      .user_id = kBob, .self_signing_key = self_signing(one), .check_master_signature = true});
  EXPECT_TRUE(no_master.status().message().starts_with(kNoMasterSigningKey));
  // The old form is not checked in apply (logs from before the flag replay unchanged).
  ASSERT_TRUE(db_.Apply(UploadSigningKeysCommand{.user_id = kAlice,
                                                 .self_signing_key = self_signing(two)})
                  .ok());
  // The flag round-trips through the log's encoding.
  Result<std::string> payload = EncodeE2eeCommand(stale);
  ASSERT_TRUE(payload.ok());
  EXPECT_NE(payload->find("\"check_master_signature\":true"), std::string::npos);
  EXPECT_EQ(std::get<UploadSigningKeysCommand>(*DecodeE2eeCommand(*payload)), stale);
}

// Bob's user-signing key U1 signs Alice's master key; the proposer checked it, but
// before the command applies Bob replaces U1 with U2: apply checks against the keys
// in effect, reports the entry in "failures" and stores nothing; U2's signature
// passes. The old command form (no flag) is stored unchecked.
TEST_F(E2eeApplyTest, SignaturesAreCheckedAgainstTheKeysInEffectWhenApplied) {
  testing::Ed25519Key alice_master, u1, u2;
  auto key = [](const std::string& user, const char* usage, const testing::Ed25519Key& k) {
    return json::object{{"user_id", user},
                        {"usage", json::array{usage}},
                        {"keys", json::object{{"ed25519:" + k.public_key(), k.public_key()}}}};
  };
  const json::object master = key(kAlice, "master", alice_master);
  ASSERT_TRUE(db_.Apply(UploadSigningKeysCommand{.user_id = kAlice, .master_key = master}).ok());
  ASSERT_TRUE(
      db_.Apply(UploadSigningKeysCommand{.user_id = kBob, .user_signing_key = key(kBob, "user_signing", u1)})
          .ok());
  auto signature_by = [&](const testing::Ed25519Key& k) {
    json::object copy = master;
    k.Sign(copy, kBob, k.public_key());
    return std::string(copy.at("signatures").at(kBob).at("ed25519:" + k.public_key()).as_string());
  };
  const std::string target = alice_master.public_key();
  const UploadSignaturesCommand stale{
      kBob, {{kAlice, target, "ed25519:" + u1.public_key(), signature_by(u1)}}, true};
  ASSERT_TRUE(
      db_.Apply(UploadSigningKeysCommand{.user_id = kBob, .user_signing_key = key(kBob, "user_signing", u2)})
          .ok());
  json::value refused = Parse(db_.Apply(stale));
  EXPECT_EQ(refused.at("failures").at(kAlice).at(target).at("errcode"), "M_INVALID_SIGNATURE");
  EXPECT_TRUE(SignaturesOf(store(), kAlice, target)->empty());
  // A forged one (U2's key ID, U1's signature) fails too; U2's own passes.
  const UploadSignaturesCommand forged{
      kBob, {{kAlice, target, "ed25519:" + u2.public_key(), signature_by(u1)}}, true};
  EXPECT_TRUE(Parse(db_.Apply(forged)).as_object().contains("failures"));
  const UploadSignaturesCommand good{
      kBob, {{kAlice, target, "ed25519:" + u2.public_key(), signature_by(u2)}}, true};
  EXPECT_EQ(Parse(db_.Apply(good)), json::parse("{}"));
  EXPECT_EQ(SignaturesOf(store(), kAlice, target)->size(), 1u);
  // The flag round-trips; the old form is stored unchecked.
  EXPECT_EQ(std::get<UploadSignaturesCommand>(*DecodeE2eeCommand(*EncodeE2eeCommand(stale))), stale);
  ASSERT_TRUE(db_.Apply(UploadSignaturesCommand{kBob, {{kAlice, target, "ed25519:OLD", "sig"}}}).ok());
  EXPECT_EQ(SignaturesOf(store(), kAlice, target)->size(), 2u);
}

TEST_F(E2eeApplyTest, CrossSigningKeysAndSignaturesAreStoredAndAnnounced) {
  json::object master{{"user_id", kAlice},
                      {"usage", json::array{"master"}},
                      {"keys", json::object{{"ed25519:MPUB", "MPUB"}}}};
  ASSERT_TRUE(db_.Apply(UploadSigningKeysCommand{.user_id = kAlice, .master_key = master}).ok());
  EXPECT_EQ(db_.StreamAfter(0), std::vector<StreamEntry>{StreamEntry::DeviceKeys(kAlice)});
  ASSERT_TRUE(db_.Apply(UploadSigningKeysCommand{.user_id = kAlice, .master_key = master}).ok());
  EXPECT_EQ(db_.position(), 1u);  // unchanged: no entry
  auto stored = GetCrossSigningKey(store(), kAlice, kUsageMaster);
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ(**stored, *event::CanonicalJson(master));
  EXPECT_FALSE(GetCrossSigningKey(store(), kAlice, kUsageSelfSigning)->has_value());

  ASSERT_TRUE(
      db_.Apply(UploadSignaturesCommand{kBob, {{kAlice, "MPUB", "ed25519:BUSK", "sig1"}}}).ok());
  EXPECT_EQ(db_.StreamAfter(1), std::vector<StreamEntry>{StreamEntry::DeviceKeys(kAlice)});
  auto signatures = SignaturesOf(store(), kAlice, "MPUB");
  ASSERT_TRUE(signatures.ok());
  EXPECT_EQ(*signatures, (std::vector<StoredSignature>{{kBob, "ed25519:BUSK", "sig1"}}));
}

// Deleting a device now deletes its e2ee records in the same command (removal_test.cpp);
// prune_devices stays for logs written before, and finds nothing left to do.
TEST_F(E2eeApplyTest, DeletingADeviceLeavesPruningNothingOfItAndTheOthersUntouched) {
  for (const char* device : {"PHONE", "LAPTOP"}) {
    UploadKeysCommand c{
        .user_id = kAlice, .device_id = device, .device_keys = DeviceKeys(kAlice, device)};
    c.one_time_keys["signed_curve25519:A"] = SignedKey("a");
    c.fallback_keys["signed_curve25519:F"] = SignedKey("f");
    ASSERT_TRUE(db_.Apply(c).ok());
    ASSERT_TRUE(db_.Apply(SendToDeviceCommand{kBob,
                                              "BOBDEV",
                                              "t" + std::to_string(std::string(device).size()),
                                              "m.x",
                                              {{kAlice, device, {}}}})
                    .ok());
    ASSERT_TRUE(
        db_.Apply(UploadSignaturesCommand{kAlice, {{kAlice, device, "ed25519:SSK", "s"}}}).ok());
  }
  const storage::StreamPosition before = db_.position();
  db_.RemoveDevice(kAlice, "PHONE");
  EXPECT_EQ(db_.StreamAfter(before),
            std::vector<StreamEntry>{StreamEntry::DeviceKeys(kAlice, true)});
  ASSERT_TRUE(db_.Apply(PruneDevicesCommand{kAlice}).ok());
  EXPECT_EQ(db_.position(), before + 1);  // the prune announced nothing

  EXPECT_FALSE(GetDeviceKeys(store(), kAlice, "PHONE")->has_value());
  EXPECT_TRUE(ToDeviceMessages(store(), kAlice, "PHONE", 0, before, 10)->empty());
  EXPECT_TRUE(UnusedFallbackKeyTypes(store(), kAlice, "PHONE")->empty());
  EXPECT_EQ(Count("PHONE"), 0u);
  EXPECT_TRUE(SignaturesOf(store(), kAlice, "PHONE")->empty());
  // LAPTOP keeps everything.
  EXPECT_TRUE(GetDeviceKeys(store(), kAlice, "LAPTOP")->has_value());
  EXPECT_EQ(Count("LAPTOP"), 1u);
  EXPECT_EQ(ToDeviceMessages(store(), kAlice, "LAPTOP", 0, before, 10)->size(), 1u);
  EXPECT_EQ(SignaturesOf(store(), kAlice, "LAPTOP")->size(), 1u);
  // Nothing left of PHONE in any e2ee family.
  for (storage::Cf cf : {storage::Cf::kDeviceKeys, storage::Cf::kOneTimeKeys,
                         storage::Cf::kToDevice, storage::Cf::kCrossSigning}) {
    for (const auto& row : accounts::testing::Dump(store(), cf)) {
      EXPECT_EQ(std::get<1>(row).find("PHONE"), std::string::npos) << storage::CfName(cf);
    }
  }
}

}  // namespace
}  // namespace nebu::e2ee
