// EtcdWatch: one watch stream at a time on its own thread, resumed on the next
// endpoint after a break or a stall. See etcd_client.h for the contract.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "replication/etcd_client_internal.h"

namespace nebu::replication::etcd_internal {
namespace {

class EtcdWatchImpl final : public EtcdWatch {
 public:
  EtcdWatchImpl(EtcdConnections* client, EtcdWatchOptions options, EtcdClient::Callback callback)
      : client_(client), options_(std::move(options)), callback_(std::move(callback)),
        next_revision_(std::max<int64_t>(0, options_.start_revision)) {
    thread_ = std::thread([this] { Run(); });
    watchdog_ = std::thread([this] { Watchdog(); });
  }
  ~EtcdWatchImpl() override {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
      if (context_) context_->TryCancel();
    }
    cv_.notify_all();
    thread_.join();
    watchdog_.join();
  }
  int64_t next_revision() const override { return next_revision_.load(); }

 private:
  void Run();
  // One stream on one endpoint until it breaks. Returns false when the watch is over.
  bool RunStream(size_t index);
  bool Deliver(const EtcdWatchUpdate& update) {
    {
      std::lock_guard lock(mu_);
      in_callback_ = true;
    }
    bool more = callback_(update);
    std::lock_guard lock(mu_);
    in_callback_ = false;
    last_heard_ = Clock::now();
    return more;
  }
  void Watchdog();
  using Stream = grpc::ClientReaderWriter<pb::WatchRequest, pb::WatchResponse>;

  EtcdConnections* client_;
  const EtcdWatchOptions options_;
  const EtcdClient::Callback callback_;
  std::atomic<int64_t> next_revision_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;                      // guarded by mu_
  grpc::ClientContext* context_ = nullptr;  // the open stream's; guarded by mu_
  std::shared_ptr<Stream> stream_;          // guarded by mu_
  Clock::time_point last_heard_;            // last message or callback; guarded by mu_
  bool in_callback_ = false;                // guarded by mu_
  bool progress_asked_ = false;             // guarded by mu_
  std::mutex write_mu_;  // one writer at a time on stream_ (the watchdog, then Finish)
  std::thread thread_;
  std::thread watchdog_;
};

void EtcdWatchImpl::Run() {
  int64_t backoff_ms = kEtcdRetryBackoffMsMin;
  for (size_t attempt = client_->current();; ++attempt) {
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
    }
    Endpoint& endpoint = client_->endpoint(attempt);
    // A member that accepts TCP but never speaks HTTP/2 (stopped) is skipped here.
    bool connected = endpoint.channel->WaitForConnected(
        ToGrpc(Clock::now() + client_->options().attempt_timeout));
    if (connected) {
      if (!RunStream(attempt)) return;
      backoff_ms = kEtcdRetryBackoffMsMin;
    } else if (!Deliver({.kind = EtcdWatchUpdate::Kind::kDisconnected,
                         .error = Status::Unavailable("etcd watch: cannot connect to " +
                                                      endpoint.url)})) {
      return;
    }
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(backoff_ms), [&] { return stop_; });
    backoff_ms = std::min(backoff_ms * 2, kEtcdRetryBackoffMsMax);
  }
}

bool EtcdWatchImpl::RunStream(size_t index) {
  Endpoint& endpoint = client_->endpoint(index);
  grpc::ClientContext context;
  // Without a leader the member cancels the watch, and we move on to another.
  context.AddMetadata("hasleader", "true");
  Status auth = client_->AddToken(endpoint, context,
                                  Clock::now() + client_->options().attempt_timeout);
  if (!auth.ok()) {
    return Deliver({.kind = EtcdWatchUpdate::Kind::kDisconnected, .error = auth});
  }
  {
    std::lock_guard lock(mu_);
    if (stop_) return false;
    context_ = &context;
  }
  std::shared_ptr<Stream> stream = endpoint.watch->Watch(&context);
  pb::WatchRequest req;
  pb::WatchCreateRequest* create = req.mutable_create_request();
  create->set_key(options_.key);
  if (options_.prefix) {
    create->set_range_end(EtcdPrefixEnd(options_.key));
  } else if (!options_.range_end.empty()) {
    create->set_range_end(options_.range_end);
  }
  create->set_start_revision(next_revision_.load());
  bool keep_going = true;
  bool final = false;
  bool written = stream->Write(req);
  {
    std::lock_guard lock(mu_);
    stream_ = stream;
    last_heard_ = Clock::now();
    progress_asked_ = false;
  }
  if (written) {
    pb::WatchResponse resp;
    while (keep_going && stream->Read(&resp)) {
      {
        std::lock_guard lock(mu_);
        last_heard_ = Clock::now();
        progress_asked_ = false;
      }
      EtcdWatchUpdate u;
      u.header_revision = resp.header().revision();
      if (resp.compact_revision() > 0) {
        u.kind = EtcdWatchUpdate::Kind::kCompacted;
        u.compact_revision = resp.compact_revision();
        Deliver(u);
        keep_going = false;
        final = true;
      } else if (resp.canceled()) {
        u.kind = EtcdWatchUpdate::Kind::kCanceled;
        u.reason = resp.cancel_reason();
        keep_going = Deliver(u);
        final = !keep_going;
        break;
      } else if (resp.created()) {
        client_->set_current(index);
        // "From now": pin "now", so a reconnect resumes there instead of at its own now.
        int64_t unset = 0;
        next_revision_.compare_exchange_strong(unset, resp.header().revision() + 1);
        u.kind = EtcdWatchUpdate::Kind::kCreated;
        keep_going = Deliver(u);
        final = !keep_going;
      } else if (resp.events_size() > 0) {
        u.kind = EtcdWatchUpdate::Kind::kEvents;
        u.events.reserve(resp.events_size());
        for (const auto& ev : resp.events()) {
          u.events.push_back({.type = ev.type() == mvccpb::Event::DELETE
                                          ? EtcdEvent::Type::kDelete
                                          : EtcdEvent::Type::kPut,
                              .kv = FromPb(ev.kv())});
        }
        next_revision_.store(u.events.back().kv.mod_revision + 1);
        keep_going = Deliver(u);
        final = !keep_going;
      }
    }
  }
  context.TryCancel();
  {
    std::lock_guard lock(mu_);
    stream_.reset();
  }
  grpc::Status s;
  {
    std::lock_guard write_lock(write_mu_);  // a watchdog write in flight ends first
    s = stream->Finish();
  }
  {
    std::lock_guard lock(mu_);
    context_ = nullptr;
    if (stop_) return false;
  }
  if (final) return false;
  if (!keep_going) return true;  // canceled by etcd (e.g. no leader): reconnect
  return Deliver({.kind = EtcdWatchUpdate::Kind::kDisconnected,
                  .error = FromGrpc(s.ok() ? grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                                          "stream ended")
                                           : s,
                                    "etcd watch " + endpoint.url)});
}

void EtcdWatchImpl::Watchdog() {
  const auto interval = std::chrono::milliseconds(kEtcdWatchProgressIntervalMs);
  const auto stall = std::chrono::milliseconds(kEtcdWatchStallTimeoutMs);
  std::unique_lock lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, interval / 2, [&] { return stop_; });
    if (stop_ || !stream_ || in_callback_) continue;
    auto silent = Clock::now() - last_heard_;
    if (silent >= stall) {
      context_->TryCancel();  // RunStream reports it and reconnects elsewhere
      stream_.reset();
      continue;
    }
    if (silent < interval || progress_asked_) continue;
    progress_asked_ = true;
    std::shared_ptr<Stream> stream = stream_;
    std::unique_lock write_lock(write_mu_);
    lock.unlock();
    pb::WatchRequest req;
    req.mutable_progress_request();
    (void)stream->Write(req);  // a failure shows in RunStream's Read
    write_lock.unlock();
    lock.lock();
  }
}

}  // namespace

std::unique_ptr<EtcdWatch> StartWatch(EtcdConnections* connections, EtcdWatchOptions options,
                                      EtcdClient::Callback callback) {
  return std::make_unique<EtcdWatchImpl>(connections, std::move(options), std::move(callback));
}

}  // namespace nebu::replication::etcd_internal
