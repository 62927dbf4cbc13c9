// bench_push: what push-rule evaluation costs, and that it stays off the send path.
// In one process: a real Engine (its own data directory), the ClientApi with its
// notification worker running, and the HTTP server on loopback. A sender sends
// --messages messages, alternating between a room of 2 members and a room of --members
// members, over one keep-alive connection (PUT /send, the full request path); it prints
// the send latency p50/p99 of each room, measured in the same run. Then it measures the
// worker alone: --worker-messages messages appended to the large room while no worker
// runs, then the time one worker takes to catch up over them (each evaluated for every
// member but the sender), as events per second.
// Every figure comes with the load average; the worker also as CPU µs per member and event.
// Every loop is bounded by a count; the worker waits are bounded by time.
//
//   build/bench/bench_push                          # 1,000 members, 1,000 messages
//   build/bench/bench_push --members=5000 --messages=400 --dir=/tmp/bench-push
#include <rocksdb/write_batch.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "api/client_api.h"
#include "api/server.h"
#include "bench/bench_util.h"
#include "engine/accounts/accounts.h"
#include "engine/core/engine.h"
#include "engine/push/notification_worker.h"
#include "tests/api/test_http_client.h"

namespace {

namespace json = boost::json;
using namespace nebu;
using SteadyClock = std::chrono::steady_clock;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "bench_push: %s\n", what.c_str());
  std::exit(1);
}

std::string RegisterUser(core::Engine& engine, const std::string& localpart) {
  auto prepared = accounts::PrepareRegistration({.user_id = "@" + localpart + ":localhost"}, 0);
  if (!prepared.ok()) Die(prepared.status().ToString());
  if (auto applied = engine.Submit({core::CommandKind::kAccount, prepared->payload}); !applied.ok()) {
    Die(applied.status().ToString());
  }
  return prepared->access_token.value_or("");
}

std::string MakeRoom(core::Engine& engine, const std::string& creator, size_t members) {
  rooms::CreateRoomRequest request;
  request.preset = "public_chat";
  auto created = engine.CreateRoom(request, creator);
  if (!created.ok()) Die(created.status().ToString());
  for (size_t i = 1; i < members; ++i) {
    const std::string user = "@m" + std::to_string(members) + "_" + std::to_string(i) + ":localhost";
    core::SendEventRequest join{.room_id = created->room_id, .sender = user,
                                .type = "m.room.member", .state_key = user};
    join.content = json::object{{"membership", "join"}, {"displayname", "member " + std::to_string(i)}};
    if (auto sent = engine.SendEvent(join); !sent.ok()) Die(sent.status().ToString());
  }
  return created->room_id;
}

void WaitForWorker(core::Engine& engine, push::NotificationWorker& worker) {
  const auto deadline = SteadyClock::now() + std::chrono::minutes(5);
  while (worker.cursor() < engine.stream_position() && SteadyClock::now() < deadline) {
    worker.notifier().WaitBeyond(worker.cursor(), std::chrono::milliseconds(100));
  }
  if (worker.cursor() < engine.stream_position()) Die("the worker did not catch up in 5 minutes");
}

// CPU time of the calling thread (RunOnce runs on it), to tell the worker's own cost
// from a busy machine's.
double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double Ms(SteadyClock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// "1.23 1.50 1.70": the machine's load next to each figure (wall times are noisy).
std::string LoadAverage() {
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) != 3) return "?";
  char out[64];
  std::snprintf(out, sizeof out, "%.2f %.2f %.2f", load[0], load[1], load[2]);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  bench::PrintCommand(argc, argv);
  const size_t members = std::stoul(bench::Arg(argc, argv, "members", "1000"));
  const size_t messages = std::stoul(bench::Arg(argc, argv, "messages", "1000"));
  const std::string dir = bench::Arg(argc, argv, "dir", "/tmp/bench-push-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto opened = core::Engine::Open({.data_dir = dir, .server_name = "localhost"});
  if (!opened.ok()) Die(opened.status().ToString());
  std::unique_ptr<core::Engine> engine = std::move(opened).value();
  const std::string token = RegisterUser(*engine, "alice");
  const std::string small = MakeRoom(*engine, "@alice:localhost", 2);
  const std::string large = MakeRoom(*engine, "@alice:localhost", members);
  std::printf("rooms: small (2 members), large (%zu members); %zu messages, alternating\n", members,
              messages);
  std::vector<double> small_ms, large_ms;
  {
    api::ClientApi client_api(*engine, {.rate_limit = false});
    if (!client_api.notifications()) Die("the notification worker did not start");
    auto server = api::Server::Start({{.address = "127.0.0.1", .port = 0, .router = &client_api.router()}},
                                     {.threads = 2});
    if (!server.ok()) Die(server.status().ToString());
    WaitForWorker(*engine, *client_api.notifications());
    api::testing::TestHttpClient http((*server)->port(0));
    if (!http.connected()) Die("cannot connect");
    for (size_t i = 0; i < messages; ++i) {
      const bool to_large = i % 2 == 1;
      const std::string& room = to_large ? large : small;
      const std::string body = json::serialize(json::object{{"msgtype", "m.text"}, {"body", "message " + std::to_string(i)}});
      const auto start = SteadyClock::now();
      http.Send("PUT", "/_matrix/client/v3/rooms/" + room + "/send/m.room.message/b" + std::to_string(i), body, token);
      api::testing::HttpReply reply = http.Read();
      const double ms = Ms(SteadyClock::now() - start);
      if (reply.status != 200) Die("send answered " + std::to_string(reply.status) + " " + reply.body);
      (to_large ? large_ms : small_ms).push_back(ms);
    }
    const auto wait_start = SteadyClock::now();
    WaitForWorker(*engine, *client_api.notifications());
    std::printf("worker lag after the last send: %.1f ms\n", Ms(SteadyClock::now() - wait_start));
    (*server).reset();
  }
  std::printf("load average %s\n", LoadAverage().c_str());
  std::printf("send p50/p99, room of 2:            %.2f / %.2f ms (%zu sends)\n",
              bench::Percentile(small_ms, 50), bench::Percentile(small_ms, 99), small_ms.size());
  std::printf("send p50/p99, room of %zu members: %.2f / %.2f ms (%zu sends)\n", members,
              bench::Percentile(large_ms, 50), bench::Percentile(large_ms, 99), large_ms.size());

  // The worker alone: --worker-messages messages appended to the large room with no
  // worker running, then one worker catching up over them (RunOnce, this thread).
  const size_t backlog = std::stoul(bench::Arg(argc, argv, "worker-messages", "500"));
  for (size_t i = 0; i < backlog; ++i) {
    core::SendEventRequest message{.room_id = large, .sender = "@alice:localhost", .type = "m.room.message"};
    message.content = json::object{{"msgtype", "m.text"}, {"body", "backlog " + std::to_string(i)}};
    if (auto sent = engine->SendEvent(message); !sent.ok()) Die(sent.status().ToString());
  }
  push::NotificationWorker worker(*engine);
  const auto start = SteadyClock::now();
  const double cpu_start = ThreadCpuSeconds();
  if (Status s = worker.RunOnce(); !s.ok()) Die(s.ToString());
  const double seconds = Ms(SteadyClock::now() - start) / 1000.0;
  const double cpu = ThreadCpuSeconds() - cpu_start;
  std::printf("worker, room of %zu members: %zu messages in %.2f s wall = %.0f events/s "
              "(%.0f rule evaluations/s); %.2f s of the worker thread's CPU = %.0f events/s per core "
              "= %.2f us of CPU per member and event; load average %s\n",
              members, backlog, seconds, static_cast<double>(backlog) / seconds,
              static_cast<double>(backlog * (members - 1)) / seconds, cpu,
              static_cast<double>(backlog) / cpu,
              cpu * 1e6 / static_cast<double>(backlog * (members - 1)), LoadAverage().c_str());
  engine.reset();
  std::filesystem::remove_all(dir);
  return 0;
}
