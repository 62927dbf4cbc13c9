#include "api/client_api.h"

#include "api/accounts/account_routes.h"
#include "api/accounts/filter_routes.h"
#include "api/accounts/push_rules.h"
#include "api/accounts/threepid_routes.h"
#include "api/accounts/token_sweeper.h"
#include "api/discovery.h"
#include "api/keys/keys_routes.h"
#include "api/metrics.h"
#include "api/misc/thirdparty_routes.h"
#include "api/push/notifications_routes.h"
#include "api/push/pusher_delivery.h"
#include "api/push/pusher_routes.h"
#include "api/receipts/receipt_routes.h"
#include "api/rooms/misc_routes.h"
#include "api/rooms/report_routes.h"
#include "api/rooms/rooms_routes.h"
#include "api/rooms/space_routes.h"
#include "api/rooms/threads_routes.h"
#include "api/rooms/upgrade_routes.h"
#include "api/search/search_routes.h"
#include "api/sso/sso_routes.h"
#include "api/sync/old_sync_routes.h"
#include "api/sync/sync_routes.h"
#include "api/media/media_routes.h"
#include "api/token_wait.h"
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
  StartPusherDelivery(engine, options, metrics);
  token_sweeper_ = std::make_unique<TokenSweeper>(
      engine, TokenSweeperOptions{.active = !options.pushers_standby});
  token_sweeper_->Start();
  SetTokenWaitMs(options.token_wait_ms);
  router.SetCatchUp(options.catch_up);
  auto limits = std::make_shared<UserRateLimits>(options.rate_limit);  // shared by the routes
  AddDiscoveryRoutes(router,
                     {.public_base_url = options.public_base_url, .support = options.support});
  AddAccountRoutes(router, engine,
                   {.registration_open = options.registration_open,
                    .registration_requires_token = options.registration_requires_token,
                    .access_token_lifetime_ms = options.access_token_lifetime_ms,
                    .rate_limit = options.rate_limit,
                    .user_limits = limits,
                    .password_login = options.password_login,
                    .sso_idp_id = options.sso.enabled() ? options.sso.oidc.idp_id : "",
                    .sso_idp_name = options.sso.oidc.display_name});
  AddRoomRoutes(router, engine, {.rate_limit = options.rate_limit, .user_limits = limits});
  AddSyncRoutes(router, engine, &typing_, &presence_, limits, notifications_.get());
  AddNotificationRoutes(router, engine, notifications_.get());
  AddPushRuleRoutes(router, engine);
  AddPusherRoutes(router, engine);
  AddReceiptRoutes(router, engine, typing_, limits);
  AddPresenceRoutes(router, engine, presence_, limits);
  AddFilterRoutes(router, engine);
  AddKeysRoutes(router, engine, limits);
  AddMiscRoutes(router, engine);
  AddSearchRoutes(router, engine);
  AddSpaceRoutes(router, engine);
  AddUpgradeRoutes(router, engine, limits);
  AddReportRoutes(router, engine, limits);
  AddThreepidRoutes(router, engine);
  AddThirdPartyRoutes(router, engine);
  AddThreadsRoutes(router, engine);
  AddOldSyncRoutes(router, engine);
  AddSsoRoutes(router, engine, options.sso);
  if (options.media) options.media->Mount(router);
  AddAdminApiRoutes(router, engine,
                    {.directory = options.admin_directory,
                     .registration_shared_secret = options.registration_shared_secret,
                     .server_notices_localpart = options.server_notices_localpart,
                     .exports = options.compliance_exports});
}

ClientApi::~ClientApi() {
  if (token_sweeper_) token_sweeper_->Stop();
  if (pushers_) pushers_->Stop();  // it subscribes to the worker's notifier
}

void ClientApi::StartPusherDelivery(core::Engine& engine, const ClientApiOptions& options,
                                    Metrics* metrics) {
  push_gateway_ = MakeHttpPushGateway(options.push_private_gateways);
  pushers_ = std::make_unique<PusherDelivery>(
      engine, DeliveryOptions{.gateway = push_gateway_.get(),
                              .wake = notifications_ ? &notifications_->notifier() : nullptr,
                              .active = !options.pushers_standby});
  pushers_->Start();
  if (metrics == nullptr) return;
  PusherDelivery* d = pushers_.get();
  metrics->AddCounterFunction("nebu_pushes_sent_total", "Notifications a push gateway accepted",
                              [d] { return static_cast<double>(d->stats().sent); });
  metrics->AddCounterFunction("nebu_pushes_failed_total",
                              "Failed POSTs to push gateways (each retry counts)",
                              [d] { return static_cast<double>(d->stats().failed); });
  metrics->AddCounterFunction(
      "nebu_pushes_dropped_total",
      "Notifications given up (retries exhausted, a 4xx, or an unreadable event)",
      [d] { return static_cast<double>(d->stats().dropped); });
}

}  // namespace nebu::api
