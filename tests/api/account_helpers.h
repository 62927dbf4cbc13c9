// Accounts made straight through the engine for the API tests (no route involved):
// one registration or login command, proposed and applied, its access token returned.
// Shared by the fixtures of tests/api/* so that each does not spell it out again.
#pragma once

#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "engine/accounts/accounts.h"
#include "engine/core/engine.h"

namespace nebu::api::testing {

// Registers the account of `request` (a first device included) at now_ms; its access
// token ("" with a test failure when the engine refuses).
inline std::string RegisterThroughEngine(core::Engine& engine,
                                         const accounts::RegistrationRequest& request,
                                         int64_t now_ms) {
  auto prepared = accounts::PrepareRegistration(request, now_ms);
  EXPECT_TRUE(prepared.ok()) << prepared.status().ToString();
  if (!prepared.ok()) return "";
  auto applied = engine.Submit(core::Command{core::CommandKind::kAccount, prepared->payload});
  EXPECT_TRUE(applied.ok()) << applied.status().ToString();
  return prepared->access_token.value_or("");
}

// A new device (and access token) of an existing user, at now_ms.
inline std::string LoginThroughEngine(core::Engine& engine, const std::string& user_id,
                                      int64_t now_ms) {
  auto prepared = accounts::PrepareLogin(user_id, std::nullopt, std::nullopt, now_ms);
  EXPECT_TRUE(prepared.ok()) << prepared.status().ToString();
  if (!prepared.ok()) return "";
  auto applied = engine.Submit(core::Command{core::CommandKind::kAccount, prepared->payload});
  EXPECT_TRUE(applied.ok()) << applied.status().ToString();
  return prepared->access_token.value_or("");
}

}  // namespace nebu::api::testing
