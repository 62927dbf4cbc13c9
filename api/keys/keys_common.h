// Internal to api/: what the e2ee endpoints (keys_routes.cpp, keys_signing_routes.cpp)
// share. Not a public API; see api/keys/keys_routes.h.
#pragma once

#include <boost/json/object.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/auth.h"
#include "api/rate_limit.h"
#include "api/router.h"
#include "api/worker_pool.h"
#include "engine/e2ee/commands.h"
#include "engine/e2ee/e2ee.h"

namespace nebu::core {
class Engine;
}

namespace nebu::api::keys_internal {

inline constexpr size_t kVerifyThreads = 1;  // password checks of device_signing UIA
inline constexpr size_t kVerifyQueueMax = 64;

struct Context {
  Context(core::Engine& engine_ref, std::shared_ptr<UserRateLimits> limits_value)
      : engine(engine_ref),
        limits(std::move(limits_value)),
        pool({.threads = kVerifyThreads, .queue_max = kVerifyQueueMax}) {}
  core::Engine& engine;
  std::shared_ptr<UserRateLimits> limits;  // never null; password_check for the UIA
  WorkerPool pool;  // last: destroyed (finishing its queue) first
};
using ContextPtr = std::shared_ptr<Context>;

// Registers under both client prefixes.
void AddRoute(Router& router, std::string_view method, std::string_view suffix, Handler handler,
              size_t body_bytes_max = 0);
void AddAsyncRoute(Router& router, std::string_view method, std::string_view suffix,
                   AsyncHandler handler, size_t body_bytes_max = 0);

// Proposes the command; respond gets answer(outcome JSON object) or the mapped error.
void SubmitE2ee(core::Engine& engine, const e2ee::E2eeCommand& command, Respond respond,
                std::function<Response(boost::json::object)> answer);

// True when the user ID names a user of this server.
bool IsLocalUser(std::string_view user_id, std::string_view server_name);
// The server part of a user ID ("" when malformed).
std::string_view ServerOf(std::string_view user_id);

// The public key of a cross-signing key object: the part after "ed25519:" of its one
// key ID; nullopt when the object has no such key.
std::optional<std::string> CrossSigningPublicKey(const boost::json::object& key);

// Adds each signature to key["signatures"][signer][signer_key_id] (when `keep` says
// so), without replacing one the object already carries.
void MergeSignatures(boost::json::object& key, const std::vector<e2ee::StoredSignature>& signatures,
                     const std::function<bool(const e2ee::StoredSignature&)>& keep);

// The device_signing and signatures endpoints (keys_signing_routes.cpp).
void AddSigningRoutes(Router& router, const ContextPtr& context);

}  // namespace nebu::api::keys_internal
