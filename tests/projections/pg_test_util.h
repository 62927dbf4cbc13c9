// Test support for tests/projections: a fresh PostgreSQL database per test, created
// in the throwaway cluster scripts/test.sh starts (scripts/pg.sh), and small SQL helpers.
//
//   NEBU_REQUIRE_PG();                 // skip (fail under NEBU_TEST_PG_REQUIRED=1)
//                                      // when NEBU_TEST_PG_URL is unset
//   TestDatabase db;                   // CREATE DATABASE nebu_t_<random> OWNER the runtime role
//   ASSERT_TRUE(MigrateUp(db.url()).ok());
//   auto rows = Query(db.url(), "SELECT count(*) FROM events");
//
// NEBU_TEST_PG_URL is the runtime role's URL (not a superuser, CREATEDB);
// NEBU_TEST_PG_ADMIN_URL the superuser's (for creating an auditor role).
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <cstdlib>
#include <optional>
#include <pqxx/pqxx>
#include <random>
#include <string_view>
#include <string>
#include <thread>
#include <vector>

namespace nebu::projections::testing {

inline std::optional<std::string> EnvUrl(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return std::nullopt;
  return std::string(v);
}

// NEBU_TEST_PG_REQUIRED=1 (scripts/test.sh sets it once its PostgreSQL runs, so in CI)
// turns every PostgreSQL skip below into a failure: a suite that silently skipped
// there would pass without testing anything. Without it a test skips with a message
// that ctest's SKIP_REGULAR_EXPRESSION ("PostgreSQL test skipped") reports as skipped.
inline bool PgRequired() {
  const char* v = std::getenv("NEBU_TEST_PG_REQUIRED");
  return v != nullptr && std::string_view(v) == "1";
}

#define NEBU_PG_SKIP(why)                                                                \
  do {                                                                                   \
    if (::nebu::projections::testing::PgRequired()) {                                    \
      FAIL() << why << " (NEBU_TEST_PG_REQUIRED=1: this test must run)";                 \
    }                                                                                    \
    GTEST_SKIP() << "PostgreSQL test skipped: " << why;                                  \
  } while (0)

#define NEBU_REQUIRE_PG()                                                                \
  do {                                                                                   \
    if (!::nebu::projections::testing::EnvUrl("NEBU_TEST_PG_URL")) {                     \
      NEBU_PG_SKIP("NEBU_TEST_PG_URL is unset: start PostgreSQL with scripts/pg.sh "     \
                   "start and export NEBU_TEST_PG_URL=$(scripts/pg.sh url) "             \
                   "(scripts/test.sh does this)");                                       \
    }                                                                                    \
  } while (0)

// "postgresql://user@host:port/db" with another database name (and user).
inline std::string WithDatabase(const std::string& url, const std::string& db,
                                const std::optional<std::string>& user = std::nullopt) {
  std::string out = url.substr(0, url.rfind('/') + 1) + db;
  if (user) {
    size_t scheme = out.find("://") + 3;
    size_t at = out.find('@', scheme);
    out = out.substr(0, scheme) + *user + out.substr(at);
  }
  return out;
}

inline std::vector<std::vector<std::string>> Query(pqxx::connection& conn, const std::string& sql) {
  pqxx::nontransaction tx(conn);
  std::vector<std::vector<std::string>> out;
  for (const auto& row : tx.exec(sql)) {
    std::vector<std::string> r;
    for (const auto& f : row) r.push_back(f.is_null() ? "<null>" : f.c_str());
    out.push_back(std::move(r));
  }
  return out;
}

inline std::vector<std::vector<std::string>> Query(const std::string& url, const std::string& sql) {
  pqxx::connection conn(url);
  return Query(conn, sql);
}

inline void Exec(const std::string& url, const std::string& sql) {
  pqxx::connection conn(url);
  pqxx::nontransaction tx(conn);
  tx.exec(sql);
}

inline std::string RandomSuffix() {
  static std::mt19937_64 rng{std::random_device{}()};
  return std::to_string(rng() % 1'000'000'000'000ULL);
}

// Polls `done` every 20 ms until it holds or `timeout` passes; its last answer.
inline bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

class TestDatabase {
 public:
  TestDatabase() {
    base_ = *EnvUrl("NEBU_TEST_PG_URL");
    name_ = "nebu_t_" + RandomSuffix();
    Exec(base_, "CREATE DATABASE " + name_);
    url_ = WithDatabase(base_, name_);
  }
  // WITH (FORCE) may have to end an autovacuum worker, which only a superuser may:
  // the admin URL drops when it is known; otherwise a few tries.
  ~TestDatabase() {
    std::string dropper = EnvUrl("NEBU_TEST_PG_ADMIN_URL").value_or(base_);
    for (int attempt = 1;; ++attempt) {
      try {
        Exec(dropper, "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
        return;
      } catch (const std::exception& e) {
        if (attempt == 5) {
          ADD_FAILURE() << "drop " << name_ << ": " << e.what();
          return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200 * attempt));
      }
    }
  }
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;
  const std::string& url() const { return url_; }
  const std::string& name() const { return name_; }

 private:
  std::string base_;
  std::string name_;
  std::string url_;
};

}  // namespace nebu::projections::testing
