// Goal: applying account commands to a real RocksDB gives the documented accounts,
// devices, tokens, profiles and account data; tokens exist only as hashes; failed
// commands write nothing; applying is deterministic. Method: a fresh Store per test
// in a temporary directory; commands built by Prepare* or by hand, applied through
// ApplyAccountCommand and written like the state machine does; a rapidcheck property
// over random command sequences for determinism and the record invariants.
#include "engine/accounts/accounts.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "engine/accounts/internal/records.h"
#include "engine/accounts/push_rules.h"
#include "engine/storage/keys.h"
#include <boost/json/parse.hpp>
#include "tests/engine/accounts/generators.h"
#include "tests/engine/accounts/temp_store.h"

namespace nebu::accounts {
namespace {

using storage::Cf;
using testing::Dump;
using testing::DumpAll;
using testing::TempStore;

constexpr int64_t kNowMs = 1700000000000;
const std::string kAlice = "@alice:example.org";
const std::string kRoom = "!room:example.org";

// Applies one payload and writes its batch, as the state machine does.
Result<std::string> ApplyPayload(storage::Store& store, std::string_view payload) {
  rocksdb::WriteBatch batch;
  Result<std::string> outcome = ApplyAccountCommand(store, batch, payload);
  if (outcome.ok()) NEBU_RETURN_IF_ERROR(store.Write(batch, /*sync=*/false));
  return outcome;
}

Result<std::string> Apply(storage::Store& store, const AccountCommand& command) {
  NEBU_ASSIGN_OR_RETURN(std::string payload, EncodeAccountCommand(command));
  return ApplyPayload(store, payload);
}

class AccountsTest : public ::testing::Test {
 protected:
  storage::Store& store() { return temp_.store(); }

  // Registers kAlice with password "secret" and a first device; returns its token.
  std::string RegisterAlice(std::string device_id = "PHONE") {
    Result<Prepared> p = PrepareRegistration({.user_id = kAlice,
                                              .password = "secret",
                                              .displayname = "Alice",
                                              .device_id = device_id,
                                              .device_display_name = "Alice's phone"},
                                             kNowMs);
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    Result<std::string> applied = ApplyPayload(store(), p->payload);
    EXPECT_TRUE(applied.ok()) << applied.status().ToString();
    return *p->access_token;
  }

  // Logs kAlice in on device_id (a new device when nullopt); returns the token.
  std::string Login(std::optional<std::string_view> device_id = std::nullopt) {
    Result<Prepared> p = PrepareLogin(kAlice, device_id, std::nullopt, kNowMs + 1);
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    Result<std::string> applied = ApplyPayload(store(), p->payload);
    EXPECT_TRUE(applied.ok()) << applied.status().ToString();
    return *p->access_token;
  }

  bool Authenticates(const std::string& token) { return AuthenticateToken(store(), token).ok(); }

  TempStore temp_;
};

TEST_F(AccountsTest, NewTokensAndDeviceIdsHaveTheDocumentedShape) {
  std::string token = NewAccessToken();
  EXPECT_EQ(token.size(), kAccessTokenPrefix.size() + kAccessTokenRandomChars);
  EXPECT_TRUE(token.starts_with("nebu_"));
  std::string device = NewDeviceId();
  EXPECT_EQ(device.size(), kDeviceIdChars);
  for (char c : device) EXPECT_TRUE(c >= 'A' && c <= 'Z') << device;
  EXPECT_NE(NewAccessToken(), token);
  EXPECT_EQ(TokenHash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_F(AccountsTest, NewUserIdAppliesTheStrictLocalpartGrammar) {
  EXPECT_EQ(*NewUserId("alice", "example.org"), kAlice);
  EXPECT_EQ(NewUserId("Alice", "example.org").status().code(), StatusCode::kInvalidUsername);
  EXPECT_EQ(NewUserId("", "example.org").status().code(), StatusCode::kInvalidUsername);
  EXPECT_EQ(NewUserId(std::string(300, 'a'), "example.org").status().code(),
            StatusCode::kInvalidUsername);
}

TEST_F(AccountsTest, RegistrationCreatesUserProfileDeviceAndToken) {
  std::string token = RegisterAlice();
  Result<User> user = GetUser(store(), kAlice);
  ASSERT_TRUE(user.ok());
  EXPECT_EQ(*user, (User{kAlice, false, kNowMs, false, true}));
  EXPECT_EQ(*GetProfile(store(), kAlice), (Profile{"Alice", std::nullopt}));
  EXPECT_EQ(*GetDevice(store(), kAlice, "PHONE"), (Device{"PHONE", "Alice's phone", kNowMs}));
  EXPECT_EQ(*AuthenticateToken(store(), token), (TokenOwner{kAlice, "PHONE"}));
  EXPECT_TRUE(VerifyLogin(store(), kAlice, "secret").ok());
}

TEST_F(AccountsTest, TokensAndPasswordsAreStoredOnlyAsHashes) {
  std::string first = RegisterAlice();
  std::string second = Login();
  for (const testing::Row& row : DumpAll(store())) {
    for (const std::string& secret : {first, second, std::string("secret")}) {
      EXPECT_EQ(std::get<1>(row).find(secret), std::string::npos);
      EXPECT_EQ(std::get<2>(row).find(secret), std::string::npos);
    }
    // Nor the random part of a token, in case a prefix were stripped.
    EXPECT_EQ(std::get<2>(row).find(first.substr(kAccessTokenPrefix.size())), std::string::npos);
  }
  std::vector<testing::Row> tokens = Dump(store(), Cf::kTokens);
  ASSERT_EQ(tokens.size(), 2u);
  std::set<std::string> keys = {std::get<1>(tokens[0]), std::get<1>(tokens[1])};
  Sha256Digest d1 = Sha256(first), d2 = Sha256(second);
  EXPECT_EQ(keys, (std::set<std::string>{std::string(d1.begin(), d1.end()),
                                         std::string(d2.begin(), d2.end())}));
}

TEST_F(AccountsTest, RegisteringATakenUserIdFailsAndWritesNothing) {
  RegisterAlice();
  std::vector<testing::Row> before = DumpAll(store());
  Result<Prepared> again = PrepareRegistration({.user_id = kAlice, .password = "other"}, kNowMs);
  ASSERT_TRUE(again.ok());
  rocksdb::WriteBatch batch;
  batch.Put(store().handle(Cf::kMeta), "earlier", "write");  // the caller's, kept
  Result<std::string> outcome = ApplyAccountCommand(store(), batch, again->payload);
  EXPECT_EQ(outcome.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(batch.Count(), 1u);
  EXPECT_EQ(DumpAll(store()), before);
  EXPECT_FALSE(Authenticates(*again->access_token));
}

TEST_F(AccountsTest, RegisteringWithATokenHashInUseFailsWithAlreadyExists) {
  std::string token = RegisterAlice();
  RegisterCommand bob{.user_id = "@bob:example.org",
                      .device = NewDevice{"B", TokenHash(token), {}}};
  EXPECT_EQ(Apply(store(), bob).status().code(), StatusCode::kAlreadyExists);
  EXPECT_FALSE(*UserExists(store(), "@bob:example.org"));
}

TEST_F(AccountsTest, RegistrationWithInhibitLoginCreatesNoDevice) {
  Result<Prepared> p = PrepareRegistration(
      {.user_id = kAlice, .password = std::nullopt, .inhibit_login = true}, kNowMs);
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->access_token.has_value());
  ASSERT_TRUE(ApplyPayload(store(), p->payload).ok());
  EXPECT_TRUE(ListDevices(store(), kAlice)->empty());
  EXPECT_FALSE(GetUser(store(), kAlice)->has_password);
  EXPECT_EQ(VerifyLogin(store(), kAlice, "anything").code(), StatusCode::kForbidden);
}

TEST_F(AccountsTest, LoginCreatesADeviceAndAToken) {
  std::string first = RegisterAlice();
  std::string second = Login("LAPTOP");
  EXPECT_EQ(*AuthenticateToken(store(), second), (TokenOwner{kAlice, "LAPTOP"}));
  Result<std::vector<Device>> devices = ListDevices(store(), kAlice);
  ASSERT_TRUE(devices.ok());
  ASSERT_EQ(devices->size(), 2u);
  EXPECT_EQ((*devices)[0].device_id, "LAPTOP");  // sorted by device ID
  EXPECT_EQ((*devices)[1].device_id, "PHONE");
  EXPECT_TRUE(Authenticates(first));
}

TEST_F(AccountsTest, LoginWithAKnownDeviceIdReplacesItsTokenAndKeepsItsName) {
  std::string old_token = RegisterAlice();
  std::string new_token = Login("PHONE");
  EXPECT_FALSE(Authenticates(old_token));
  EXPECT_TRUE(Authenticates(new_token));
  EXPECT_EQ(*GetDevice(store(), kAlice, "PHONE"), (Device{"PHONE", "Alice's phone", kNowMs}));
  EXPECT_EQ(Dump(store(), Cf::kTokens).size(), 1u);
}

TEST_F(AccountsTest, LoginOfAnUnknownUserIsNotFound) {
  Result<Prepared> p = PrepareLogin("@nobody:example.org", std::nullopt, std::nullopt, kNowMs);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(ApplyPayload(store(), p->payload).status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(Authenticates(*p->access_token));
}

TEST_F(AccountsTest, LogoutRemovesOnlyThatDeviceAndToken) {
  std::string phone = RegisterAlice();
  std::string laptop = Login("LAPTOP");
  ASSERT_TRUE(Apply(store(), LogoutCommand{kAlice, "LAPTOP"}).ok());
  EXPECT_FALSE(Authenticates(laptop));
  EXPECT_TRUE(Authenticates(phone));
  EXPECT_EQ(GetDevice(store(), kAlice, "LAPTOP").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(Apply(store(), LogoutCommand{kAlice, "LAPTOP"}).status().code(), StatusCode::kNotFound);
}

TEST_F(AccountsTest, LogoutAllRemovesEveryDeviceAndToken) {
  std::string a = RegisterAlice();
  std::string b = Login();
  std::string c = Login();
  Result<std::string> outcome = Apply(store(), LogoutAllCommand{kAlice});
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(*outcome, R"({"devices_removed":3})");
  for (const std::string& token : {a, b, c}) EXPECT_FALSE(Authenticates(token));
  EXPECT_TRUE(ListDevices(store(), kAlice)->empty());
  EXPECT_TRUE(Dump(store(), Cf::kTokens).empty());
  EXPECT_TRUE(GetUser(store(), kAlice).ok());
}

TEST_F(AccountsTest, DeleteDeviceRemovesItsTokenAndUnknownDevicesAreNotFound) {
  std::string phone = RegisterAlice();
  EXPECT_EQ(Apply(store(), DeleteDeviceCommand{kAlice, "NOPE"}).status().code(),
            StatusCode::kNotFound);
  ASSERT_TRUE(Apply(store(), DeleteDeviceCommand{kAlice, "PHONE"}).ok());
  EXPECT_FALSE(Authenticates(phone));
}

TEST_F(AccountsTest, ChangingThePasswordInvalidatesOtherTokens) {
  std::string phone = RegisterAlice();
  std::string laptop = Login("LAPTOP");
  std::string tablet = Login("TABLET");
  Result<Prepared> p = PrepareSetPassword(kAlice, "new secret", /*logout_devices=*/true, "PHONE");
  ASSERT_TRUE(p.ok());
  Result<std::string> outcome = ApplyPayload(store(), p->payload);
  ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
  EXPECT_EQ(*outcome, R"({"devices_removed":2})");
  EXPECT_TRUE(Authenticates(phone));
  EXPECT_FALSE(Authenticates(laptop));
  EXPECT_FALSE(Authenticates(tablet));
  EXPECT_TRUE(VerifyLogin(store(), kAlice, "new secret").ok());
  EXPECT_EQ(VerifyLogin(store(), kAlice, "secret").code(), StatusCode::kForbidden);
}

TEST_F(AccountsTest, ChangingThePasswordWithoutLogoutKeepsEveryToken) {
  std::string phone = RegisterAlice();
  std::string laptop = Login("LAPTOP");
  Result<Prepared> p = PrepareSetPassword(kAlice, "new secret", false, std::nullopt);
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE(ApplyPayload(store(), p->payload).ok());
  EXPECT_TRUE(Authenticates(phone));
  EXPECT_TRUE(Authenticates(laptop));
}

TEST_F(AccountsTest, DeactivationBlocksTokensLoginsAndReuseOfTheId) {
  std::string phone = RegisterAlice();
  std::string laptop = Login("LAPTOP");
  ASSERT_TRUE(Apply(store(), DeactivateCommand{kAlice, false}).ok());
  EXPECT_EQ(AuthenticateToken(store(), phone).status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(AuthenticateToken(store(), laptop).status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(VerifyLogin(store(), kAlice, "secret").code(), StatusCode::kForbidden);
  EXPECT_TRUE(GetUser(store(), kAlice)->deactivated);
  EXPECT_FALSE(GetUser(store(), kAlice)->has_password);
  Result<Prepared> login = PrepareLogin(kAlice, std::nullopt, std::nullopt, kNowMs);
  EXPECT_EQ(ApplyPayload(store(), login->payload).status().code(), StatusCode::kForbidden);
  EXPECT_EQ(Apply(store(), RegisterCommand{.user_id = kAlice}).status().code(),
            StatusCode::kAlreadyExists);
  EXPECT_EQ(Apply(store(), SetDisplayNameCommand{kAlice, "Zombie"}).status().code(),
            StatusCode::kForbidden);
  EXPECT_EQ(*GetProfile(store(), kAlice), (Profile{"Alice", std::nullopt}));  // not erased
}

TEST_F(AccountsTest, DeactivationWithEraseDeletesProfileAndAccountData) {
  RegisterAlice();
  ASSERT_TRUE(Apply(store(), PutAccountDataCommand{kAlice, {}, "m.direct", {{"a", 1}}}).ok());
  ASSERT_TRUE(Apply(store(), PutAccountDataCommand{kAlice, kRoom, "m.tag", {{"b", 2}}}).ok());
  ASSERT_TRUE(Apply(store(), DeactivateCommand{kAlice, true}).ok());
  EXPECT_EQ(*GetProfile(store(), kAlice), Profile{});
  EXPECT_TRUE(Dump(store(), Cf::kAccountData).empty());
  EXPECT_TRUE(Apply(store(), DeactivateCommand{kAlice, true}).ok());  // idempotent
}

TEST_F(AccountsTest, VerifyLoginGivesOneAnswerForEveryFailure) {
  RegisterAlice();
  EXPECT_EQ(VerifyLogin(store(), kAlice, "wrong").code(), StatusCode::kForbidden);
  EXPECT_EQ(VerifyLogin(store(), "@nobody:example.org", "secret").code(), StatusCode::kForbidden);
  EXPECT_EQ(VerifyLogin(store(), kAlice, "").code(), StatusCode::kForbidden);
}

TEST_F(AccountsTest, AuthenticateTokenRefusesUnknownEmptyAndHugeTokens) {
  RegisterAlice();
  for (const std::string& token :
       {std::string("nebu_unknown"), std::string(), std::string(kAccessTokenBytesMax + 1, 'a')}) {
    EXPECT_EQ(AuthenticateToken(store(), token).status().code(), StatusCode::kUnauthenticated);
  }
}

// Token records written before flags and expiry existed (no trailer) read back as
// unrestricted, never-expiring tokens; a record with flags keeps them.
TEST_F(AccountsTest, TokenRecordsWithAndWithoutTrailerDecode) {
  std::string legacy = internal::EncodeTokenRecord({kAlice, "DEV"});
  std::string expected;
  storage::PutLengthPrefixed(&expected, kAlice);
  storage::PutLengthPrefixed(&expected, "DEV");
  EXPECT_EQ(legacy, expected);
  internal::TokenRecord flagged{kAlice, "DEV",
                                internal::kTokenSuspended | internal::kTokenExpires, 1234};
  Result<internal::TokenRecord> back = internal::DecodeTokenRecord(
      internal::EncodeTokenRecord(flagged));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->flags, flagged.flags);
  EXPECT_EQ(back->expires_ms, 1234);
  EXPECT_FALSE(internal::DecodeTokenRecord(expected + "\x08\x01").ok());  // short expiry
}

// Refresh rotation in apply: the old access token dies at once, the refresh token
// presented stays usable until the new access token is confirmed, then only the new one.
TEST_F(AccountsTest, RefreshRotatesAndConfirmRevokesThePreviousToken) {
  RegisterAlice();
  const std::string r1 = "nebur_one", a2 = "nebu_two", r2 = "nebur_two";
  LoginCommand login{.user_id = kAlice,
                     .device = {.device_id = "DEV", .token_hash = TokenHash("nebu_one"),
                                .refresh_hash = TokenHash(r1), .expires_ms = 100},
                     .ts = 1};
  ASSERT_TRUE(Apply(store(), login).ok());
  EXPECT_EQ(AuthenticateToken(store(), "nebu_one")->expires_ms, 100);
  ASSERT_TRUE(Apply(store(), RefreshCommand{kAlice, "DEV", TokenHash(r1), TokenHash(a2),
                                            TokenHash(r2), 200})
                  .ok());
  EXPECT_FALSE(AuthenticateToken(store(), "nebu_one").ok());
  Result<TokenOwner> fresh = AuthenticateToken(store(), a2);
  ASSERT_TRUE(fresh.ok());
  EXPECT_TRUE(fresh->fresh);
  EXPECT_TRUE(RefreshTokenOwner(store(), r1).ok());  // until the new token is used
  ASSERT_TRUE(Apply(store(), ConfirmRefreshCommand{kAlice, "DEV", TokenHash(a2)}).ok());
  EXPECT_FALSE(AuthenticateToken(store(), a2)->fresh);
  EXPECT_FALSE(RefreshTokenOwner(store(), r1).ok());
  EXPECT_EQ(Apply(store(), RefreshCommand{kAlice, "DEV", TokenHash(r1), TokenHash("nebu_x"),
                                          TokenHash("nebur_x"), 300})
                .status()
                .code(),
            StatusCode::kUnauthenticated);
  EXPECT_TRUE(RefreshTokenOwner(store(), r2).ok());
  ASSERT_TRUE(Apply(store(), LogoutCommand{kAlice, "DEV"}).ok());
  EXPECT_FALSE(RefreshTokenOwner(store(), r2).ok());
  for (const testing::Row& row : Dump(store(), Cf::kTokens)) {
    EXPECT_EQ(std::get<1>(row).size(), 32u) << "a refresh token outlived its device";
  }
}

TEST_F(AccountsTest, ProfileRoundTripsAndClears) {
  RegisterAlice();
  ASSERT_TRUE(Apply(store(), SetAvatarUrlCommand{kAlice, "mxc://example.org/abc"}).ok());
  ASSERT_TRUE(Apply(store(), SetDisplayNameCommand{kAlice, "Alice 😀"}).ok());
  EXPECT_EQ(*GetProfile(store(), kAlice), (Profile{"Alice 😀", "mxc://example.org/abc"}));
  ASSERT_TRUE(Apply(store(), SetDisplayNameCommand{kAlice, std::nullopt}).ok());
  ASSERT_TRUE(Apply(store(), SetAvatarUrlCommand{kAlice, std::nullopt}).ok());
  EXPECT_EQ(*GetProfile(store(), kAlice), Profile{});
  EXPECT_EQ(GetProfile(store(), "@nobody:example.org").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(Apply(store(), SetDisplayNameCommand{"@nobody:example.org", "x"}).status().code(),
            StatusCode::kNotFound);
}

TEST_F(AccountsTest, DeviceDisplayNameRoundTrips) {
  RegisterAlice();
  ASSERT_TRUE(Apply(store(), SetDeviceDisplayNameCommand{kAlice, "PHONE", "Work phone"}).ok());
  EXPECT_EQ(GetDevice(store(), kAlice, "PHONE")->display_name, "Work phone");
  EXPECT_EQ(Apply(store(), SetDeviceDisplayNameCommand{kAlice, "NOPE", "x"}).status().code(),
            StatusCode::kNotFound);
}

TEST_F(AccountsTest, WholeStoreReadsVisitEveryAccountDeviceAndToken) {
  const std::string phone = RegisterAlice();
  const std::string laptop = Login("LAPTOP");
  Result<Prepared> bob = PrepareRegistration({.user_id = "@bob:example.org", .inhibit_login = true}, kNowMs);
  ASSERT_TRUE(bob.ok());
  ASSERT_TRUE(ApplyPayload(store(), bob->payload).ok());

  std::vector<AccountRecord> accounts;
  ASSERT_TRUE(ForEachAccountRecord(store(), [&](const AccountRecord& a) {
                accounts.push_back(a);
                return Status::Ok();
              }).ok());
  ASSERT_EQ(accounts.size(), 2u);
  EXPECT_EQ(accounts[0].user, (User{kAlice, false, kNowMs, false, true}));
  EXPECT_TRUE(accounts[0].password_hash && accounts[0].password_hash->starts_with("$argon2id$"));
  EXPECT_EQ(accounts[0].profile, (Profile{"Alice", std::nullopt}));
  EXPECT_EQ(accounts[1].user.user_id, "@bob:example.org");
  EXPECT_EQ(accounts[1].password_hash, std::nullopt);

  std::vector<std::pair<std::string, Device>> devices;
  ASSERT_TRUE(ForEachDevice(store(), [&](std::string_view user, const Device& d) {
                devices.emplace_back(std::string(user), d);
                return Status::Ok();
              }).ok());
  ASSERT_EQ(devices.size(), 2u);
  EXPECT_EQ(devices[0], (std::pair<std::string, Device>{kAlice, {"LAPTOP", std::nullopt, kNowMs + 1}}));
  EXPECT_EQ(devices[1], (std::pair<std::string, Device>{kAlice, {"PHONE", "Alice's phone", kNowMs}}));

  std::map<std::string, TokenOwner> tokens;
  ASSERT_TRUE(ForEachAccessToken(store(), [&](std::string_view hash, const TokenOwner& owner) {
                tokens.emplace(hash, owner);
                return Status::Ok();
              }).ok());
  EXPECT_EQ(tokens, (std::map<std::string, TokenOwner>{{TokenHash(phone), {kAlice, "PHONE"}},
                                                       {TokenHash(laptop), {kAlice, "LAPTOP"}}}));

  // The visitor's error stops the scan and is returned.
  int visited = 0;
  Status stopped = ForEachDevice(store(), [&](std::string_view, const Device&) {
    ++visited;
    return Status::ResourceExhausted("enough");
  });
  EXPECT_EQ(stopped.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(visited, 1);
}

TEST_F(AccountsTest, AccountDataRoundTripsGloballyAndPerRoom) {
  RegisterAlice();
  ASSERT_TRUE(
      Apply(store(), PutAccountDataCommand{kAlice, {}, "m.push_rules", {{"z", 1}, {"a", "é"}}})
          .ok());
  ASSERT_TRUE(Apply(store(), PutAccountDataCommand{kAlice, {}, "m.direct", {{"x", true}}}).ok());
  ASSERT_TRUE(Apply(store(), PutAccountDataCommand{kAlice, kRoom, "m.tag", {{"tags", {}}}}).ok());
  EXPECT_EQ(*GetAccountData(store(), kAlice, std::nullopt, "m.push_rules"), R"({"a":"é","z":1})");
  EXPECT_EQ(*GetAccountData(store(), kAlice, kRoom, "m.tag"), R"({"tags":{}})");
  EXPECT_EQ(GetAccountData(store(), kAlice, std::nullopt, "m.tag").status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(*ListAccountData(store(), kAlice, std::nullopt),
            (std::vector<AccountDataEntry>{{"m.direct", R"({"x":true})"},
                                           {"m.push_rules", R"({"a":"é","z":1})"}}));
  EXPECT_EQ(ListAccountData(store(), kAlice, kRoom)->size(), 1u);
  ASSERT_TRUE(Apply(store(), PutAccountDataCommand{kAlice, {}, "m.direct", {}}).ok());
  EXPECT_EQ(*GetAccountData(store(), kAlice, std::nullopt, "m.direct"), "{}");
  EXPECT_EQ(
      Apply(store(), PutAccountDataCommand{"@nobody:example.org", {}, "t", {}}).status().code(),
      StatusCode::kNotFound);
}

// Quotas (commands.h) are decided in apply, so every replica refuses the same command.
LoginCommand NewDeviceLogin(size_t i, const std::string& token = "t") {
  std::string device_id = "D" + std::to_string(i);
  return LoginCommand{.user_id = kAlice,
                      .device = {.device_id = device_id, .token_hash = TokenHash(token + device_id)},
                      .ts = kNowMs};
}

TEST_F(AccountsTest, ANewDeviceBeyondTheQuotaIsForbiddenAndWritesNothing) {
  RegisterAlice("D0");
  for (size_t i = 1; i < kDevicesPerUserMax; ++i) {
    ASSERT_TRUE(Apply(store(), NewDeviceLogin(i)).ok()) << i;
  }
  auto before = DumpAll(store());
  Result<std::string> over = Apply(store(), NewDeviceLogin(kDevicesPerUserMax));
  EXPECT_EQ(over.status().code(), StatusCode::kForbidden);
  EXPECT_NE(over.status().message().find("quota"), std::string::npos);
  EXPECT_EQ(DumpAll(store()), before);
  // Logging in again on a device the user has is not a new device.
  EXPECT_TRUE(Apply(store(), NewDeviceLogin(7, "again")).ok());
  ASSERT_TRUE(Apply(store(), DeleteDeviceCommand{.user_id = kAlice, .device_id = "D3"}).ok());
  EXPECT_TRUE(Apply(store(), NewDeviceLogin(kDevicesPerUserMax)).ok());
}

TEST_F(AccountsTest, ANewAccountDataTypeBeyondTheQuotaIsForbiddenAndWritesNothing) {
  RegisterAlice();
  for (size_t i = 0; i < kAccountDataTypesMax; ++i) {
    // Global types and room types count together.
    std::optional<std::string> room;
    if (i % 2 == 1) room = kRoom;
    ASSERT_TRUE(Apply(store(), PutAccountDataCommand{kAlice, room, "t" + std::to_string(i), {}}).ok())
        << i;
  }
  auto before = DumpAll(store());
  Result<std::string> over = Apply(store(), PutAccountDataCommand{kAlice, {}, "one.more", {}});
  EXPECT_EQ(over.status().code(), StatusCode::kForbidden);
  EXPECT_NE(over.status().message().find("quota"), std::string::npos);
  EXPECT_EQ(DumpAll(store()), before);
  // Overwriting a type the user has is not a new type.
  EXPECT_TRUE(Apply(store(), PutAccountDataCommand{kAlice, {}, "t0", {{"v", 2}}}).ok());
}

TEST_F(AccountsTest, MalformedPayloadsAreRefusedBeforeTouchingTheBatch) {
  rocksdb::WriteBatch batch;
  EXPECT_EQ(ApplyAccountCommand(store(), batch, "not json").status().code(), StatusCode::kNotJson);
  EXPECT_EQ(ApplyAccountCommand(store(), batch, R"({"op":"nope"})").status().code(),
            StatusCode::kBadJson);
  EXPECT_EQ(batch.Count(), 0u);
}

TEST_F(AccountsTest, CorruptStoredRecordsAreReportedNotTrusted) {
  RegisterAlice();
  rocksdb::WriteBatch batch;
  batch.Put(store().handle(Cf::kUsers), internal::UserKey(kAlice), "{\"admin\":1}");
  ASSERT_TRUE(store().Write(batch, false).ok());
  EXPECT_EQ(GetUser(store(), kAlice).status().code(), StatusCode::kCorruption);
  EXPECT_EQ(Apply(store(), LogoutAllCommand{kAlice}).status().code(), StatusCode::kCorruption);
}

// ---- determinism and invariants over random command sequences ----

// Every device has exactly one token pointing back at it, every token one device,
// and a deactivated user has no devices.
void CheckRecordInvariants(storage::Store& store) {
  std::map<std::string, std::string> token_of_device;  // device key -> token key
  for (const testing::Row& row : Dump(store, Cf::kDevices)) {
    Result<internal::DeviceRecord> d = internal::DecodeDeviceRecord(std::get<2>(row));
    RC_ASSERT(d.ok());
    token_of_device[std::get<1>(row)] = internal::TokenKey(d->token_hash);
  }
  std::vector<testing::Row> tokens = Dump(store, Cf::kTokens);
  RC_ASSERT(tokens.size() == token_of_device.size());
  for (const testing::Row& row : tokens) {
    Result<internal::TokenRecord> t = internal::DecodeTokenRecord(std::get<2>(row));
    RC_ASSERT(t.ok());
    std::string device_key = internal::DeviceKey(t->user_id, t->device_id);
    RC_ASSERT(token_of_device.count(device_key) == 1u);
    RC_ASSERT(token_of_device[device_key] == std::get<1>(row));
    Result<User> user = GetUser(store, t->user_id);
    RC_ASSERT(user.ok());
    RC_ASSERT(!user->deactivated);
  }
}

RC_GTEST_PROP(AccountsDeterminismTest, ApplyingOneSequenceToTwoStoresGivesIdenticalDatabases, ()) {
  std::vector<AccountCommand> commands =
      *rc::gen::container<std::vector<AccountCommand>>(testing::Command(testing::SmallPools()));
  // Two stores opened once and wiped per case: reopening costs ~0.3 s each.
  static TempStore a, b;
  a.Wipe();
  b.Wipe();
  RC_ASSERT(DumpAll(a.store()) == DumpAll(b.store()));
  size_t applied = 0;
  for (const AccountCommand& command : commands) {
    Result<std::string> on_a = Apply(a.store(), command);
    Result<std::string> on_b = Apply(b.store(), command);
    RC_ASSERT(on_a.status() == on_b.status());
    if (on_a.ok()) RC_ASSERT(*on_a == *on_b);
    applied += on_a.ok() ? 1 : 0;
  }
  // How much of each sequence took effect; rapidcheck prints the distribution.
  RC_CLASSIFY(applied == 0, "none applied");
  RC_CLASSIFY(applied > 0 && applied * 4 < commands.size(), "under a quarter applied");
  RC_CLASSIFY(applied * 4 >= commands.size() && applied > 0, "a quarter or more applied");
  RC_ASSERT(DumpAll(a.store()) == DumpAll(b.store()));
  CheckRecordInvariants(a.store());
}

}  // namespace
}  // namespace nebu::accounts

namespace nebu::accounts {
namespace {

// Deltas decided in apply: two edits built from the same (stale) view both land.
class AccountDeltaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<Prepared> p = PrepareRegistration({.user_id = kAlice, .inhibit_login = true}, kNowMs);
    ASSERT_TRUE(p.ok());
    ASSERT_TRUE(ApplyPayload(store(), p->payload).ok());
  }
  storage::Store& store() { return temp_.store(); }
  boost::json::object Stored(std::optional<std::string_view> room, std::string_view type) {
    Result<std::string> text = GetAccountData(store(), kAlice, room, type);
    EXPECT_TRUE(text.ok()) << text.status().ToString();
    return boost::json::parse(text.ok() ? *text : "{}").as_object();
  }
  // The user rule IDs of one kind, in order.
  std::vector<std::string> UserRules(std::string_view kind) {
    std::vector<std::string> ids;
    const boost::json::object stored = Stored(std::nullopt, kPushRulesType);
    for (const auto& rule : stored.at("global").at(kind).as_array()) {
      std::string id(rule.at("rule_id").as_string());
      if (!id.starts_with('.')) ids.push_back(id);
    }
    return ids;
  }
  static EditPushRuleCommand PutRule(std::string id, std::optional<std::string> before = {},
                                     std::optional<std::string> after = {}) {
    return EditPushRuleCommand{.user_id = kAlice,
                               .kind = "override",
                               .rule_id = id,
                               .change = PushRuleChange::kPut,
                               .value = {{"rule_id", id},
                                         {"default", false},
                                         {"enabled", true},
                                         {"conditions", boost::json::array{}},
                                         {"actions", boost::json::array{"notify"}}},
                               .before = std::move(before),
                               .after = std::move(after)};
  }
  TempStore temp_;
};

TEST_F(AccountDeltaTest, TwoTagEditsFromTheSameViewBothLand) {
  ASSERT_TRUE(Apply(store(), EditTagCommand{kAlice, kRoom, "m.favourite", {{{"order", 0.5}}}}).ok());
  ASSERT_TRUE(Apply(store(), EditTagCommand{kAlice, kRoom, "u.work", boost::json::object{}}).ok());
  EXPECT_EQ(Stored(kRoom, "m.tag"),
            boost::json::parse(R"({"tags":{"m.favourite":{"order":0.5},"u.work":{}}})"));
  ASSERT_TRUE(Apply(store(), EditTagCommand{kAlice, kRoom, "m.favourite", std::nullopt}).ok());
  ASSERT_TRUE(Apply(store(), EditTagCommand{kAlice, kRoom, "absent", std::nullopt}).ok());
  EXPECT_EQ(Stored(kRoom, "m.tag"), boost::json::parse(R"({"tags":{"u.work":{}}})"));
  // The stored text keeps the float as sent.
  ASSERT_TRUE(Apply(store(), EditTagCommand{kAlice, kRoom, "m.lowpriority", {{{"order", 0.25}}}}).ok());
  EXPECT_NE(GetAccountData(store(), kAlice, kRoom, "m.tag")->find("0.25"), std::string::npos);
}

TEST_F(AccountDeltaTest, PushRuleEditsApplyToTheStoredSetWithTheirErrorsDecidedInApply) {
  ASSERT_TRUE(Apply(store(), PutRule("a")).ok());
  ASSERT_TRUE(Apply(store(), PutRule("b")).ok());  // built without seeing "a": both kept
  EXPECT_EQ(UserRules("override"), (std::vector<std::string>{"b", "a"}));
  ASSERT_TRUE(Apply(store(), PutRule("c", std::nullopt, "a")).ok());
  EXPECT_EQ(UserRules("override"), (std::vector<std::string>{"b", "a", "c"}));
  Result<std::string> anchor = Apply(store(), PutRule("d", "missing"));
  EXPECT_EQ(anchor.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(anchor.status().message().starts_with(kPushRuleAnchorNotFound));
  EXPECT_EQ(Apply(store(), PutRule("d", ".m.rule.master")).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(Apply(store(), PutRule(".m.rule.mine")).status().code(), StatusCode::kInvalidArgument);

  EditPushRuleCommand disable{.user_id = kAlice,
                              .kind = "override",
                              .rule_id = "a",
                              .change = PushRuleChange::kEnabled,
                              .value = {{"enabled", false}}};
  ASSERT_TRUE(Apply(store(), disable).ok());
  ASSERT_TRUE(Apply(store(), PutRule("a")).ok());  // a replaced rule keeps enabled and place
  EXPECT_EQ(UserRules("override"), (std::vector<std::string>{"b", "a", "c"}));
  const boost::json::object stored = Stored(std::nullopt, kPushRulesType);
  for (const auto& rule : stored.at("global").at("override").as_array()) {
    if (rule.at("rule_id") == "a") {
      EXPECT_EQ(rule.at("enabled"), false);
    }
  }
  disable.rule_id = "nope";
  EXPECT_EQ(Apply(store(), disable).status().code(), StatusCode::kNotFound);
  disable.rule_id = ".m.rule.suppress_notices";  // defaults can be switched off
  ASSERT_TRUE(Apply(store(), disable).ok());

  EditPushRuleCommand remove{.user_id = kAlice,
                             .kind = "override",
                             .rule_id = "b",
                             .change = PushRuleChange::kDelete};
  ASSERT_TRUE(Apply(store(), remove).ok());
  EXPECT_EQ(Apply(store(), remove).status().code(), StatusCode::kNotFound);
  remove.rule_id = ".m.rule.master";
  EXPECT_EQ(Apply(store(), remove).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(UserRules("override"), (std::vector<std::string>{"a", "c"}));
}

// Apply merges with the defaults the command carries, never this binary's: a node of
// another version (other default rules) stores the same set from the same commands.
TEST_F(AccountDeltaTest, PushRuleEditsMergeWithTheDefaultsTheyCarryNotTheBinarys) {
  boost::json::object other = DefaultPushRuleset(kAlice);  // a newer server's defaults
  PushRulesOf(other, "override")
      .push_back(boost::json::object{{"rule_id", ".m.rule.future"},
                                     {"default", true},
                                     {"enabled", true},
                                     {"conditions", boost::json::array{}},
                                     {"actions", boost::json::array{}}});
  EditPushRuleCommand disable{.user_id = kAlice,
                              .kind = "override",
                              .rule_id = ".m.rule.future",
                              .change = PushRuleChange::kEnabled,
                              .value = {{"enabled", false}}};
  // Without defaults (a log written before the field) this binary's: no such rule.
  EXPECT_EQ(Apply(store(), disable).status().code(), StatusCode::kNotFound);
  disable.defaults = other;
  ASSERT_TRUE(Apply(store(), disable).ok());
  boost::json::object expected = other;
  ASSERT_TRUE(EditPushRuleset(expected, disable).ok());
  EXPECT_EQ(Stored(std::nullopt, kPushRulesType),
            (boost::json::object{{"global", MergePushRuleset(other, &expected)}}));
  // An edit proposed with older defaults (this binary's) keeps the newer rule's state,
  // and readers of this version leave the rule they do not know out.
  ASSERT_TRUE(Apply(store(), [] {
                auto put = PutRule("mine");
                put.defaults = DefaultPushRuleset(kAlice);
                return put;
              }()).ok());
  const boost::json::object global = Stored(std::nullopt, kPushRulesType).at("global").as_object();
  const boost::json::array& overrides = global.at("override").as_array();
  std::optional<size_t> future = PushRuleIndex(overrides, ".m.rule.future");
  ASSERT_TRUE(future.has_value());
  EXPECT_EQ(overrides[*future].at("enabled"), false);
  boost::json::object effective = EffectivePushRuleset(kAlice, &global);
  EXPECT_FALSE(PushRuleIndex(PushRulesOf(effective, "override"), ".m.rule.future"));
  // Defaults that are not the expected shape are ignored, never a crash in apply.
  EditPushRuleCommand odd = PutRule("other");
  odd.defaults = boost::json::object{{"override", 7}, {"underride", boost::json::array{1, "x"}}};
  ASSERT_TRUE(Apply(store(), odd).ok());
  EXPECT_EQ(UserRules("override"), (std::vector<std::string>{"other", "mine"}));
  // The field round-trips through the log's encoding.
  Result<std::string> payload = EncodeAccountCommand(disable);
  ASSERT_TRUE(payload.ok()) << payload.status().ToString();
  Result<AccountCommand> decoded = DecodeAccountCommand(*payload);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(std::get<EditPushRuleCommand>(*decoded), disable);
}

TEST_F(AccountDeltaTest, DeltasOfADeactivatedUserAreForbidden) {
  ASSERT_TRUE(Apply(store(), DeactivateCommand{kAlice, false}).ok());
  EXPECT_EQ(Apply(store(), EditTagCommand{kAlice, kRoom, "t", boost::json::object{}}).status().code(),
            StatusCode::kForbidden);
  EXPECT_EQ(Apply(store(), PutRule("a")).status().code(), StatusCode::kForbidden);
}

}  // namespace
}  // namespace nebu::accounts
