// The compliance exports' routes (export_routes.h): parameters, the concurrency slots,
// and the BodySource that reads an ExportReader page by page on the exports' threads.
#include "api/compliance/export_routes.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "api/admin/admin_common.h"
#include "api/body_source.h"
#include "api/compliance/export_store.h"
#include "api/errors.h"
#include "api/rate_limit.h"

namespace nebu::api::admin_internal {
namespace {

constexpr int64_t kExportsBusyRetryAfterMs = 5000;  // the 429's Retry-After

// What the three routes share: the store, the threads that run its blocking reads, and
// the count of streams in flight.
struct ExportState {
  explicit ExportState(std::shared_ptr<ExportStore> store_value)
      : store(std::move(store_value)),
        pool({.threads = kExportsConcurrentMax, .queue_max = 4 * kExportsConcurrentMax}) {}
  std::shared_ptr<ExportStore> store;
  std::atomic<size_t> active{0};
  WorkerPool pool;  // last: its destructor runs queued pages before the rest goes
};

// One slot of kExportsConcurrentMax, held from the request until the stream is dropped.
class ExportSlot {
 public:
  static std::unique_ptr<ExportSlot> Acquire(ExportState* state) {
    if (state->active.fetch_add(1) >= kExportsConcurrentMax) {
      state->active.fetch_sub(1);
      return nullptr;
    }
    return std::unique_ptr<ExportSlot>(new ExportSlot(state));
  }
  ~ExportSlot() { state_->active.fetch_sub(1); }

 private:
  explicit ExportSlot(ExportState* state) : state_(state) {}
  ExportState* state_;
};

// Streams an export: each Next() reads one page on the exports' threads.
class ExportBody : public BodySource {
 public:
  ExportBody(std::shared_ptr<ExportState> state, std::unique_ptr<ExportSlot> slot,
             std::unique_ptr<ExportReader> reader, std::string what)
      : state_(std::move(state)),
        slot_(std::move(slot)),
        reader_(std::move(reader)),
        what_(std::move(what)) {}

  void Next(std::function<void(BodyPiece)> done) override {
    // The reader is shared with the task: the server may drop this body (the client
    // left) while a page is being read.
    bool posted = state_->pool.Post([reader = reader_, done, what = what_] {
      Result<ExportPage> page = reader->Next();
      if (!page.ok()) {
        spdlog::warn("compliance: export {} cut: {}", what, page.status().ToString());
        return done(BodyPiece{.failed = true});
      }
      done(BodyPiece{.data = std::move(page->lines), .end = page->end});
    });
    if (!posted) done(BodyPiece{.failed = true});
  }

 private:
  std::shared_ptr<ExportState> state_;
  std::unique_ptr<ExportSlot> slot_;
  std::shared_ptr<ExportReader> reader_;
  std::string what_;
};

bool LooksLikeId(std::string_view id, char sigil) {
  const size_t colon = id.find(':');
  return id.size() >= 4 && id.size() <= 255 && id.front() == sigil && colon != std::string_view::npos &&
         colon > 1 && colon + 1 < id.size();
}

// The query of a request; a 400 response in *error when a parameter is bad.
std::optional<ExportQuery> ParseQuery(const Call& call, ExportKind kind, Response* error) {
  ExportQuery query{.kind = kind};
  const bool room = kind == ExportKind::kRoomHistory;
  query.subject = call.params.at(room ? "roomId" : "userId");
  if (!LooksLikeId(query.subject, room ? '!' : '@')) {
    *error = ErrorResponse(400, "M_INVALID_PARAM", room ? "Malformed room ID" : "Malformed user ID");
    return std::nullopt;
  }
  if (kind != ExportKind::kUserAccount) {
    auto from = QueryInt(call.request, "from_ts", 0, 0, error);
    auto to = QueryInt(call.request, "to_ts", INT64_MAX, 1, error);
    if (!from || !to) return std::nullopt;
    if (*from >= *to) {
      *error = ErrorResponse(400, "M_INVALID_PARAM", "from_ts must be before to_ts");
      return std::nullopt;
    }
    query.from_ts = *from;
    query.to_ts = *to;
  }
  if (auto cursor = call.request.Query("cursor")) query.cursor = std::string(*cursor);
  return query;
}

Response OpenError(const Status& status) {
  switch (status.code()) {
    case StatusCode::kInvalidArgument: return ErrorResponse(400, "M_INVALID_PARAM", status.message());
    case StatusCode::kNotFound: return ErrorResponse(404, "M_NOT_FOUND", status.message());
    case StatusCode::kUnavailable: return ErrorResponse(503, "M_UNAVAILABLE", status.message());
    default:
      spdlog::error("compliance: export failed to start: {}", status.ToString());
      return ErrorResponse(503, "M_UNAVAILABLE", "The projection cannot be read");
  }
}

void StartExport(const std::shared_ptr<ExportState>& state, ExportKind kind, const Call& call,
                 Finish finish) {
  Response error;
  std::optional<ExportQuery> query = ParseQuery(call, kind, &error);
  if (!query) return finish(std::move(error));
  if (state->store == nullptr) {
    return finish(ErrorResponse(503, "M_UNAVAILABLE",
                                "The compliance exports read PostgreSQL: set NEBU_DB_URL"));
  }
  std::unique_ptr<ExportSlot> slot = ExportSlot::Acquire(state.get());
  if (slot == nullptr) return finish(RateLimitedResponse(kExportsBusyRetryAfterMs));
  auto shared_slot = std::make_shared<std::unique_ptr<ExportSlot>>(std::move(slot));
  bool posted = state->pool.Post([state, query = *query, shared_slot, finish] {
    Result<std::unique_ptr<ExportReader>> reader = state->store->Open(query);
    if (!reader.ok()) return finish(OpenError(reader.status()));
    Response response;
    response.headers.Set("Content-Type", "application/x-ndjson");
    response.headers.Set("Cache-Control", "no-store");
    AttachBodySource(response, std::make_shared<ExportBody>(state, std::move(*shared_slot),
                                                            std::move(reader).value(),
                                                            query.subject));
    finish(std::move(response));
  });
  if (!posted) finish(RateLimitedResponse(kExportsBusyRetryAfterMs));
}

}  // namespace

void AddExportRoutes(Router& router, const ContextPtr& context) {
  auto state = std::make_shared<ExportState>(context->options.exports);
  struct Route {
    const char* pattern;
    const char* action;
    ExportKind kind;
  };
  for (const Route& route :
       {Route{"/api/v1/exports/users/{userId}/messages", "export.user_messages",
              ExportKind::kUserMessages},
        Route{"/api/v1/exports/rooms/{roomId}/history", "export.room_history",
              ExportKind::kRoomHistory},
        Route{"/api/v1/exports/users/{userId}/account", "export.user_account",
              ExportKind::kUserAccount}}) {
    AddRoute(router, context, "GET", route.pattern, route.action, Surface::kCompliance,
             [state, kind = route.kind](Context*, const Call& call, Finish finish) {
               StartExport(state, kind, call, std::move(finish));
             });
  }
}

}  // namespace nebu::api::admin_internal
