// Goal: account command payloads are canonical, stable, strict, and decode back to
// the struct that produced them. Method: golden payloads for the wire shape, table
// tests for refusals, a rapidcheck property over random valid commands.
#include "engine/accounts/commands.h"
#include "engine/accounts/push_rules.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <limits>
#include <string>
#include <vector>

#include "engine/event/canonical_json.h"
#include "tests/engine/accounts/generators.h"

namespace nebu::accounts {
namespace {

const std::string kHash(64, 'a');
const std::string kPasswordHash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA";

TEST(CommandsTest, RegisterEncodesToTheDocumentedCanonicalPayload) {
  RegisterCommand c{.user_id = "@alice:example.org",
                    .password_hash = kPasswordHash,
                    .admin = false,
                    .created_ts = 1700000000000,
                    .displayname = "Alice",
                    .device = NewDevice{"ABCDEFGHIJ", kHash, "Phone"}};
  Result<std::string> payload = EncodeAccountCommand(c);
  ASSERT_TRUE(payload.ok()) << payload.status().ToString();
  EXPECT_EQ(*payload,
            R"({"admin":false,"created_ts":1700000000000,"device":{"device_id":"ABCDEFGHIJ",)"
            R"("display_name":"Phone","token_hash":")" +
                kHash +
                R"("},"displayname":"Alice",)"
                R"("op":"register","password_hash":")" +
                kPasswordHash + R"(","user_id":"@alice:example.org"})");
}

TEST(CommandsTest, OptionalFieldsAreAbsentWhenUnset) {
  Result<std::string> payload = EncodeAccountCommand(SetDisplayNameCommand{"@a:example.org", {}});
  ASSERT_TRUE(payload.ok());
  EXPECT_EQ(*payload, R"({"op":"set_displayname","user_id":"@a:example.org"})");
}

// The session, restriction, registration-token and profile-field ops of issue 9:
// each decodes back to itself, and their field rules refuse what they must.
TEST(CommandsTest, SessionOpsRoundTripAndValidate) {
  const std::string other(64, 'b');
  NewDevice refreshing{.device_id = "DEV", .token_hash = kHash, .refresh_hash = other,
                       .expires_ms = 1700000300000};
  const std::vector<AccountCommand> commands = {
      LoginCommand{.user_id = "@a:example.org", .device = refreshing, .ts = 1,
                   .login_token_hash = other},
      RegisterCommand{.user_id = "@a:example.org", .created_ts = 1, .device = refreshing,
                      .registration_token = "tok-1._~"},
      RefreshCommand{"@a:example.org", "DEV", kHash, other, std::string(64, 'c'), 5},
      ConfirmRefreshCommand{"@a:example.org", "DEV", kHash},
      CreateLoginTokenCommand{"@a:example.org", kHash, 7},
      CreateOpenIdTokenCommand{"@a:example.org", kHash, 7},
      RestrictUserCommand{"@a:example.org", true, std::nullopt},
      RestrictUserCommand{"@a:example.org", std::nullopt, false},
      CreateRegistrationTokenCommand{"abc", 3, 99},
      CreateRegistrationTokenCommand{"abc", std::nullopt, std::nullopt},
      SetProfileFieldCommand{"@a:example.org", "m.tz", R"("Europe/Paris")"},
      SetProfileFieldCommand{"@a:example.org", "m.tz", std::nullopt},
      CopyRoomUserStateCommand{"@a:example.org", "!old:example.org", "!new:example.org",
                               DefaultPushRuleset("@a:example.org")},
      CopyRoomUserStateCommand{"@a:example.org", "!old:example.org", "!new:example.org"},
      UpdateRegistrationTokenCommand{"tok", std::optional<int64_t>(5), std::nullopt},
      UpdateRegistrationTokenCommand{"tok", std::optional<int64_t>(), std::optional<int64_t>(9)},
      DeleteRegistrationTokenCommand{"tok"},
      ExpireTokensCommand{1234, std::nullopt},
      ExpireTokensCommand{1234, std::string(66, 'a')},
  };
  for (const AccountCommand& c : commands) {
    Result<std::string> payload = EncodeAccountCommand(c);
    ASSERT_TRUE(payload.ok()) << AccountCommandName(c) << ": " << payload.status().ToString();
    Result<AccountCommand> back = DecodeAccountCommand(*payload);
    ASSERT_TRUE(back.ok()) << *payload << ": " << back.status().ToString();
    EXPECT_EQ(*back, c) << *payload;
  }
  EXPECT_EQ(*EncodeAccountCommand(ConfirmRefreshCommand{"@a:example.org", "DEV", kHash}),
            R"({"device_id":"DEV","op":"confirm_refresh","token_hash":")" + kHash +
                R"(","user_id":"@a:example.org"})");
  // A refresh hash needs an expiry and the other way round.
  NewDevice half{.device_id = "DEV", .token_hash = kHash, .refresh_hash = other};
  EXPECT_FALSE(EncodeAccountCommand(LoginCommand{.user_id = "@a:example.org", .device = half}).ok());
  EXPECT_FALSE(EncodeAccountCommand(CreateRegistrationTokenCommand{"has space"}).ok());
  EXPECT_FALSE(EncodeAccountCommand(CreateRegistrationTokenCommand{std::string(65, 'a')}).ok());
  EXPECT_FALSE(EncodeAccountCommand(CreateRegistrationTokenCommand{"a", -1}).ok());
  EXPECT_FALSE(
      EncodeAccountCommand(SetProfileFieldCommand{"@a:example.org", "displayname", "1"}).ok());
  EXPECT_FALSE(EncodeAccountCommand(
                   SetProfileFieldCommand{"@a:example.org", std::string(256, 'k'), "1"})
                   .ok());
  EXPECT_FALSE(EncodeAccountCommand(RefreshCommand{"@a:example.org", "DEV", "nothex"}).ok());
}

TEST(CommandsTest, DecodeRefusesUnknownOpsAndFields) {
  for (const char* payload : {
           R"({"op":"explode","user_id":"@a:example.org"})",
           R"({"op":"logout_all","user_id":"@a:example.org","extra":1})",
           R"({"op":"logout_all"})",
           R"({"op":"logout_all","user_id":7})",
           R"({"user_id":"@a:example.org"})",
           R"(["op","logout_all"])",
           R"({"op":"deactivate","user_id":"@a:example.org","erase":"yes"})",
           R"({"op":"put_account_data","user_id":"@a:example.org","type":"t","content":[]})",
           R"({"op":"put_account_data","user_id":"@a:example.org","type":"t","content_json":"[]"})",
           R"({"op":"put_account_data","user_id":"@a:example.org","type":"t","content_json":"{"})",
           R"({"op":"put_account_data","user_id":"@a:example.org","type":"t","content_json":{}})",
           R"({"content":{},"content_json":"{}","op":"put_account_data","type":"t","user_id":"@a:example.org"})",
       }) {
    EXPECT_EQ(DecodeAccountCommand(payload).status().code(), StatusCode::kBadJson) << payload;
  }
  EXPECT_EQ(DecodeAccountCommand("{").status().code(), StatusCode::kNotJson);
}

TEST(CommandsTest, ValidationRefusesMalformedIdentifiersAndOversizedFields) {
  NewDevice device{"DEV", kHash, {}};
  EXPECT_EQ(ValidateAccountCommand(LoginCommand{"alice", device, 0}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateAccountCommand(LoginCommand{"@a:example.org", {"", kHash, {}}, 0}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateAccountCommand(LoginCommand{"@a:example.org", {"D\n", kHash, {}}, 0}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateAccountCommand(LoginCommand{"@a:example.org", {"D", "ABCD", {}}, 0}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateAccountCommand(LoginCommand{"@a:example.org", device, -1}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateAccountCommand(
                SetDisplayNameCommand{"@a:example.org", std::string(kDisplayNameBytesMax + 1, 'x')})
                .code(),
            StatusCode::kTooLarge);
  EXPECT_EQ(
      ValidateAccountCommand(SetPasswordCommand{"@a:example.org", "plaintext", true, {}}).code(),
      StatusCode::kInvalidArgument);
  EXPECT_EQ(
      ValidateAccountCommand(PutAccountDataCommand{"@a:example.org", "not-a-room", "t", {}}).code(),
      StatusCode::kInvalidArgument);
  boost::json::object big{{"k", std::string(kAccountDataBytesMax, 'x')}};
  EXPECT_EQ(ValidateAccountCommand(PutAccountDataCommand{"@a:example.org", {}, "t", big}).code(),
            StatusCode::kTooLarge);
  boost::json::object infinite{{"k", std::numeric_limits<double>::infinity()}};
  EXPECT_EQ(
      ValidateAccountCommand(PutAccountDataCommand{"@a:example.org", {}, "t", infinite}).code(),
      StatusCode::kBadJson);
}

// Goal: account data keeps floats (m.tag "order": 0.5) while the command stays
// canonical JSON, and payloads of the old form (content as an object) still decode.
TEST(CommandsTest, AccountDataContentKeepsFloatsInsideACanonicalCommand) {
  PutAccountDataCommand put{"@a:example.org", "!r:example.org", "m.tag",
                            {{"tags", {{"m.lowpriority", {{"order", 0.5}}}, {"u.x", {}}}},
                             {"big", 9007199254740993ull},
                             {"a", 0.1}}};
  Result<std::string> payload = EncodeAccountCommand(put);
  ASSERT_TRUE(payload.ok()) << payload.status().ToString();
  EXPECT_TRUE(event::IsCanonicalJson(*payload)) << *payload;
  EXPECT_EQ(*AccountDataJson(put.content),
            R"({"a":0.1,"big":9007199254740993,"tags":{"m.lowpriority":{"order":0.5},"u.x":{}}})");
  Result<AccountCommand> decoded = DecodeAccountCommand(*payload);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(std::get<PutAccountDataCommand>(*decoded), put);

  EXPECT_EQ(*AccountDataJson({{"w", 1.0}, {"x", 1e-7}, {"y", -2.5e300}}),
            R"({"w":1.0,"x":1e-07,"y":-2.5e+300})");
  // Without floats the stored text is exactly the canonical JSON, as before.
  boost::json::object plain{{"z", 1}, {"a", "\u00e9\n"}};
  EXPECT_EQ(*AccountDataJson(plain), *event::CanonicalJson(plain));

  Result<AccountCommand> old = DecodeAccountCommand(
      R"({"content":{"b":1,"a":[true,null]},"op":"put_account_data","type":"t","user_id":"@a:example.org"})");
  ASSERT_TRUE(old.ok()) << old.status().ToString();
  EXPECT_EQ(*AccountDataJson(std::get<PutAccountDataCommand>(*old).content),
            R"({"a":[true,null],"b":1})");
}

TEST(CommandsTest, NewDisplayNamesRefuseNulButLoggedCommandsWithOneStillDecode) {
  EXPECT_TRUE(CheckNewDisplayName("Alice \xF0\x9F\x90\x88").ok());
  EXPECT_TRUE(CheckNewDisplayName("").ok());
  EXPECT_EQ(CheckNewDisplayName(std::string("Al\0ice", 6)).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckNewDisplayName(std::string(1, '\0')).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(CheckNewDisplayName(std::string(kDisplayNameBytesMax, 'a')).ok());
  EXPECT_EQ(CheckNewDisplayName(std::string(kDisplayNameBytesMax + 1, 'a')).code(),
            StatusCode::kTooLarge);
  // A command already in a log with such a name stays valid: the log is the truth.
  SetDisplayNameCommand logged{.user_id = "@a:example.org", .displayname = std::string("a\0b", 3)};
  Result<std::string> payload = EncodeAccountCommand(logged);
  ASSERT_TRUE(payload.ok()) << payload.status().ToString();
  EXPECT_NE(payload->find("\\u0000"), std::string::npos) << *payload;
  Result<AccountCommand> decoded = DecodeAccountCommand(*payload);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(std::get<SetDisplayNameCommand>(*decoded), logged);
}

RC_GTEST_PROP(CommandsTest, DecodeOfEncodeIsTheSameCommand, ()) {
  AccountCommand command = *testing::Command(testing::ArbitraryPools());
  Result<std::string> payload = EncodeAccountCommand(command);
  RC_ASSERT(payload.ok());
  RC_ASSERT(event::IsCanonicalJson(*payload));
  Result<AccountCommand> decoded = DecodeAccountCommand(*payload);
  RC_ASSERT(decoded.ok());
  RC_ASSERT(*decoded == command);
}

}  // namespace
}  // namespace nebu::accounts
