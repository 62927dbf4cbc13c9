#include "api/client_api.h"

#include "api/accounts/account_routes.h"
#include "api/discovery.h"
#include "api/accounts/filter_routes.h"
#include "api/keys/keys_routes.h"
#include "api/rooms/misc_routes.h"
#include "api/accounts/push_rules.h"
#include "api/receipts/receipt_routes.h"
#include "api/rooms/rooms_routes.h"
#include "api/sync/sync_routes.h"
#include "api/rooms/threads_routes.h"
#include "api/sync/old_sync_routes.h"
#include "api/token_wait.h"

namespace nebu::api {

ClientApi::ClientApi(core::Engine& engine, const ClientApiOptions& options, Metrics* metrics,
                     EphemeralBus* bus)
    : typing_(bus), presence_(bus), router_("client", metrics) {
  Router& router = router_;
  SetTokenWaitMs(options.token_wait_ms);
  auto limits = std::make_shared<UserRateLimits>(options.rate_limit);  // shared by the routes
  AddDiscoveryRoutes(router, {.public_base_url = options.public_base_url});
  AddAccountRoutes(router, engine,
                   {.registration_open = options.registration_open,
                    .rate_limit = options.rate_limit,
                    .user_limits = limits});
  AddRoomRoutes(router, engine, {.rate_limit = options.rate_limit, .user_limits = limits});
  AddSyncRoutes(router, engine, &typing_, &presence_, limits);
  AddPushRuleRoutes(router, engine);
  AddReceiptRoutes(router, engine, typing_, limits);
  AddPresenceRoutes(router, engine, presence_, limits);
  AddFilterRoutes(router, engine);
  AddKeysRoutes(router, engine, limits);
  AddMiscRoutes(router, engine);
  AddThreadsRoutes(router, engine);
  AddOldSyncRoutes(router, engine);
}

}  // namespace nebu::api
