// Goal: what an operator observes of a running node. /metrics passes `promtool check
// metrics` and carries the engine's figures (commit latency, group sizes, apply lag,
// RocksDB properties, sync waiters) and per-route latency labelled by route pattern,
// never by raw path. NEBU_LOG_FORMAT=json writes one JSON object per line (ts, level,
// logger, msg) and no secret appears in the log. A login storm is queued, not
// refused, while sends and syncs go on (their latency is printed).
// Method: the real nebu binary on loopback. promtool runs when installed; with
// NEBU_TEST_PROMTOOL_REQUIRED=1 (scripts/test.sh) its absence is a failure.
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include "api/accounts/account_routes.h"
#include "tests/security/metrics_util.h"
#include "tests/security/nebu_process.h"
#include "tests/security/ops_util.h"

namespace nebu::security {
namespace {

using namespace std::chrono_literals;

class OpsObserveTest : public SecurityTest {};

TEST_F(OpsObserveTest, MetricsPassPromtoolAndCarryTheEngineFigures) {
  Start();
  std::string alice = Register("alice");
  std::string room = CreateRoom(alice);
  for (int i = 0; i < 3; ++i) Send(alice, room, "hello " + std::to_string(i));
  EXPECT_EQ(Call("GET", "/sync?timeout=0", alice).status, 200);
  HttpReply metrics = Ops("/metrics");
  ASSERT_EQ(metrics.status, 200);
  const std::string& text = metrics.body;
  for (const char* series :
       {"nebu_commit_seconds_bucket{le=", "nebu_commit_seconds_count ",
        "nebu_commit_groups_total ", "nebu_committed_index ", "nebu_applied_index ",
        "nebu_apply_lag_commands ", "nebu_stream_position ", "nebu_sync_waiters ",
        "nebu_rocksdb_estimate_keys{db=\"state\"}", "nebu_rocksdb_estimate_keys{db=\"log\"}",
        "nebu_rocksdb_sst_files_bytes{db=\"state\"}", "nebu_rocksdb_memtables_bytes{db=\"log\"}",
        "nebu_rocksdb_pending_compaction_bytes{db=\"state\"}",
        "nebu_rocksdb_running_compactions{db=\"state\"}",
        "nebu_http_request_duration_seconds_bucket{", "nebu_commit_group_size_bucket{le=\"1\"}",
        "nebu_commit_group_size_bucket{le=\"4096\"}"}) {
    EXPECT_NE(text.find(series), std::string::npos) << series << " missing";
  }
  // Commit groups: one observation per group, each command in exactly one group.
  const std::optional<double> groups = SampleValue(text, "nebu_commit_group_size_count");
  ASSERT_TRUE(groups.has_value());
  EXPECT_GT(*groups, 0);
  EXPECT_GE(SampleValue(text, "nebu_commit_group_size_sum").value_or(0), *groups);
  EXPECT_GE(SampleValue(text, "nebu_commit_group_size_sum").value_or(0), 3);  // the sends
  // Read after the histogram, so a group committed meanwhile may count here only.
  EXPECT_GE(SampleValue(text, "nebu_commit_groups_total").value_or(0), *groups);
  EXPECT_FALSE(HasFamily(text, "nebu_cluster_applied_revision")) << "a cluster-only series";
  // Per-route latency by pattern: the room ID never becomes a label value.
  EXPECT_NE(text.find("route=\"/_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}\""),
            std::string::npos)
      << text.substr(0, 4000);
  EXPECT_EQ(text.find(room.substr(1, 10)), std::string::npos) << "a raw path became a label";

  if (!HasPromtool()) {
    if (const char* required = std::getenv("NEBU_TEST_PROMTOOL_REQUIRED");
        required != nullptr && std::string(required) == "1") {
      FAIL() << "promtool is required (NEBU_TEST_PROMTOOL_REQUIRED=1) but not installed";
    }
    GTEST_SKIP() << "promtool not installed (Debian: prometheus)";
  }
  const std::string file = dir_.path() + "/metrics.txt";
  std::ofstream(file) << text;
  const std::string command = "promtool check metrics < " + file + " > " + file + ".out 2>&1";
  int rc = std::system(command.c_str());
  std::ifstream out(file + ".out");
  std::string report((std::istreambuf_iterator<char>(out)), std::istreambuf_iterator<char>());
  EXPECT_EQ(rc, 0) << "promtool check metrics:\n" << report;
}

TEST_F(OpsObserveTest, JsonLogsAreOneObjectPerLineWithoutSecrets) {
  const std::string shared_secret = "shared-secret-0123456789abcdef-0123456789";
  Start({{"NEBU_LOG_FORMAT", "json"},
         {"NEBU_LOG_LEVEL", "debug"},
         {"NEBU_REGISTRATION_SHARED_SECRET", shared_secret}});
  std::string alice = Register("alice");
  HttpReply login = Call("POST", "/login", "",
                         json::object{{"type", "m.login.password"},
                                      {"identifier", {{"type", "m.id.user"}, {"user", "alice"}}},
                                      {"password", "password-alice"}});
  ASSERT_EQ(login.status, 200) << login.body;
  std::string second_token(login.Json().at("access_token").as_string());
  // A token in the query string: the access log must redact it.
  EXPECT_EQ(Call("GET", "/account/whoami?access_token=" + second_token).status, 200);
  EXPECT_EQ(Call("GET", "/_matrix/client/v3/rooms/%FF%FE/state", alice).status / 100, 4);
  int status = nebu_.Kill(SIGTERM);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;

  std::istringstream log(nebu_.Log());
  size_t lines = 0;
  bool saw_access = false;
  for (std::string line; std::getline(log, line);) {
    if (line.empty()) continue;
    ++lines;
    boost::system::error_code ec;
    json::value value = json::parse(line, ec);
    ASSERT_FALSE(ec) << "not JSON: " << line;
    ASSERT_TRUE(value.is_object()) << line;
    const json::object& o = value.as_object();
    EXPECT_EQ(o.size(), 4u) << line;
    for (const char* key : {"ts", "level", "logger", "msg"}) {
      ASSERT_TRUE(o.contains(key) && o.at(key).is_string()) << key << " in " << line;
    }
    EXPECT_EQ(o.at("logger"), "nebu");
    EXPECT_EQ(o.at("ts").as_string().size(), 24u) << line;  // 2026-12-06T19:14:37.123Z
    const std::string msg(o.at("msg").as_string());
    saw_access = saw_access || msg.find("/account/whoami") != std::string::npos;
    for (const std::string& secret : {alice, second_token, shared_secret,
                                      std::string("password-alice")}) {
      EXPECT_EQ(line.find(secret), std::string::npos) << "a secret in the log: " << line;
    }
  }
  EXPECT_GT(lines, 3u);
  EXPECT_TRUE(saw_access) << "no access log line";
}

// N concurrent logins, fewer than the hash queue holds: each is answered 200 (or 429
// only past the queue bound, which N stays under), while a send + /sync loop runs.
TEST_F(OpsObserveTest, ALoginStormIsQueuedWhileSendsAndSyncsGoOn) {
  constexpr int kLogins = 16;               // < api::kHashQueueMax
  constexpr auto kStormTimeout = 120s;      // bound of the whole storm
  static_assert(kLogins < static_cast<int>(api::kHashQueueMax));
  Start();
  std::string alice = Register("alice");
  std::string room = CreateRoom(alice);
  std::atomic<int> ok{0}, limited{0}, other{0}, done{0};
  auto storm_start = std::chrono::steady_clock::now();
  std::vector<std::thread> logins;
  for (int i = 0; i < kLogins; ++i) {
    logins.emplace_back([&] {
      RawConnection connection(nebu_.client_port());
      std::string body = json::serialize(json::object{
          {"type", "m.login.password"},
          {"identifier", {{"type", "m.id.user"}, {"user", "alice"}}},
          {"password", "password-alice"}});
      connection.Send("POST " + std::string(kV3) + "/login HTTP/1.1\r\nHost: test\r\n"
                      "Content-Type: application/json\r\nContent-Length: " +
                      std::to_string(body.size()) + "\r\n\r\n" + body);
      int status = connection.Read().status;
      (status == 200 ? ok : status == 429 ? limited : other)++;
      done++;
    });
  }
  std::vector<double> send_ms, sync_ms;
  std::string since;
  {
    HttpReply first = Call("GET", "/sync?timeout=0", alice);
    ASSERT_EQ(first.status, 200);
    since = std::string(first.Json().at("next_batch").as_string());
  }
  for (int i = 0; done.load() < kLogins && i < 500 &&
                  std::chrono::steady_clock::now() - storm_start < kStormTimeout;
       ++i) {
    auto t0 = std::chrono::steady_clock::now();
    Send(alice, room, "during the storm " + std::to_string(i));
    auto t1 = std::chrono::steady_clock::now();
    HttpReply sync = Call("GET", "/sync?timeout=0&since=" + Encode(since), alice);
    auto t2 = std::chrono::steady_clock::now();
    ASSERT_EQ(sync.status, 200);
    since = std::string(sync.Json().at("next_batch").as_string());
    send_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    sync_ms.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
  }
  for (std::thread& t : logins) t.join();
  double storm_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - storm_start)
                       .count();
  auto p = [](std::vector<double> v, double q) {
    if (v.empty()) return 0.0;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
  };
  std::printf("login storm: %d logins in %.2f s (%.1f/s): %d ok, %d 429, %d other\n", kLogins,
              storm_s, kLogins / storm_s, ok.load(), limited.load(), other.load());
  std::printf("during it: %zu send+sync rounds; send p50 %.1f ms p95 %.1f ms max %.1f ms; "
              "sync p50 %.1f ms p95 %.1f ms max %.1f ms\n",
              send_ms.size(), p(send_ms, 0.5), p(send_ms, 0.95), p(send_ms, 1.0),
              p(sync_ms, 0.5), p(sync_ms, 0.95), p(sync_ms, 1.0));
  EXPECT_EQ(ok.load() + limited.load(), kLogins);
  EXPECT_EQ(other.load(), 0);
  // N is under the queue bound: a 429 is legitimate only for a job that waited longer
  // than kHashWaitMsMax, which needs a storm at least that long (a very slow machine).
  if (storm_s * 1000 < static_cast<double>(api::kHashWaitMsMax)) {
    EXPECT_EQ(limited.load(), 0) << "a login under the queue bound was refused";
  }
  // Generous: a send or sync never waits for the whole storm's hashing.
  EXPECT_LT(p(send_ms, 0.5), 2000.0);
  EXPECT_LT(p(sync_ms, 0.5), 2000.0);
}

}  // namespace
}  // namespace nebu::security
