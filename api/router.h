// Router: the pure request handler of one listener. It maps method + path pattern to a
// handler, answers what the Client-Server API says every endpoint answers (CORS headers,
// OPTIONS preflight, 404/405 M_UNRECOGNIZED), and records request metrics. It knows
// nothing about sockets: api/server.cpp reads a Request, calls HandleAsync(), writes the
// Response once it is answered; tests call Handle() directly.
//
//   Router router("client", &metrics);
//   router.Add("GET", "/_matrix/client/v3/rooms/{roomId}/state", HandleRoomState);
//   router.Add("PUT", "/_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}",
//              HandleSend, {.body_bytes_max = 64 * 1024});
//   Response response =
//       router.Handle(MakeRequest("GET", "/_matrix/client/v3/rooms/%21a%3Ab/state"));
//   // HandleRoomState saw params.at("roomId") == "!a:b"
//
// Asynchronous routes answer later, from any thread, without holding a server thread:
//   router.AddAsync("PUT", "/_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}",
//                   [&engine](const Request& request, const PathParams& params,
//                             Respond respond) {
//                     engine.SubmitAsync(command, [respond](core::ApplyOutcome outcome) {
//                       respond(outcome.ok() ? JsonResponse(200, ...)
//                                            : ErrorResponse(outcome.status()));
//                     });
//                   });
// A Respond is cheap to copy; the first call answers, later calls are ignored (and
// logged). A handler that throws before answering gets 500 M_UNKNOWN; one whose every
// copy of Respond is destroyed without a call also gets 500 M_UNKNOWN (logged), so a
// forgotten path never hangs the connection. The request and params passed to an
// async handler live only until it returns: capture copies of what you need later.
//
// Heavy synchronous routes (reads over many events or rooms) are registered with
// {.offload = true}: the handler then runs on the router's offload pool (a WorkerPool
// of kOffloadThreads threads) instead of the server thread, and answers through the
// asynchronous path, so /health, /versions and sends keep answering while it runs.
// When kOffloadQueueMax offloaded requests already wait for a pool thread, the
// request is refused at once with 429 M_LIMIT_EXCEEDED, retry_after_ms
// kOffloadBusyRetryAfterMs (the answer clients already retry on); the handler never
// runs. An offloaded handler gets copies of the request and params.
//
// Catch-up on a miss (cluster nodes only; SetCatchUp, api/cluster_view.h): a write is
// answered once the proposer's own node applied it, so a client behind a load balancer
// may reach a node that has not applied it yet. When a request that carries an access
// token (Request::AccessToken) on a route with RouteOptions::catch_up is answered
//   401 M_UNKNOWN_TOKEN (without soft_logout: not an expired token),
//   403 M_FORBIDDEN or 404 M_NOT_FOUND,
// the router holds that first answer and asks the CatchUpBarrier (one linearizable etcd
// read; a bounded wait, kCatchUpWaitMs, on the barrier's own threads). Only when the
// node WAS behind and has caught up does it run the handler once more, with a copy of
// the request made before the first run, and answer the second answer, whatever it is
// (never a third run). Otherwise (not behind, still behind after the bound, etcd
// unreachable, kCatchUpRequestsMax catch-ups already under way) the first answer
// stands. The re-run goes where the first run went: an offloaded route to the offload
// pool (full: the first answer stands), any other route on the barrier's thread (they
// never block). No server I/O thread and not the apply thread ever waits.
// Counted in nebu_cluster_catchup_total{outcome}: "not_behind", "still_behind",
// "unavailable", "busy" (first answer kept), "changed" / "unchanged" (re-run, its
// status differs from the first one's / does not).
// The re-run rule (RouteOptions::catch_up, true by default): a route may be re-run only
// if its 401/403/404 answers change nothing. Authentication failures come before any
// handler work (api/auth.h), so every 401 M_UNKNOWN_TOKEN qualifies. A handler's
// 403/404 qualifies when it comes from a read of this node's state before any write, or
// from a command the state machine rejected (a rejected command writes nothing). One
// thing a re-run may repeat is accepted: a per-user rate-limit token (api/rate_limit.h)
// taken before the refusal is taken once more (at most twice per request; only when the
// node was behind). Routes that must set catch_up = false: unauthenticated ones that
// can answer a miss (POST /login: a wrong password is 403 and counts a failed login;
// POST /register: 403 when closed; neither legitimately carries a token) and any route
// whose error path records something (a failed-attempt counter, a UIA session, a
// transaction ID). Other unauthenticated routes never see a catch-up unless a client
// sends a token they ignore, and their misses change nothing (/refresh, openid userinfo).
// Cost in a cluster: every request with a token on such a route is copied once (body
// included; spooled uploads only name their file) and the barrier's applied revision
// read (an atomic) before its handler runs; a miss's body is parsed for its errcode.
// Without a barrier (a single node) none of this exists: no copy, no parse, no cost.
//
// Patterns are '/'-separated segments; a segment is a literal or a whole `{name}`
// parameter. A parameter matches one raw segment (possibly empty) and is percent-
// decoded before the handler runs, so "%2F" inside a parameter is a '/' in its value.
// When several patterns match a path, the one with a literal at the first differing
// segment wins ("/devices/list" beats "/devices/{deviceId}").
//
// Answers made by the router itself:
//   OPTIONS on any path          204, no body, CORS headers; no handler runs
//   no pattern matches           404 {"errcode":"M_UNRECOGNIZED"}
//   pattern matches, not method  405 {"errcode":"M_UNRECOGNIZED"} with an Allow header
//   bad %-escape in a parameter  400 M_INVALID_PARAM
//   a parameter breaks its rule  400 M_INVALID_PARAM (api/path_params.h: UTF-8, no
//     U+0000, a byte cap, the grammar of its name), and so does a query parameter
//     that is not UTF-8 text; no handler runs
//   the handler throws           500 M_UNKNOWN (logged)
//   offload queue full           429 M_LIMIT_EXCEEDED, retry_after_ms (see above)
// (none of these is ever re-run by the catch-up: it only sees handlers' answers).
// Every response, synchronous or asynchronous, gets the CORS headers (see
// AddCorsHeaders) and is recorded in the metrics when it is answered.
//
// Thread-safety: Add()/AddAsync() only before the router is shared (set up, then
// serve); after that Handle(), HandleAsync() and BodyBytesMax() are safe from any
// thread. Handlers run on server threads (offloaded ones on pool threads) concurrently
// and must be thread-safe. The router must outlive every Respond it hands out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/http.h"
#include "api/worker_pool.h"

namespace prometheus {
class Counter;
}  // namespace prometheus

namespace nebu::api {

class CatchUpBarrier;
class Metrics;

// Decoded path parameters by name, e.g. {"roomId": "!a:b"}.
using PathParams = std::map<std::string, std::string, std::less<>>;
using Handler = std::function<Response(const Request&, const PathParams&)>;
// Asynchronous handlers answer later through Respond (exactly once, from any thread):
// a send answers when its event is committed, /sync when something happens or its
// timeout passes. The server thread is free meanwhile.
using Respond = std::function<void(Response)>;
using AsyncHandler = std::function<void(const Request&, const PathParams&, Respond)>;

// The Client-Server API's two path prefixes: most client routes are mounted under both
// (r0 for older clients).
inline constexpr std::string_view kClientPrefixes[] = {"/_matrix/client/v3", "/_matrix/client/r0"};

struct RouteOptions {
  // The largest request body this route accepts; bigger ones get 413 M_TOO_LARGE
  // before the body is read. 0 means the router's kBodyBytesMaxDefault.
  size_t body_bytes_max = 0;
  // Run this synchronous handler on the router's offload pool, not the server thread
  // (see above). Ignored for asynchronous handlers, which never block.
  bool offload = false;
  // Spool the request body to a temporary file instead of memory (uploads): the server
  // writes it there in chunks while computing its SHA-256, the handler gets
  // Request::body_file / body_file_bytes / body_sha256 and an empty body, and the file
  // is deleted once the answer is written (or the client goes away mid-body).
  bool spool_body = false;
  // May be re-run after a catch-up on a miss (see "Catch-up on a miss" above): false for
  // unauthenticated routes and routes whose 401/403/404 answers change something.
  bool catch_up = true;
};

class Router {
 public:
  // Body limit of routes that set none, and of paths that match no route.
  static constexpr size_t kBodyBytesMaxDefault = 1024 * 1024;
  // The offload pool (created with the first offloaded route): threads, requests
  // waiting for one, and the retry hint of the 429 given beyond that.
  static constexpr size_t kOffloadThreads = 4;
  static constexpr size_t kOffloadQueueMax = 256;
  static constexpr int64_t kOffloadBusyRetryAfterMs = 500;

  // `listener` labels this router's metrics ("client", "ops"); `metrics` may be null
  // and must outlive the router. `offload` sizes the offload pool (tests shrink it).
  explicit Router(std::string listener, Metrics* metrics = nullptr,
                  WorkerPoolOptions offload = {.threads = kOffloadThreads,
                                               .queue_max = kOffloadQueueMax});
  // Stops the offload pool first: offloaded requests still queued run and answer.
  ~Router();
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // Registers `handler` for `method` on `pattern`. A malformed pattern or a duplicate
  // method + pattern is a programmer error (NEBU_CHECK).
  void Add(std::string_view method, std::string_view pattern, Handler handler,
           RouteOptions options = {});
  // The same for a handler that answers through Respond (see the example above).
  void AddAsync(std::string_view method, std::string_view pattern, AsyncHandler handler,
                RouteOptions options = {});

  // Answers one complete request (see the table above) through `respond`, exactly
  // once: on this thread for router-made answers and synchronous routes, on whatever
  // thread an asynchronous route answers from. Never throws.
  void HandleAsync(const Request& request, Respond respond) const;

  // Answers one complete request and returns the response; for an asynchronous route
  // it blocks until the route answers (tests, tools). Never throws.
  [[nodiscard]] Response Handle(const Request& request) const;

  // The body limit that applies to `method` on `path` (raw path, no query); the
  // server asks after reading the header, before reading the body.
  [[nodiscard]] size_t BodyBytesMax(std::string_view method, std::string_view path) const;
  // Whether that route spools its body to a file (RouteOptions::spool_body).
  [[nodiscard]] bool SpoolsBody(std::string_view method, std::string_view path) const;

  // Makes this router catch up on a miss (see above) through `barrier` (a cluster
  // node's; it must outlive the router), and adds nebu_cluster_catchup_total to the
  // metrics (when set). Set-up only, like Add(); at most once per Metrics.
  void SetCatchUp(CatchUpBarrier* barrier);

  // Registers `hook`, run by Drain(): a route that keeps requests waiting only for
  // time (the /sync long-poll) answers them at once from it and stops parking new
  // ones. Set-up only, like Add().
  void AddDrainHook(std::function<void()> hook);
  // Runs every drain hook (in registration order). The server calls it from Stop(),
  // once it accepts no more connections, so its drain does not wait out long-polls.
  // Safe from any thread; the hooks must tolerate being run more than once.
  void Drain() const;

  // Counts a request the server answered without routing it (413, 431, 400 for a
  // malformed request, 503 over the connection limit).
  void RecordRejected(std::string_view method, int status) const;

  [[nodiscard]] const std::string& listener() const { return listener_; }

 private:
  struct Segment {
    std::string text;  // the literal, or the parameter name
    bool is_param = false;
  };
  struct Route {
    std::string method;
    Handler handler;  // exactly one of handler and async_handler is set
    AsyncHandler async_handler;
    size_t body_bytes_max = 0;
    bool offload = false;  // handler runs on offload_pool_
    bool spool_body = false;
    bool catch_up = true;  // RouteOptions::catch_up
  };
  struct Pattern {
    std::string text;
    std::vector<Segment> segments;
    std::vector<Route> routes;
  };

  [[nodiscard]] const Pattern* Match(std::string_view path) const;
  [[nodiscard]] static const Route* FindRoute(const Pattern& pattern, std::string_view method);
  void AddRoute(std::string_view method, std::string_view pattern, Route route);
  // A router-made answer, or nullopt with *route and *params set for the handler.
  [[nodiscard]] std::optional<Response> Resolve(const Request& request, const Route** route,
                                                PathParams* params,
                                                std::string_view* route_label) const;
  // Wraps `respond` so the answer gets CORS headers and metrics, exactly once.
  [[nodiscard]] Respond Finisher(const Request& request, std::string_view route_label,
                                 Respond respond) const;
  // Runs route's handler (either kind) and answers through `respond`; a throw before
  // the answer gives 500.
  static void Run(const Route& route, const Request& request, const PathParams& params,
                  std::string_view route_label, const Respond& respond);
  // Queues a synchronous route on the offload pool; 429 when its queue is full.
  void Offload(const Route& route, const Request& request, PathParams params,
               std::string_view route_label, Respond respond) const;

  // When the catch-up applies to this request: `finish` wrapped so a miss first waits
  // for the barrier and may re-run the route once; else `finish` itself.
  [[nodiscard]] Respond CatchUpOnMiss(const Route& route, const Request& request,
                                      const PathParams& params, std::string_view route_label,
                                      Respond finish) const;
  // Runs the route again (offloaded ones on the pool) and answers its answer, counted
  // as "changed" or "unchanged" against `first`; `first` when the pool refuses.
  void Rerun(const Route& route, const std::shared_ptr<const Request>& request,
             const std::shared_ptr<const PathParams>& params, std::string_view route_label,
             Response first, const Respond& finish) const;
  void CountCatchUp(std::string_view outcome) const;

  std::string listener_;
  Metrics* metrics_;
  CatchUpBarrier* catch_up_ = nullptr;  // null: a single node, no catch-up
  // nebu_cluster_catchup_total by outcome (kCatchUpOutcomes order); empty without metrics.
  std::vector<prometheus::Counter*> catch_up_counts_;
  std::vector<Pattern> patterns_;
  WorkerPoolOptions offload_options_;
  std::unique_ptr<WorkerPool> offload_pool_;  // created by the first offloaded route
  std::vector<std::function<void()>> drain_hooks_;
};

}  // namespace nebu::api
