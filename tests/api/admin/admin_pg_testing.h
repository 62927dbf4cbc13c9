// The fixture of api_admin_pg_test: the admin fixture (real engine, loopback HTTP) with
// the admin API's lists reading a throwaway PostgreSQL database (NEBU_TEST_PG_URL;
// skipped without it) through projections::MakeAdminDirectory, and a projector that
// tests run to completion (Sync) or in the background (StartProjector).
#pragma once

#include <algorithm>
#include <cctype>
#include <memory>
#include <string>
#include <vector>

#include "projections/admin_directory.h"
#include "projections/migrate.h"
#include "projections/projector.h"
#include "tests/api/admin/admin_testing.h"
#include "tests/projections/pg_test_util.h"

namespace nebu::api::testing {

namespace json = boost::json;

inline std::string AdminV1(std::string_view rest) {
  return "/_synapse/admin/v1" + std::string(rest);
}
inline std::string AdminV2(std::string_view rest) {
  return "/_synapse/admin/v2" + std::string(rest);
}

class AdminPgFixture : public AdminFixture {
 protected:
  void SetUp() override {
    if (!projections::testing::EnvUrl("NEBU_TEST_PG_URL")) {
      NEBU_PG_SKIP("NEBU_TEST_PG_URL is unset");
    }
    db_ = std::make_unique<projections::testing::TestDatabase>();
    ASSERT_TRUE(projections::MigrateUp(db_->url()).ok());
    StartAdmin({.directory = projections::MakeAdminDirectory(db_->url(), std::string(kServerName))});
    projector_ = std::make_unique<projections::Projector>(
        engine_->Latest(), projections::ProjectorOptions{.db_url = db_->url(),
                                                         .notifier = &engine_->notifier(),
                                                         .search = false});
  }
  void TearDown() override {
    projector_.reset();  // before the engine it reads
    AdminFixture::TearDown();
    db_.reset();
  }

  // Projects everything written so far (events, accounts, media, audit records).
  void Sync() {
    Status done = projector_->CatchUp();
    ASSERT_TRUE(done.ok()) << done.ToString();
  }

  const std::string& url() const { return db_->url(); }

  // GET path as `who`; asserts 200 and returns the body.
  json::object Get(const Session& who, const std::string& path) {
    HttpReply reply = As(&who, "GET", path);
    EXPECT_EQ(reply.status, 200) << path << ": " << reply.body;
    json::value body = reply.Json();
    return body.is_object() ? body.as_object() : json::object{};
  }

  // The value of a response header (case-insensitive name); "" when absent.
  static std::string Header(const HttpReply& reply, std::string_view name) {
    std::string head = reply.head;
    std::string lower_head = head;
    std::transform(lower_head.begin(), lower_head.end(), lower_head.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    std::string key = "\r\n" + std::string(name) + ":";
    std::transform(key.begin(), key.end(), key.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    size_t at = lower_head.find(key);
    if (at == std::string::npos) return "";
    size_t begin = at + key.size();
    size_t end = head.find("\r\n", begin);
    std::string value = head.substr(begin, end - begin);
    value.erase(0, value.find_first_not_of(' '));
    return value;
  }

  // The `key` field of each object of body[list].
  static std::vector<std::string> Column(const json::object& body, std::string_view list,
                                         std::string_view key) {
    std::vector<std::string> out;
    const json::value* items = body.if_contains(list);
    if (items == nullptr || !items->is_array()) return out;
    for (const json::value& item : items->as_array()) out.push_back(Str(item, key));
    return out;
  }

  std::unique_ptr<projections::testing::TestDatabase> db_;
  std::unique_ptr<projections::Projector> projector_;
};

}  // namespace nebu::api::testing
