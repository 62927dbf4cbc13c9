// Goal: every account command that deletes a device deletes, in the same command, all
// of that device's e2ee records (device keys, one-time and fallback keys, to-device
// queue, signatures on its keys) and announces the change on the stream; deactivation
// also deletes the user's cross-signing keys; logging in again with a device ID keeps
// its keys; a command that fails deletes nothing.
// Method: a real RocksDB on tmpfs; account and e2ee commands applied and written one
// batch each, like the state machine does (tests/engine/e2ee/e2ee_testing.h).
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "engine/accounts/accounts.h"
#include "engine/e2ee/e2ee.h"
#include "tests/engine/accounts/temp_store.h"
#include "tests/engine/e2ee/e2ee_testing.h"

namespace nebu::e2ee {
namespace {

namespace json = boost::json;
using storage::StreamEntry;
using testing::DeviceKeys;
using testing::SignedKey;

const std::string kRemovalAlice = "@alice:hs";
const std::string kRemovalBob = "@bob:hs";

class E2eeRemovalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_.AddDevice(kRemovalAlice, "PHONE");
    db_.AddDevice(kRemovalAlice, "LAPTOP");
    db_.AddDevice(kRemovalBob, "BOBDEV");
    for (const char* device : {"PHONE", "LAPTOP"}) GiveKeys(kRemovalAlice, device);
    GiveKeys(kRemovalBob, "BOBDEV");
  }
  storage::Store& store() { return db_.store(); }

  // Device keys, a one-time key, a fallback key, a queued to-device message and a
  // signature on the device's keys.
  void GiveKeys(const std::string& user, const std::string& device) {
    UploadKeysCommand c{.user_id = user, .device_id = device, .device_keys = DeviceKeys(user, device)};
    c.one_time_keys["signed_curve25519:A"] = SignedKey("a" + device);
    c.fallback_keys["signed_curve25519:F"] = SignedKey("f" + device);
    ASSERT_TRUE(db_.Apply(c).ok());
    ASSERT_TRUE(
        db_.Apply(SendToDeviceCommand{
                      kRemovalBob, "BOBDEV", "t-" + user + device, "m.x", {{user, device, {}}}})
            .ok());
    ASSERT_TRUE(db_.Apply(UploadSignaturesCommand{user, {{user, device, "ed25519:SSK", "s"}}}).ok());
  }
  void GiveCrossSigningKeys(const std::string& user) {
    json::object key{{"user_id", user}, {"usage", json::array{"master"}},
                     {"keys", json::object{{"ed25519:MPK", "MPK"}}}};
    UploadSigningKeysCommand c{.user_id = user, .master_key = key};
    ASSERT_TRUE(db_.Apply(c).ok());
    ASSERT_TRUE(
        db_.Apply(UploadSignaturesCommand{kRemovalBob, {{user, "MPK", "ed25519:BOBUSK", "s"}}})
            .ok());
  }

  // Whether any record of (user, device) is left in an e2ee column family.
  bool AnythingLeft(const std::string& user, const std::string& device) {
    if (GetDeviceKeys(store(), user, device)->has_value()) return true;
    if (OneTimeKeyCounts(store(), user, device)->at(std::string(kSignedCurve25519)) != 0) return true;
    if (!UnusedFallbackKeyTypes(store(), user, device)->empty()) return true;
    if (!ToDeviceMessages(store(), user, device, 0, db_.position(), 10)->empty()) return true;
    if (!SignaturesOf(store(), user, device)->empty()) return true;
    // A claim finds nothing either (no one-time key, no fallback key).
    auto claimed = db_.Apply(ClaimKeysCommand{{{user, device, "signed_curve25519"}}});
    EXPECT_TRUE(claimed.ok());
    return json::parse(*claimed).at("one_time_keys").as_object().contains(user);
  }
  bool AllLeft(const std::string& user, const std::string& device) {
    return GetDeviceKeys(store(), user, device)->has_value() &&
           OneTimeKeyCounts(store(), user, device)->at(std::string(kSignedCurve25519)) == 1 &&
           UnusedFallbackKeyTypes(store(), user, device)->size() == 1 &&
           ToDeviceMessages(store(), user, device, 0, db_.position(), 10)->size() == 1 &&
           SignaturesOf(store(), user, device)->size() == 1;
  }

  testing::E2eeStore db_;
};

TEST_F(E2eeRemovalTest, DeleteDeviceRemovesItsKeysInTheSameCommandAndAnnouncesIt) {
  const storage::StreamPosition before = db_.position();
  ASSERT_TRUE(db_.ApplyAccount(accounts::DeleteDeviceCommand{kRemovalAlice, "PHONE"}).ok());
  EXPECT_EQ(db_.StreamAfter(before),
            std::vector<StreamEntry>{StreamEntry::DeviceKeys(kRemovalAlice, true)});
  EXPECT_FALSE(AnythingLeft(kRemovalAlice, "PHONE"));
  EXPECT_TRUE(AllLeft(kRemovalAlice, "LAPTOP"));
  EXPECT_TRUE(AllLeft(kRemovalBob, "BOBDEV"));
  EXPECT_EQ(*ListDeviceKeys(store(), kRemovalAlice),
            (std::vector<std::pair<std::string, std::string>>{
                {"LAPTOP", *GetDeviceKeys(store(), kRemovalAlice, "LAPTOP").value()}}));
}

TEST_F(E2eeRemovalTest, LogoutRemovesTheDevicesKeys) {
  ASSERT_TRUE(db_.ApplyAccount(accounts::LogoutCommand{kRemovalAlice, "LAPTOP"}).ok());
  EXPECT_FALSE(AnythingLeft(kRemovalAlice, "LAPTOP"));
  EXPECT_TRUE(AllLeft(kRemovalAlice, "PHONE"));
}

TEST_F(E2eeRemovalTest, LogoutAllAndPasswordChangeRemoveTheKeysOfEveryDeviceTheyDelete) {
  ASSERT_TRUE(db_.ApplyAccount(accounts::SetPasswordCommand{
                                   .user_id = kRemovalAlice,
                                   .password_hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
                                   .logout_devices = true,
                                   .keep_device_id = "PHONE"})
                  .ok());
  EXPECT_FALSE(AnythingLeft(kRemovalAlice, "LAPTOP"));
  EXPECT_TRUE(AllLeft(kRemovalAlice, "PHONE"));
  ASSERT_TRUE(db_.ApplyAccount(accounts::LogoutAllCommand{kRemovalAlice}).ok());
  EXPECT_FALSE(AnythingLeft(kRemovalAlice, "PHONE"));
  EXPECT_TRUE(AllLeft(kRemovalBob, "BOBDEV"));
}

TEST_F(E2eeRemovalTest, LoggingInAgainWithTheSameDeviceIdKeepsItsKeys) {
  // A login with an existing device ID: a new token, the same device and keys.
  ASSERT_TRUE(
      db_.ApplyAccount(accounts::LoginCommand{
                           .user_id = kRemovalAlice,
                           .device = {.device_id = "PHONE", .token_hash = std::string(64, 'e')},
                           .ts = 5})
          .ok());
  EXPECT_TRUE(AllLeft(kRemovalAlice, "PHONE"));
}

TEST_F(E2eeRemovalTest, DeactivationRemovesEveryDeviceKeyAndTheCrossSigningKeys) {
  GiveCrossSigningKeys(kRemovalAlice);
  GiveCrossSigningKeys(kRemovalBob);
  ASSERT_TRUE(GetCrossSigningKey(store(), kRemovalAlice, kUsageMaster)->has_value());
  const storage::StreamPosition before = db_.position();
  ASSERT_TRUE(db_.ApplyAccount(accounts::DeactivateCommand{.user_id = kRemovalAlice}).ok());
  EXPECT_EQ(db_.StreamAfter(before),
            (std::vector<StreamEntry>{StreamEntry::DeviceKeys(kRemovalAlice, true),
                                      StreamEntry::DeviceKeys(kRemovalAlice)}));
  EXPECT_FALSE(AnythingLeft(kRemovalAlice, "PHONE"));
  EXPECT_FALSE(AnythingLeft(kRemovalAlice, "LAPTOP"));
  EXPECT_FALSE(GetCrossSigningKey(store(), kRemovalAlice, kUsageMaster)->has_value());
  EXPECT_TRUE(SignaturesOf(store(), kRemovalAlice, "MPK")->empty());
  // Bob keeps his.
  EXPECT_TRUE(GetCrossSigningKey(store(), kRemovalBob, kUsageMaster)->has_value());
  EXPECT_EQ(SignaturesOf(store(), kRemovalBob, "MPK")->size(), 1u);
  EXPECT_TRUE(AllLeft(kRemovalBob, "BOBDEV"));
  // Deactivating again finds nothing to remove and announces nothing.
  const storage::StreamPosition after = db_.position();
  ASSERT_TRUE(db_.ApplyAccount(accounts::DeactivateCommand{.user_id = kRemovalAlice}).ok());
  EXPECT_EQ(db_.position(), after);
}

TEST_F(E2eeRemovalTest, AFailedDeletionRemovesNoKey) {
  auto missing = db_.ApplyAccount(accounts::DeleteDeviceCommand{kRemovalAlice, "NOSUCH"});
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(AllLeft(kRemovalAlice, "PHONE"));
  EXPECT_TRUE(AllLeft(kRemovalAlice, "LAPTOP"));
}

}  // namespace
}  // namespace nebu::e2ee
