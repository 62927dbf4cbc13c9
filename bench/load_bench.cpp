// bench_load: the built-in load driver, the k6 tiers of deploy/k6/scenarios without k6.
// Each virtual user (one thread, one keep-alive connection from its own loopback source
// address, one account with a password) loops until the run ends, as
// deploy/k6/scenarios/lib/nebu.js does: POST /login (its own device ID each time, so the
// device is reused; argon2id at the server's configured cost), GET /sync (timeout=0,
// incremental after its first), PUT /send (an m.room.message into one of --rooms shared
// rooms, default one), then --think-ms (default 0, as k6's constant-vus).
//
// Like a real client (matrix-nio retries every request so; k6's lib/nebu.js does the
// same), a login answered 429 M_LIMIT_EXCEEDED is sent again after its retry_after_ms,
// for at most --login-budget-seconds in all (default 60: k6's default request timeout;
// the last call's wait for its answer is cut to what is left) and kLoginAttemptsMax
// calls. Only a login that still failed counts as a login error; the
// login figures are of the whole login, waits included; retries are reported apart. A
// login whose next wait would end past the run's end plus kGraceSeconds (k6's
// gracefulStop) is "cut": neither a success nor an error. Every request waits at most
// kClientTimeoutS for its answer (k6's default); no answer is status 0.
//
// Source addresses: virtual user u connects from 127.0.y.z (bench_http.h
// SourceAddress(u % --source-addresses); default: one per user), so the server's per-IP
// connection cap (512) and per-IP limits see as many peers as there are users, as with
// real clients. --source-addresses=1 connects everyone from 127.0.0.1 (the old way).
//
// Users start spread over --ramp-seconds (the login storm: every user logs in at once
// when it is 0). Prints, per endpoint, the count, the error rate (by status; 0 = no
// answer), p50/p95/p99, the login throughput and retries, send p95 during the ramp and
// after it, the machine's 1-minute load average over the run (other processes
// included: say so when quoting), and the tier's verdict: send p95 under the threshold
// (gold 500 ms at 1000 users, silver 800 ms at 500 users) and each endpoint's errors
// under 1%.
// Exit status 0 when the tier's thresholds hold, 3 when not (as k6 does).
//
//   build/bench/bench_load --tier=silver                  # 500 users, 60 s
//   build/bench/bench_load --tier=gold --seconds=300      # the k6 scenario's length
//   build/bench/bench_load --vus=50 --seconds=20          # a quick look
//
// Every loop is bounded by the run's end (plus the grace) or by a count; setup is
// bounded by --setup-seconds.
#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_http.h"
#include "bench/bench_util.h"
#include "tests/api/test_http_client.h"

namespace {

namespace json = boost::json;
using nebu::api::testing::HttpReply;
using nebu::api::testing::PercentEncode;
using nebu::api::testing::TestHttpClient;
using nebu::bench::AddressText;
using nebu::bench::Arg;
using nebu::bench::Die;
using nebu::bench::kV3;
using nebu::bench::LoadClient;
using nebu::bench::Ok;
using nebu::bench::Percentile;
using nebu::bench::Retried;
using nebu::bench::RetryLimitExceeded;
using nebu::bench::SourceAddress;
using Clock = std::chrono::steady_clock;

struct Tier {
  int vus;
  double send_p95_ms;  // the threshold
};
constexpr double kErrorRateMax = 0.01;  // both tiers: under 1% failed requests
constexpr int kClientTimeoutS = 60;     // one request's answer (k6's default timeout)
constexpr int kLoginAttemptsMax = 1000; // calls of one login, retries included
constexpr double kGraceSeconds = 30;    // in-flight iterations may finish (k6 gracefulStop)
constexpr int kLoadSampleMs = 1000;     // /proc/loadavg sampling period

// One endpoint's samples, shared by all virtual users.
struct Endpoint {
  std::mutex mutex;
  std::vector<double> ms;                 // successful calls
  std::vector<double> ramp_ms, after_ms;  // split at the ramp's end
  std::map<int, int64_t> errors;          // status -> count
  // Logins only: 429 retries obeying retry_after_ms.
  int64_t retries = 0, retried_calls = 0, retries_max = 0, cut = 0;
  double waited_ms = 0;

  void Record(int status, double ms_value, bool in_ramp) {
    std::lock_guard lock(mutex);
    if (status != 200) {
      ++errors[status];
      return;
    }
    ms.push_back(ms_value);
    (in_ramp ? ramp_ms : after_ms).push_back(ms_value);
  }
  void RecordLogin(const Retried& login, double ms_value, bool in_ramp) {
    {
      std::lock_guard lock(mutex);
      retries += login.retries;
      retried_calls += login.retries > 0 ? 1 : 0;
      retries_max = std::max<int64_t>(retries_max, login.retries);
      waited_ms += static_cast<double>(login.waited_ms);
      if (login.end == Retried::End::kStopped) {
        ++cut;
        return;
      }
    }
    Record(login.reply.status, ms_value, in_ramp);
  }
  int64_t ErrorCount() const {
    int64_t n = 0;
    for (const auto& [status, count] : errors) n += count;
    return n;
  }
  int64_t Calls() const { return static_cast<int64_t>(ms.size()) + ErrorCount(); }
  double ErrorRate() const {
    return Calls() > 0 ? static_cast<double>(ErrorCount()) / static_cast<double>(Calls()) : 1.0;
  }
};

std::string Password(int user) { return "load password " + std::to_string(user); }
std::string Name(int user) { return "load" + std::to_string(user); }

double MsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

void PrintEndpoint(const char* name, Endpoint& e, double seconds) {
  const int64_t errors = e.ErrorCount();
  const int64_t total = e.Calls();
  std::string by_status;
  for (const auto& [status, count] : e.errors) {
    by_status += " " + std::to_string(status) + ":" + std::to_string(count);
  }
  std::printf("%-6s %7lld calls (%.1f/s), errors %.2f%%%s, p50 %.1f ms, p95 %.1f ms, p99 %.1f ms\n",
              name, static_cast<long long>(total), static_cast<double>(total) / seconds,
              total > 0 ? 100.0 * static_cast<double>(errors) / static_cast<double>(total) : 0.0,
              by_status.c_str(), Percentile(e.ms, 50), Percentile(e.ms, 95), Percentile(e.ms, 99));
}

// The machine's 1-minute load average, sampled every kLoadSampleMs until Stop().
class LoadSampler {
 public:
  LoadSampler() : thread_([this] { Loop(); }) {}
  ~LoadSampler() { Stop(); }
  void Stop() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  void Print() {
    std::lock_guard lock(mutex_);
    if (samples_.empty()) return;
    double sum = 0;
    for (double v : samples_) sum += v;
    std::printf("machine load (1-min average, all processes, %zu samples): start %.2f, "
                "mean %.2f, max %.2f, end %.2f, on %u hardware threads\n",
                samples_.size(), samples_.front(), sum / static_cast<double>(samples_.size()),
                *std::max_element(samples_.begin(), samples_.end()), samples_.back(),
                std::thread::hardware_concurrency());
  }

 private:
  static double Read() {
    std::ifstream in("/proc/loadavg");
    double one = -1;
    in >> one;
    return one;
  }
  void Loop() {
    std::unique_lock lock(mutex_);
    while (!stop_) {
      lock.unlock();
      const double one = Read();
      lock.lock();
      if (one >= 0) samples_.push_back(one);
      wake_.wait_for(lock, std::chrono::milliseconds(kLoadSampleMs), [this] { return stop_; });
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;            // guarded by mutex_
  std::vector<double> samples_;  // guarded by mutex_
  std::thread thread_;
};

// A Call on `client` retried after each 429 M_LIMIT_EXCEEDED (setup's registrations and
// joins; bounded by `deadline`).
HttpReply CallPatiently(TestHttpClient& client, std::string_view method, const std::string& target,
                        const std::string& body, std::optional<std::string_view> token,
                        Clock::time_point deadline) {
  return RetryLimitExceeded([&](int64_t) { return client.Call(method, target, body, token); },
                            kLoginAttemptsMax, deadline, deadline)
      .reply;
}

// Registers `vus` users with passwords (16 threads; argon2id at the server's cost), makes
// `rooms` public rooms and joins user u to room u % rooms. Returns the room IDs.
std::vector<std::string> Setup(uint16_t port, int vus, int rooms, double seconds) {
  constexpr int kThreads = 16;
  std::vector<std::string> tokens(static_cast<size_t>(vus));
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(seconds));
  nebu::bench::Parallel(kThreads, vus, seconds, [&](int t, int i) {
    const int user = i * kThreads + t;
    if (user >= vus) return -1.0;
    thread_local std::unique_ptr<TestHttpClient> client;
    if (!client) client = std::make_unique<TestHttpClient>(port);
    json::value body = Ok(CallPatiently(*client, "POST", std::string(kV3) + "/register",
                                        json::serialize(json::object{
                                            {"username", Name(user)},
                                            {"password", Password(user)},
                                            {"auth", json::object{{"type", "m.login.dummy"}}}}),
                                        std::nullopt, deadline),
                          "register");
    tokens[static_cast<size_t>(user)] = std::string(body.at("access_token").as_string());
    return -1.0;
  });
  for (const std::string& token : tokens) {
    if (token.empty()) Die("setup: registration did not finish within --setup-seconds");
  }
  TestHttpClient client(port);
  std::vector<std::string> room_ids;
  for (int r = 0; r < rooms; ++r) room_ids.push_back(nebu::bench::CreateRoom(client, tokens[0]));
  nebu::bench::Parallel(kThreads, vus, seconds, [&](int t, int i) {
    const int user = i * kThreads + t;
    if (user == 0 || user >= vus) return -1.0;
    thread_local std::unique_ptr<TestHttpClient> joiner;
    if (!joiner) joiner = std::make_unique<TestHttpClient>(port);
    const std::string& room = room_ids[static_cast<size_t>(user % rooms)];
    Ok(CallPatiently(*joiner, "POST", std::string(kV3) + "/rooms/" + PercentEncode(room) + "/join",
                     "{}", tokens[static_cast<size_t>(user)], deadline),
       "join");
    return -1.0;
  });
  std::printf("setup: %d users with passwords, %d rooms, joined, in %.1f s\n", vus, rooms,
              std::chrono::duration<double>(Clock::now() - start).count());
  std::fflush(stdout);
  return room_ids;
}

struct Run {
  uint16_t port;
  std::vector<std::string> rooms;
  int sources;  // loopback source addresses; 1: 127.0.0.1
  Clock::time_point start, ramp_end, end;
  Clock::duration login_budget;
  int think_ms;
  Endpoint login, sync, send;
};

// One virtual user's loop (see the file comment).
void VirtualUser(Run& run, int user, Clock::time_point begin) {
  std::this_thread::sleep_until(begin);
  const uint32_t source = run.sources == 1 ? 0 : SourceAddress(user % run.sources);
  std::unique_ptr<LoadClient> client;
  // One request on the user's connection, reconnecting first when it is broken.
  auto request = [&](std::string_view method, const std::string& target, std::string_view body,
                     std::optional<std::string_view> token,
                     std::optional<int64_t> timeout_ms = std::nullopt) {
    if (!client || !client->connected()) {
      client = std::make_unique<LoadClient>(run.port, source, kClientTimeoutS);
    }
    return client->Call(method, target, body, token, timeout_ms);
  };
  const std::string login_body = json::serialize(json::object{
      {"type", "m.login.password"},
      {"identifier", json::object{{"type", "m.id.user"}, {"user", Name(user)}}},
      {"password", Password(user)},
      {"device_id", "load-vu-" + std::to_string(user)}});
  const std::string login_target = std::string(kV3) + "/login";
  const std::string room = PercentEncode(run.rooms[static_cast<size_t>(user) % run.rooms.size()]);
  const std::string filter = PercentEncode(
      R"({"room":{"timeline":{"limit":10},"state":{"lazy_load_members":true}}})");
  const auto stop = run.end + std::chrono::duration_cast<Clock::duration>(
                                  std::chrono::duration<double>(kGraceSeconds));
  std::string since;
  for (int iteration = 0; Clock::now() < run.end; ++iteration) {
    auto call = [&](Endpoint& endpoint, std::string_view method, const std::string& target,
                    std::string_view body, std::optional<std::string_view> token) {
      const auto start = Clock::now();
      HttpReply reply = request(method, target, body, token);
      endpoint.Record(reply.status, MsSince(start), start < run.ramp_end);
      return reply;
    };
    const auto login_start = Clock::now();
    Retried login = RetryLimitExceeded(
        [&](int64_t left_ms) {
          return request("POST", login_target, login_body, std::nullopt, left_ms);
        },
        kLoginAttemptsMax, login_start + run.login_budget, stop);
    run.login.RecordLogin(login, MsSince(login_start), login_start < run.ramp_end);
    if (login.end == Retried::End::kStopped) break;
    if (login.reply.status != 200) continue;
    const std::string token(login.reply.Json().at("access_token").as_string());
    std::string target = std::string(kV3) + "/sync?timeout=0&filter=" + filter;
    if (!since.empty()) target += "&since=" + PercentEncode(since);
    HttpReply sync = call(run.sync, "GET", target, {}, token);
    if (sync.status == 200) since = std::string(sync.Json().at("next_batch").as_string());
    call(run.send, "PUT",
         std::string(kV3) + "/rooms/" + room + "/send/m.room.message/l" + std::to_string(iteration),
         json::serialize(json::object{{"msgtype", "m.text"},
                                      {"body", "load " + std::to_string(iteration)}}),
         token);
    std::this_thread::sleep_until(
        std::min(run.end, Clock::now() + std::chrono::milliseconds(run.think_ms)));
  }
}

void PrintLoginRetries(const Endpoint& login) {
  std::printf("login retries (429 M_LIMIT_EXCEEDED, sent again after retry_after_ms): %lld "
              "retries in %lld logins (at most %lld in one), %.1f s slept in all; %lld logins "
              "cut by the run's end (not counted)\n",
              static_cast<long long>(login.retries), static_cast<long long>(login.retried_calls),
              static_cast<long long>(login.retries_max), login.waited_ms / 1000.0,
              static_cast<long long>(login.cut));
}

}  // namespace

int main(int argc, char** argv) {
  nebu::bench::PrintCommand(argc, argv);
  const std::string tier_name = Arg(argc, argv, "tier", "silver");
  const std::map<std::string, Tier> tiers{{"gold", {1000, 500}}, {"silver", {500, 800}}};
  if (!tiers.contains(tier_name)) Die("--tier is gold or silver");
  const Tier tier = tiers.at(tier_name);
  const int vus = std::stoi(Arg(argc, argv, "vus", std::to_string(tier.vus)));
  const double seconds = std::stod(Arg(argc, argv, "seconds", "60"));
  const double ramp_seconds = std::stod(Arg(argc, argv, "ramp-seconds", "30"));
  const int rooms = std::stoi(Arg(argc, argv, "rooms", "1"));
  const int think_ms = std::stoi(Arg(argc, argv, "think-ms", "0"));
  const double setup_seconds = std::stod(Arg(argc, argv, "setup-seconds", "600"));
  const double login_budget_s = std::stod(Arg(argc, argv, "login-budget-seconds", "60"));
  const int sources = std::stoi(Arg(argc, argv, "source-addresses", std::to_string(vus)));
  const std::string binary = Arg(argc, argv, "nebu", "build/app/nebu");
  if (vus < 1 || rooms < 1 || seconds <= 0 || ramp_seconds < 0 || ramp_seconds >= seconds ||
      think_ms < 0 || login_budget_s < 0 || sources < 1 ||
      sources > nebu::bench::kSourceAddressesMax) {
    Die("need --vus>=1, --rooms>=1, 0<=--ramp-seconds<--seconds, --think-ms>=0, "
        "--login-budget-seconds>=0, 1<=--source-addresses<=" +
        std::to_string(nebu::bench::kSourceAddressesMax));
  }

  nebu::bench::Server server;
  server.Start(binary);
  Run run{.port = server.port, .rooms = Setup(server.port, vus, rooms, setup_seconds),
          .sources = std::min(sources, vus), .think_ms = think_ms};
  run.login_budget = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(login_budget_s));
  LoadSampler load;
  run.start = Clock::now();
  run.ramp_end = run.start + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(ramp_seconds));
  run.end = run.start + std::chrono::duration_cast<Clock::duration>(
                            std::chrono::duration<double>(seconds));
  std::vector<std::thread> users;
  users.reserve(static_cast<size_t>(vus));
  for (int u = 0; u < vus; ++u) {
    const auto begin = run.start + (run.ramp_end - run.start) * u / vus;
    users.emplace_back(VirtualUser, std::ref(run), u, begin);
  }
  for (std::thread& thread : users) thread.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - run.start).count();
  load.Stop();

  const std::string from =
      run.sources == 1 ? std::string("127.0.0.1")
                       : AddressText(SourceAddress(0)) + " .. " +
                             AddressText(SourceAddress(run.sources - 1));
  std::printf("tier %s: %d virtual users from %d loopback source address%s (%s), %.0f s "
              "(ramp %.0f s, iterations in flight at the end may finish), %d rooms, think "
              "%d ms, login budget %.0f s\n",
              tier_name.c_str(), vus, run.sources, run.sources == 1 ? "" : "es", from.c_str(),
              elapsed, ramp_seconds, rooms, think_ms, login_budget_s);
  PrintEndpoint("login", run.login, elapsed);
  PrintLoginRetries(run.login);
  PrintEndpoint("sync", run.sync, elapsed);
  PrintEndpoint("send", run.send, elapsed);
  std::printf("logins: %.1f/s succeeded (whole login, waits included: p50 %.1f ms, p95 %.1f ms); "
              "send p95 during the ramp %.1f ms, after it %.1f ms\n",
              static_cast<double>(run.login.ms.size()) / elapsed, Percentile(run.login.ms, 50),
              Percentile(run.login.ms, 95), Percentile(run.send.ramp_ms, 95),
              Percentile(run.send.after_ms, 95));
  load.Print();
  double error_rate = 0;  // the worst endpoint's
  for (Endpoint* e : {&run.login, &run.sync, &run.send}) {
    error_rate = std::max(error_rate, e->ErrorRate());
  }
  const double send_p95 = Percentile(run.send.ms, 95);
  const bool pass = !run.send.ms.empty() && send_p95 < tier.send_p95_ms && error_rate < kErrorRateMax;
  std::printf("thresholds (%s): send p95 %.1f ms < %.0f ms %s; worst endpoint's errors %.2f%% < %.0f%% %s => %s\n",
              tier_name.c_str(), send_p95, tier.send_p95_ms,
              send_p95 < tier.send_p95_ms ? "ok" : "FAILED", 100 * error_rate, 100 * kErrorRateMax,
              error_rate < kErrorRateMax ? "ok" : "FAILED", pass ? "PASS" : "FAIL");
  return pass ? 0 : 3;
}
