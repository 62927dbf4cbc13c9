// Goal: expired m.login.token login tokens and OpenID tokens are deleted by the token
// sweep (api/accounts/token_sweeper.h proposing accounts expire_tokens commands), and
// only those: live ones and access tokens stay; a repeat deletes nothing; a backlog
// larger than one command's scan bound is deleted in several commands of one pass.
// Registration tokens can be updated (set, cleared, unchanged) and deleted through the
// engine commands the admin API will propose, with kNotFound for unknown ones.
// Method: AccountsFixture (a real engine on a fake clock, HTTP on loopback); tokens
// made by their commands, or written in one batch for the backlog; counted in the
// store.
#include <gtest/gtest.h>

#include <string>

#include "api/accounts/token_sweeper.h"
#include "engine/accounts/internal/records.h"
#include "engine/common/crypto.h"
#include "tests/api/accounts/accounts_testing.h"

namespace nebu::api::testing {
namespace {

class TokenExpiryTest : public AccountsFixture {
 protected:
  // Login ('l') and OpenID ('o') token records in the store.
  size_t SideTokens() {
    size_t n = 0;
    auto it = engine_->store().NewIterator(storage::Cf::kTokens);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const std::string_view key = it->key().ToStringView();
      if (key.size() == 33 && (key[0] == 'l' || key[0] == 'o')) ++n;
    }
    return n;
  }
  static std::string Hash(int i) { return HexEncode(Sha256("token " + std::to_string(i))); }
};

TEST_F(TokenExpiryTest, TheSweepDeletesExpiredLoginAndOpenIdTokensOnly) {
  Session alice = Register("alice");
  const int64_t now = clock_.NowUnixMs();
  ASSERT_TRUE(Propose(accounts::CreateLoginTokenCommand{alice.user_id, Hash(1), now + 1000}).ok());
  ASSERT_TRUE(Propose(accounts::CreateLoginTokenCommand{alice.user_id, Hash(2), now + 9000}).ok());
  ASSERT_TRUE(Propose(accounts::CreateOpenIdTokenCommand{alice.user_id, Hash(3), now + 1000}).ok());
  ASSERT_TRUE(Propose(accounts::CreateOpenIdTokenCommand{alice.user_id, Hash(4), now + 9000}).ok());
  ASSERT_EQ(SideTokens(), 4u);

  TokenSweeper sweeper(*engine_, {});
  Result<int64_t> none = sweeper.RunOnce();
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_EQ(*none, 0);
  clock_.AdvanceMs(1000);  // tokens 1 and 3 expire now (refused from expires_ms on)
  Result<int64_t> two = sweeper.RunOnce();
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(*two, 2);
  EXPECT_EQ(SideTokens(), 2u);
  Result<int64_t> again = sweeper.RunOnce();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0);
  EXPECT_EQ(WhoAmI(alice), 200);  // the access token stays
  clock_.AdvanceMs(8000);
  ASSERT_TRUE(sweeper.RunOnce().ok());
  EXPECT_EQ(SideTokens(), 0u);
  EXPECT_EQ(sweeper.deleted(), 4);
  EXPECT_EQ(WhoAmI(alice), 200);
}

TEST_F(TokenExpiryTest, ABacklogOverTheScanBoundGoesInSeveralCommandsOfOnePass) {
  Session alice = Register("alice");
  const size_t total = accounts::kExpireTokensScanMax + 100;
  rocksdb::WriteBatch batch;
  for (size_t i = 0; i < total; ++i) {
    const char tag = i % 2 == 0 ? accounts::internal::kLoginTokenTag
                                : accounts::internal::kOpenIdTokenTag;
    ASSERT_TRUE(batch
                    .Put(engine_->store().handle(storage::Cf::kTokens),
                         accounts::internal::SideTokenKey(tag, Hash(static_cast<int>(i))),
                         accounts::internal::EncodeSideTokenRecord({alice.user_id, "", 1}))
                    .ok());
  }
  ASSERT_TRUE(engine_->store().Write(batch, /*sync=*/false).ok());
  // One command stops at the bound and says where to go on.
  core::ApplyOutcome first =
      Propose(accounts::ExpireTokensCommand{.now_ms = clock_.NowUnixMs()});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  boost::json::value out = boost::json::parse(*first);
  EXPECT_LE(out.at("deleted").as_int64(), static_cast<int64_t>(accounts::kExpireTokensScanMax));
  EXPECT_TRUE(out.as_object().contains("after")) << *first;
  // The sweep finishes the rest in one pass.
  TokenSweeper sweeper(*engine_, {});
  Result<int64_t> rest = sweeper.RunOnce();
  ASSERT_TRUE(rest.ok()) << rest.status().ToString();
  EXPECT_EQ(static_cast<size_t>(out.at("deleted").as_int64() + *rest), total);
  EXPECT_EQ(SideTokens(), 0u);
  EXPECT_EQ(WhoAmI(alice), 200);
}

TEST_F(TokenExpiryTest, BadExpireCommandsAreRefused) {
  EXPECT_FALSE(Propose(accounts::ExpireTokensCommand{.now_ms = -1}).ok());
  EXPECT_FALSE(Propose(accounts::ExpireTokensCommand{.now_ms = 1, .after = "XYZ"}).ok());
  EXPECT_FALSE(Propose(accounts::ExpireTokensCommand{.now_ms = 1, .after = "abc"}).ok());
}

TEST_F(TokenExpiryTest, RegistrationTokensAreUpdatedAndDeletedByTheirCommands) {
  ASSERT_TRUE(Propose(accounts::CreateRegistrationTokenCommand{
                          .token = "t1", .uses_allowed = 1, .expiry_time = 5000})
                  .ok());
  // Set uses, leave the expiry.
  ASSERT_TRUE(Propose(accounts::UpdateRegistrationTokenCommand{
                          .token = "t1", .uses_allowed = std::optional<int64_t>(3)})
                  .ok());
  auto t = accounts::GetRegistrationToken(engine_->Read(), "t1");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->uses_allowed, std::optional<int64_t>(3));
  EXPECT_EQ(t->expiry_time, std::optional<int64_t>(5000));
  // Clear both (unlimited, never expires).
  ASSERT_TRUE(Propose(accounts::UpdateRegistrationTokenCommand{
                          .token = "t1",
                          .uses_allowed = std::optional<int64_t>(),
                          .expiry_time = std::optional<int64_t>()})
                  .ok());
  t = accounts::GetRegistrationToken(engine_->Read(), "t1");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->uses_allowed, std::nullopt);
  EXPECT_EQ(t->expiry_time, std::nullopt);
  // The wire form keeps "absent" and "null" apart.
  accounts::UpdateRegistrationTokenCommand clear{.token = "t1",
                                                 .expiry_time = std::optional<int64_t>()};
  auto encoded = accounts::EncodeAccountCommand(clear);
  ASSERT_TRUE(encoded.ok());
  auto decoded = accounts::DecodeAccountCommand(*encoded);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(std::get<accounts::UpdateRegistrationTokenCommand>(*decoded), clear);

  EXPECT_EQ(Propose(accounts::UpdateRegistrationTokenCommand{.token = "nope"}).status().code(),
            StatusCode::kNotFound);
  EXPECT_FALSE(Propose(accounts::UpdateRegistrationTokenCommand{
                           .token = "t1", .uses_allowed = std::optional<int64_t>(-1)})
                   .ok());
  ASSERT_TRUE(Propose(accounts::DeleteRegistrationTokenCommand{.token = "t1"}).ok());
  EXPECT_EQ(accounts::GetRegistrationToken(engine_->Read(), "t1").status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(Propose(accounts::DeleteRegistrationTokenCommand{.token = "t1"}).status().code(),
            StatusCode::kNotFound);
}

}  // namespace
}  // namespace nebu::api::testing
