#include "api/client_api.h"

#include "api/accounts/account_routes.h"
#include "api/discovery.h"
#include "api/accounts/filter_routes.h"
#include "api/keys/keys_routes.h"
#include "api/rooms/misc_routes.h"
#include "api/accounts/push_rules.h"
#include "api/receipts/receipt_routes.h"
#include "api/rooms/rooms_routes.h"
#include "api/search/search_routes.h"
#include "api/rooms/space_routes.h"
#include "api/sync/sync_routes.h"
#include "api/token_wait.h"
#include "api/push/notifications_routes.h"
#include "engine/push/notification_worker.h"

#include <spdlog/spdlog.h>

namespace nebu::api {

ClientApi::ClientApi(core::Engine& engine, const ClientApiOptions& options, Metrics* metrics,
                     EphemeralBus* bus)
    : typing_(bus),
      presence_(bus),
      notifications_(std::make_unique<push::NotificationWorker>(engine)),
      router_("client", metrics) {
  Router& router = router_;
  if (Status started = notifications_->Start(); !started.ok()) {
    spdlog::error("push: the notification worker did not start: {}", started.ToString());
    notifications_.reset();
  }
  SetTokenWaitMs(options.token_wait_ms);
  auto limits = std::make_shared<UserRateLimits>(options.rate_limit);  // shared by the routes
  AddDiscoveryRoutes(router, {.public_base_url = options.public_base_url});
  AddAccountRoutes(router, engine,
                   {.registration_open = options.registration_open,
                    .registration_requires_token = options.registration_requires_token,
                    .access_token_lifetime_ms = options.access_token_lifetime_ms,
                    .rate_limit = options.rate_limit,
                    .user_limits = limits});
  AddRoomRoutes(router, engine, {.rate_limit = options.rate_limit, .user_limits = limits});
  AddSyncRoutes(router, engine, &typing_, &presence_, limits, notifications_.get());
  AddNotificationRoutes(router, engine, notifications_.get());
  AddPushRuleRoutes(router, engine);
  AddReceiptRoutes(router, engine, typing_, limits);
  AddPresenceRoutes(router, engine, presence_, limits);
  AddFilterRoutes(router, engine);
  AddKeysRoutes(router, engine, limits);
  AddMiscRoutes(router, engine);
  AddSearchRoutes(router, engine);
  AddSpaceRoutes(router, engine);
}

ClientApi::~ClientApi() = default;

}  // namespace nebu::api
