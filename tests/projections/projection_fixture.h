// The projection tests' common fixture: a fresh, migrated database in the throwaway
// cluster (skips without NEBU_TEST_PG_URL) and a real Engine on tmpfs.
//
//   class MyTest : public ProjectionFixture {
//     void SetUp() override {
//       ProjectionFixture::SetUp();
//       if (IsSkipped() || HasFatalFailure()) return;
//       ...
//     }
//   };
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "engine/accounts/accounts.h"
#include "engine/core/engine.h"
#include "engine/testing/temp_dir.h"
#include "projections/migrate.h"
#include "tests/projections/pg_test_util.h"

namespace nebu::projections::testing {

class ProjectionFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    NEBU_REQUIRE_PG();
    db_ = std::make_unique<TestDatabase>();
    auto up = MigrateUp(db_->url());
    ASSERT_TRUE(up.ok()) << up.status().ToString();
    auto engine = core::Engine::Open({.data_dir = dir_.path()});
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    engine_ = std::move(engine).value();
  }
  const std::string& url() { return db_->url(); }
  core::Engine& engine() { return *engine_; }
  // Proposes one accounts command and waits for its outcome.
  Status Account(const accounts::AccountCommand& c) {
    NEBU_ASSIGN_OR_RETURN(std::string payload, accounts::EncodeAccountCommand(c));
    return engine().Submit(core::Command{core::CommandKind::kAccount, std::move(payload)}).status();
  }

  nebu::testing::TempDir dir_{nebu::testing::TempDir::kTmpfs};
  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<core::Engine> engine_;
};

}  // namespace nebu::projections::testing
