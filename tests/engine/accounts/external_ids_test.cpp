// Goal: the kExternalId apply provisions a user on the first single sign-on, maps the
// same subject to the same user afterwards (whatever the localpart then), picks user
// IDs by the documented collision rule, refuses deactivated users, and writes nothing
// when it refuses. Method: a fresh RocksDB store per test; payloads applied and
// written as the state machine does.
#include "engine/accounts/external_ids.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "engine/accounts/accounts.h"
#include "tests/engine/accounts/temp_store.h"

namespace nebu::accounts {
namespace {

constexpr int64_t kExternalNowMs = 1700000000000;

class ExternalIdsTest : public ::testing::Test {
 protected:
  storage::Store& store() { return temp_.store(); }

  // An sso_login for (idp "oidc", subject) with a fresh login token; *token gets it.
  SsoLoginCommand Login(std::string subject, std::string localpart, std::string* token = nullptr) {
    std::string t = NewToken(kLoginTokenPrefix);
    if (token) *token = t;
    return {.idp_id = "oidc",
            .subject = std::move(subject),
            .localpart = std::move(localpart),
            .server_name = "example.org",
            .displayname = "Alice",
            .ts = kExternalNowMs,
            .login_token_hash = TokenHash(t),
            .login_token_expires_ms = kExternalNowMs + 60000};
  }

  // Applies and writes; the outcome's user_id (or the error).
  Result<std::string> Apply(const SsoLoginCommand& c, bool* created = nullptr) {
    NEBU_ASSIGN_OR_RETURN(std::string payload, EncodeSsoLoginCommand(c));
    rocksdb::WriteBatch batch;
    NEBU_ASSIGN_OR_RETURN(std::string outcome, ApplyExternalIdCommand(store(), batch, payload));
    NEBU_RETURN_IF_ERROR(store().Write(batch, false));
    boost::json::object o = boost::json::parse(outcome).as_object();
    if (created) *created = o.at("created").as_bool();
    return std::string(o.at("user_id").as_string());
  }

  testing::TempStore temp_;
};

TEST_F(ExternalIdsTest, FirstLoginProvisionsSecondMapsEvenRenamed) {
  std::string token;
  bool created = false;
  Result<std::string> first = Apply(Login("sub-1", "alice", &token), &created);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(*first, "@alice:example.org");
  EXPECT_TRUE(created);
  Result<User> user = GetUser(store(), *first);
  ASSERT_TRUE(user.ok());
  EXPECT_FALSE(user->has_password);
  Result<std::string> owner = LoginTokenOwner(store(), token, kExternalNowMs + 1);
  ASSERT_TRUE(owner.ok());
  EXPECT_EQ(*owner, *first);
  // Renamed at the provider: the subject still maps to the same account.
  Result<std::string> second = Apply(Login("sub-1", "alice-renamed"), &created);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*second, *first);
  EXPECT_FALSE(created);
  EXPECT_FALSE(UserExists(store(), "@alice-renamed:example.org").value());
  EXPECT_TRUE(HasExternalId(store(), *first).value());
  EXPECT_FALSE(HasExternalId(store(), "@bob:example.org").value());
}

TEST_F(ExternalIdsTest, CollisionsTakeTheNextNumberedLocalpart) {
  ASSERT_EQ(Apply(Login("sub-1", "alice")).value(), "@alice:example.org");
  ASSERT_EQ(Apply(Login("sub-2", "alice")).value(), "@alice1:example.org");
  ASSERT_EQ(Apply(Login("sub-3", "alice")).value(), "@alice2:example.org");
  EXPECT_EQ(CollisionCandidate("bob", 0), "bob");
  EXPECT_EQ(CollisionCandidate("bob", 7), "bob7");
}

TEST_F(ExternalIdsTest, EveryCandidateTakenIsRefusedAndWritesNothing) {
  for (uint32_t i = 0; i <= kLocalpartCollisionsMax; ++i) {
    ASSERT_TRUE(Apply(Login("sub-" + std::to_string(i), "carol")).ok()) << i;
  }
  std::string token;
  Result<std::string> refused = Apply(Login("sub-last", "carol", &token));
  EXPECT_EQ(refused.status().code(), StatusCode::kAlreadyExists);
  EXPECT_FALSE(ExternalIdOwner(store(), "oidc", "sub-last").value().has_value());
  EXPECT_FALSE(LoginTokenOwner(store(), token, kExternalNowMs + 1).ok());
}

TEST_F(ExternalIdsTest, DeactivatedUserIsRefused) {
  ASSERT_TRUE(Apply(Login("sub-1", "dave")).ok());
  rocksdb::WriteBatch batch;
  Result<std::string> payload =
      EncodeAccountCommand(DeactivateCommand{.user_id = "@dave:example.org"});
  ASSERT_TRUE(payload.ok());
  ASSERT_TRUE(ApplyAccountCommand(store(), batch, *payload).ok());
  ASSERT_TRUE(store().Write(batch, false).ok());
  std::string token;
  EXPECT_EQ(Apply(Login("sub-1", "dave", &token)).status().code(), StatusCode::kForbidden);
  EXPECT_FALSE(LoginTokenOwner(store(), token, kExternalNowMs + 1).ok());
}

TEST_F(ExternalIdsTest, CodecRoundTripsAndRefusesMalformed) {
  SsoLoginCommand c = Login("sub-1", "alice");
  Result<std::string> payload = EncodeSsoLoginCommand(c);
  ASSERT_TRUE(payload.ok());
  Result<SsoLoginCommand> decoded = DecodeSsoLoginCommand(*payload);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, c);
  EXPECT_FALSE(DecodeSsoLoginCommand(R"({"op":"sso_login"})").ok());
  EXPECT_FALSE(DecodeSsoLoginCommand(R"({"op":"other"})").ok());
  c.idp_id = "Bad IdP";
  EXPECT_FALSE(EncodeSsoLoginCommand(c).ok());
  c = Login("", "alice");
  EXPECT_FALSE(EncodeSsoLoginCommand(c).ok());
  c = Login("sub", "alice");
  c.login_token_hash = "xyz";
  EXPECT_FALSE(EncodeSsoLoginCommand(c).ok());
}

}  // namespace
}  // namespace nebu::accounts
