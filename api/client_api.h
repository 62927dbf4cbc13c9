// ClientApi: every Client-Server API route of one node on one Router, with the
// trackers (typing, presence) the routes share, fed by an EphemeralBus. It is what `nebu serve`
// mounts on the client listener; the security suite (tests/security) and the HTTP
// fuzz target (fuzz/http_fuzz.cpp) mount the same thing, so what they attack is what
// runs in production.
//
//   api::ClientApi api(engine, {.public_base_url = "https://example.org",
//                               .registration_open = false, .rate_limit = true}, &metrics);
//   server = api::Server::Start({{.address = ..., .port = 8008, .router = &api.router()}}, {});
//   ... serve ...; stop the server before `api` goes.
//
// Ownership: the ClientApi owns its Router ("client") and the trackers the routes use;
// the router goes first, so no route outlives a tracker. Thread-safety: after the
// constructor, router() is shared like any Router. The engine and `metrics` (nullable)
// must outlive the ClientApi.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "api/admin/admin_routes.h"
#include "api/discovery.h"
#include "api/sync/presence.h"
#include "api/router.h"
#include "api/sso/sso_routes.h"
#include "api/sync/typing.h"

namespace nebu::core {
class Engine;
}
namespace nebu::push {
class NotificationWorker;
}
namespace nebu::api {
class CatchUpBarrier;
class MediaApi;
class PushGateway;
class PusherDelivery;
class TokenSweeper;
}

namespace nebu::api {

struct ClientApiOptions {
  std::string public_base_url;     // advertised in /.well-known/matrix/client
  SupportInfo support;             // /.well-known/matrix/support (api/discovery.h)
  bool registration_open = false;  // false: POST /register answers 403 M_FORBIDDEN
  bool registration_requires_token = false;  // AccountRoutesConfig
  int64_t access_token_lifetime_ms = 300000;  // AccountRoutesConfig
  bool rate_limit = true;          // false: no 429s from any route (tests, benchmarks)
  // How long a read waits for this node to apply a token another node issued
  // (api/token_wait.h): kTokenWaitMsCluster in a cluster, 0 on a single node. It is
  // process-wide: the constructor calls SetTokenWaitMs with it.
  int64_t token_wait_ms = 0;
  // A cluster node's read barrier (api/cluster_view.h; api/router.h "Catch-up on a
  // miss"); null on a single node. It must outlive the ClientApi.
  CatchUpBarrier* catch_up = nullptr;
  // Pusher delivery (api/push/pusher_delivery.h) and the expired-token sweep
  // (api/accounts/token_sweeper.h) start standing by; a cluster's pusher election
  // calls SetActive(true) on both on the one node that holds it.
  bool pushers_standby = false;
  // Push gateways on loopback or private addresses are allowed (NEBU_PUSH_PRIVATE_GATEWAYS).
  bool push_private_gateways = false;
  // Single sign-on (api/sso/sso_routes.h; off while sso.oidc.issuer is empty) and
  // password login and registration (AccountRoutesConfig::password_login).
  SsoConfig sso;
  bool password_login = true;
  // The media routes (api/media/media_routes.h), shared with a NEBU_MEDIA_ADDR
  // listener; null: none mounted.
  std::shared_ptr<MediaApi> media;
  // The admin API's PostgreSQL reads (api/admin/admin_routes.h); null: its lists answer 503.
  std::shared_ptr<AdminDirectory> admin_directory;
  std::string registration_shared_secret;  // AdminRoutesOptions (NEBU_REGISTRATION_SHARED_SECRET)
  std::string server_notices_localpart = "server";  // AdminRoutesOptions (NEBU_SERVER_NOTICES_LOCALPART)
  std::shared_ptr<ExportStore> compliance_exports;  // AdminRoutesOptions::exports
};

class Metrics;

class ClientApi {
 public:
  // `bus`: where typing and presence are shared (a cluster's etcd bus; it must
  // outlive the ClientApi); null: an in-memory one per tracker (one node).
  ClientApi(core::Engine& engine, const ClientApiOptions& options, Metrics* metrics = nullptr,
            EphemeralBus* bus = nullptr);
  ~ClientApi();
  ClientApi(const ClientApi&) = delete;
  ClientApi& operator=(const ClientApi&) = delete;

  [[nodiscard]] const Router& router() const { return router_; }
  TypingTracker& typing() { return typing_; }
  PresenceTracker& presence() { return presence_; }
  // The push-rule worker (engine/push/notification_worker.h) that fills unread counts
  // and GET /notifications; null when it failed to start (logged; the routes then
  // answer without counts). Started by the constructor, stopped by the destructor
  // after the router.
  push::NotificationWorker* notifications() { return notifications_.get(); }
  // The pusher delivery (pusher_delivery.h), woken by the notification worker; its
  // counts are nebu_pushes_{sent,failed,dropped}_total on `metrics`. Stopped by the
  // destructor before the worker.
  PusherDelivery& pushers() { return *pushers_; }
  // Deletes expired login and OpenID tokens (token_sweeper.h); active unless
  // pushers_standby. Stopped by the destructor.
  TokenSweeper& token_sweeper() { return *token_sweeper_; }

 private:
  void StartPusherDelivery(core::Engine& engine, const ClientApiOptions& options,
                           Metrics* metrics);

  TypingTracker typing_;      // memory, fed by the bus; outlives router_
  PresenceTracker presence_;  // likewise
  std::unique_ptr<push::NotificationWorker> notifications_;  // outlives router_
  std::unique_ptr<PushGateway> push_gateway_;                // outlives pushers_
  std::unique_ptr<PusherDelivery> pushers_;                  // goes before notifications_
  std::unique_ptr<TokenSweeper> token_sweeper_;
  Router router_;
};

}  // namespace nebu::api
