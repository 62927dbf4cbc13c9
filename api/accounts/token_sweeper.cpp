#include "api/accounts/token_sweeper.h"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <utility>

#include "engine/accounts/commands.h"
#include "engine/core/engine.h"

namespace nebu::api {

TokenSweeper::TokenSweeper(core::Engine& engine, TokenSweeperOptions options)
    : engine_(engine), options_(options), active_(options.active) {}

TokenSweeper::~TokenSweeper() { Stop(); }

void TokenSweeper::Start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { Loop(); });
}

void TokenSweeper::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void TokenSweeper::SetActive(bool active) { active_.store(active); }

void TokenSweeper::Loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (wake_.wait_for(lock, std::chrono::milliseconds(options_.interval_ms),
                       [this] { return stopping_; })) {
      break;
    }
    if (!active_.load()) continue;
    lock.unlock();
    Result<int64_t> swept = RunOnce();
    if (!swept.ok()) spdlog::warn("token sweep: {}", swept.status().ToString());
    lock.lock();
  }
}

Result<int64_t> TokenSweeper::RunOnce() {
  accounts::ExpireTokensCommand command{.now_ms = engine_.clock().NowUnixMs()};
  int64_t deleted = 0;
  for (size_t i = 0; i < kTokenSweepCommandsPerPassMax; ++i) {
    NEBU_ASSIGN_OR_RETURN(std::string payload, accounts::EncodeAccountCommand(command));
    NEBU_ASSIGN_OR_RETURN(std::string outcome,
                          engine_.Submit({core::CommandKind::kAccount, std::move(payload)}));
    boost::system::error_code ec;
    boost::json::value parsed = boost::json::parse(outcome, ec);
    const boost::json::object* o = ec ? nullptr : parsed.if_object();
    if (o == nullptr) return Status::Internal("bad expire_tokens outcome");
    if (const auto* n = o->if_contains("deleted"); n != nullptr && n->is_int64()) {
      deleted += n->as_int64();
    }
    const auto* after = o->if_contains("after");
    if (after == nullptr || !after->is_string()) break;
    command.after = std::string(after->as_string());
  }
  deleted_.fetch_add(deleted);
  return deleted;
}

}  // namespace nebu::api
