// bench_api: the client API under load, over real HTTP on loopback, against a real
// `nebu serve` child process (its own data directory, registration open, rate limits
// off). Prints the figures issue 3 sets targets for:
//   1. idle RSS of the server;
//   2. send latency p50/p99 with --senders concurrent senders (one keep-alive
//      connection and one user each, all in one room: the contended case);
//   3. send -> delivery latency p50/p99: a receiver long-polls /sync while a sender
//      sends, one message in flight at a time; each body carries its send time;
//   4. initial sync of a user in --rooms rooms x --room-events events with
//      lazy-loaded members (median of 5);
//   5. empty incremental syncs per second (timeout=0, --sync-clients connections);
//   6. RSS after --load-users users x --load-rooms rooms x --load-events events.
// --mode=index measures only the indexed reads instead (RunIndexBench): GET /relations
// (plain and recursive) of a parent with --index-events events after it (a child every
// 1,000), and POST /user_directory/search, on a server with --index-users users in
// --index-rooms public rooms; latencies p50/p99 over --index-requests calls each and
// what the answers held. Run it against an older `--nebu` binary for a before figure.
// Every loop is bounded by a count and by time.
//
//   build/bench/bench_api                        # defaults as in the issue
//   build/bench/bench_api --load-events=20000    # a quicker load phase
//   build/bench/bench_api --mode=index           # /relations and /user_directory/search
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_http.h"
#include "bench/bench_util.h"
#include "tests/api/test_http_client.h"

namespace {

namespace json = boost::json;
using nebu::api::testing::HttpReply;
using nebu::api::testing::TestHttpClient;
using Clock = std::chrono::steady_clock;
using nebu::bench::CreateRoom;
using nebu::bench::Die;
using nebu::bench::FreePort;
using nebu::bench::kV3;
using nebu::bench::NowNs;
using nebu::bench::Ok;
using nebu::bench::Parallel;
using nebu::bench::Register;
using nebu::bench::SendMessage;




double RssMiB(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
}


using nebu::bench::Server;




void Join(TestHttpClient& client, const std::string& token, const std::string& room) {
  Ok(client.Call("POST", std::string(kV3) + "/rooms/" + room + "/join", "{}", token), "join");
}



// A user without a password (no argon2 work: the index bench registers hundreds).
std::string RegisterNoPassword(TestHttpClient& client, const std::string& name) {
  json::value body = Ok(client.Call("POST", std::string(kV3) + "/register",
                                    json::serialize(json::object{
                                        {"username", name},
                                        {"auth", json::object{{"type", "m.login.dummy"}}}})),
                        "register");
  return std::string(body.at("access_token").as_string());
}

// Calls `call` `requests` times (at most `seconds`); prints p50/p99 and what the last
// answer held (`describe`).
template <typename Call, typename Describe>
void TimeRequests(const char* what, int requests, double seconds, Call call, Describe describe) {
  std::vector<double> ms;
  HttpReply last;
  const auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
  for (int i = 0; i < requests && Clock::now() < deadline; ++i) {
    const auto start = Clock::now();
    last = call();
    if (last.status != 200) Die(std::string(what) + ": HTTP " + std::to_string(last.status));
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  std::printf("%s: %zu calls, p50 %.2f ms, p99 %.2f ms; %s\n", what, ms.size(),
              nebu::bench::Percentile(ms, 50), nebu::bench::Percentile(ms, 99),
              describe(last.Json()).c_str());
  std::fflush(stdout);
}

int RunIndexBench(const Server& server, int argc, char** argv) {
  using nebu::bench::Arg;
  const int users = std::stoi(Arg(argc, argv, "index-users", "500"));
  const int rooms = std::stoi(Arg(argc, argv, "index-rooms", "300"));
  const int events = std::stoi(Arg(argc, argv, "index-events", "20000"));
  const int requests = std::stoi(Arg(argc, argv, "index-requests", "50"));
  const double phase_seconds = std::stod(Arg(argc, argv, "phase-seconds", "120"));
  constexpr int kThreads = 8;
  constexpr int kMembersPerRoom = 5;
  constexpr int kChildEvery = 1000;  // one relation per this many events
  if (users < kThreads + kMembersPerRoom || events < 1) Die("index bench needs more users/events");
  std::vector<std::string> tokens(static_cast<size_t>(users));
  Parallel(kThreads, users, phase_seconds, [&](int t, int i) {
    const int n = i * kThreads + t;
    if (n >= users) return -1.0;
    thread_local std::unique_ptr<TestHttpClient> client;
    if (!client) client = std::make_unique<TestHttpClient>(server.port);
    tokens[static_cast<size_t>(n)] = RegisterNoPassword(*client, "user" + std::to_string(n));
    return -1.0;
  });
  Parallel(kThreads, rooms, phase_seconds, [&](int t, int i) {
    const int r = i * kThreads + t;
    if (r >= rooms) return -1.0;
    thread_local std::unique_ptr<TestHttpClient> client;
    if (!client) client = std::make_unique<TestHttpClient>(server.port);
    const std::string room = CreateRoom(*client, tokens[static_cast<size_t>(r % users)]);
    for (int k = 1; k <= kMembersPerRoom; ++k) {
      Join(*client, tokens[static_cast<size_t>((r * 7 + k) % users)], room);
    }
    return -1.0;
  });
  TestHttpClient client(server.port);
  const std::string room = CreateRoom(client, tokens[0]);
  for (int t = 1; t < kThreads; ++t) Join(client, tokens[static_cast<size_t>(t)], room);
  json::value parent = Ok(SendMessage(client, tokens[0], room, "parent", "parent"), "send parent");
  const std::string parent_id(parent.at("event_id").as_string());
  const std::string relates = json::serialize(json::object{
      {"m.relates_to", json::object{{"rel_type", "m.annotation"}, {"event_id", parent_id},
                                    {"key", "+1"}}}});
  const auto load_start = Clock::now();
  Parallel(kThreads, events / kThreads + 1, phase_seconds, [&](int t, int i) {
    const int n = i * kThreads + t;
    if (n >= events) return -1.0;
    thread_local std::unique_ptr<TestHttpClient> c;
    if (!c) c = std::make_unique<TestHttpClient>(server.port);
    const std::string& token = tokens[static_cast<size_t>(t)];
    if (n % kChildEvery == kChildEvery - 1) {
      Ok(c->Call("PUT", std::string(kV3) + "/rooms/" + nebu::api::testing::PercentEncode(room) +
                            "/send/m.reaction/c" + std::to_string(n),
                 relates, token),
         "send child");
    } else {
      Ok(SendMessage(*c, token, room, "f" + std::to_string(n), "filler"), "send");
    }
    return -1.0;
  });
  std::printf("index bench: %d users, %d public rooms x %d members, %d events after the parent "
              "(%d children) loaded in %.1f s\n",
              users, rooms, kMembersPerRoom, events, events / kChildEvery,
              std::chrono::duration<double>(Clock::now() - load_start).count());
  const std::string relations = "/_matrix/client/v1/rooms/" +
                                nebu::api::testing::PercentEncode(room) + "/relations/" +
                                nebu::api::testing::PercentEncode(parent_id);
  auto chunk = [](const json::value& body) {
    return "chunk " + std::to_string(body.at("chunk").as_array().size()) +
           (body.as_object().contains("next_batch") ? ", next_batch" : ", complete");
  };
  TimeRequests("GET /relations (limit 50)", requests, phase_seconds,
               [&] { return client.Call("GET", relations + "?limit=50", "", tokens[0]); }, chunk);
  TimeRequests("GET /relations?recurse=true (limit 50)", requests, phase_seconds,
               [&] { return client.Call("GET", relations + "?limit=50&recurse=true", "", tokens[0]); },
               chunk);
  auto results = [](const json::value& body) {
    return "results " + std::to_string(body.at("results").as_array().size()) +
           (body.at("limited").as_bool() ? ", limited" : "");
  };
  for (const char* term : {"user123", "user4"}) {
    const std::string what = std::string("POST /user_directory/search \"") + term + "\"";
    TimeRequests(what.c_str(), requests, phase_seconds, [&] {
      return client.Call("POST", std::string(kV3) + "/user_directory/search",
                         json::serialize(json::object{{"search_term", term}, {"limit", 10}}),
                         tokens[static_cast<size_t>(users - 1)]);
    }, results);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  using nebu::bench::Arg;
  using nebu::bench::Percentile;
  nebu::bench::PrintCommand(argc, argv);
  const std::string binary = Arg(argc, argv, "nebu", "build/app/nebu");
  const int senders = std::stoi(Arg(argc, argv, "senders", "50"));
  const int sends_per_sender = std::stoi(Arg(argc, argv, "sends", "200"));
  const int deliveries = std::stoi(Arg(argc, argv, "deliveries", "1000"));
  const int rooms = std::stoi(Arg(argc, argv, "rooms", "300"));
  const int room_events = std::stoi(Arg(argc, argv, "room-events", "50"));
  const int sync_clients = std::stoi(Arg(argc, argv, "sync-clients", "4"));
  const double sync_seconds = std::stod(Arg(argc, argv, "sync-seconds", "5"));
  const int load_users = std::stoi(Arg(argc, argv, "load-users", "1000"));
  const int load_rooms = std::stoi(Arg(argc, argv, "load-rooms", "100"));
  const int load_events = std::stoi(Arg(argc, argv, "load-events", "100000"));
  const double phase_seconds = std::stod(Arg(argc, argv, "phase-seconds", "120"));
  // Phases 4 and 5 reuse the senders' accounts: there must be one.
  if (senders < 1) Die("--senders must be at least 1");
  if (load_users > 0 && load_events > 0 && load_rooms < 1) Die("--load-rooms must be at least 1");

  Server server;
  server.Start(binary);
  if (Arg(argc, argv, "mode", "all") == "index") return RunIndexBench(server, argc, argv);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  std::printf("idle RSS: %.1f MiB\n", RssMiB(server.pid));
  std::fflush(stdout);

  // ---- 2. send latency, `senders` users in one room ----
  std::vector<std::string> tokens(static_cast<size_t>(senders));
  std::string room;
  {
    TestHttpClient client(server.port);
    tokens[0] = Register(client, "sender0");
    room = CreateRoom(client, tokens[0]);
  }
  Parallel(std::min(senders, 8), senders, phase_seconds, [&](int t, int i) {
    int n = i * std::min(senders, 8) + t;
    if (n == 0 || n >= senders) return 0.0;
    thread_local std::unique_ptr<TestHttpClient> client;
    if (!client) client = std::make_unique<TestHttpClient>(server.port);
    tokens[static_cast<size_t>(n)] = Register(*client, "sender" + std::to_string(n));
    Join(*client, tokens[static_cast<size_t>(n)], room);
    return 0.0;
  });
  {
    const auto begin = Clock::now();
    std::atomic<int> errors{0};
    std::vector<double> latencies = Parallel(senders, sends_per_sender, phase_seconds, [&](int t, int i) {
      thread_local std::unique_ptr<TestHttpClient> client;
      if (!client) client = std::make_unique<TestHttpClient>(server.port);
      const auto start = Clock::now();
      HttpReply reply = SendMessage(*client, tokens[static_cast<size_t>(t)], room,
                                    "s" + std::to_string(i), "message " + std::to_string(i));
      if (reply.status != 200) ++errors;
      return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    });
    const double seconds = std::chrono::duration<double>(Clock::now() - begin).count();
    const size_t count = latencies.size();
    std::printf("send, %d senders in one room: %zu sends in %.2f s = %.0f/s, p50 %.2f ms, p99 %.2f ms, errors %d\n",
                senders, count, seconds, static_cast<double>(count) / seconds,
                Percentile(latencies, 50), Percentile(latencies, 99), errors.load());
    std::fflush(stdout);
  }

  // ---- 3. send -> delivery latency ----
  {
    TestHttpClient setup(server.port);
    std::string receiver = Register(setup, "receiver");
    std::string delivery_room = CreateRoom(setup, tokens[0]);
    Join(setup, receiver, delivery_room);
    json::value first = Ok(setup.Call("GET", std::string(kV3) + "/sync?filter=" +
                                                 R"({"room":{"timeline":{"limit":1}}})",
                                      {}, receiver),
                           "initial sync");
    std::string since(first.at("next_batch").as_string());
    std::vector<double> latencies;
    std::mutex mutex;
    std::atomic<int> received{0};
    std::atomic<bool> stop{false};
    std::thread listener([&] {
      TestHttpClient client(server.port);
      const auto deadline = Clock::now() + std::chrono::duration<double>(phase_seconds);
      while (!stop && Clock::now() < deadline) {
        HttpReply reply =
            client.Call("GET", std::string(kV3) + "/sync?timeout=5000&since=" + since, {}, receiver);
        if (reply.status != 200) continue;
        const int64_t now = NowNs();
        json::value body = reply.Json();
        since = std::string(body.at("next_batch").as_string());
        // A sync with nothing new may leave "rooms" out.
        const json::value* entry = body.as_object().if_contains("rooms");
        if (entry) entry = entry->as_object().if_contains("join");
        if (entry) entry = entry->as_object().if_contains(delivery_room);
        if (!entry) continue;
        for (const json::value& event : entry->at("timeline").at("events").as_array()) {
          if (event.at("type").as_string() != "m.room.message") continue;
          int64_t sent = std::stoll(std::string(event.at("content").at("body").as_string()));
          std::lock_guard lock(mutex);
          latencies.push_back(static_cast<double>(now - sent) / 1e6);
          ++received;
        }
      }
    });
    TestHttpClient sender(server.port);
    const auto deadline = Clock::now() + std::chrono::duration<double>(phase_seconds);
    for (int i = 0; i < deliveries && Clock::now() < deadline; ++i) {
      const int before = received.load();
      SendMessage(sender, tokens[0], delivery_room, "d" + std::to_string(i), std::to_string(NowNs()));
      for (int spin = 0; spin < 5000 && received.load() == before; ++spin) {  // <= 5 s
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));  // let the receiver re-park
    }
    stop = true;
    SendMessage(sender, tokens[0], delivery_room, "end", std::to_string(NowNs()));  // wakes it
    listener.join();
    std::printf("delivery (send -> long-poll answer): %zu messages, p50 %.2f ms, p99 %.2f ms\n",
                latencies.size(), Percentile(latencies, 50), Percentile(latencies, 99));
    std::fflush(stdout);
  }

  // ---- 4. initial sync of a user in `rooms` rooms x `room_events` events ----
  {
    TestHttpClient setup(server.port);
    std::string reader = Register(setup, "reader");
    std::vector<std::string> room_ids(static_cast<size_t>(rooms));
    Parallel(8, rooms, phase_seconds, [&](int t, int i) {
      int n = i * 8 + t;
      if (n >= rooms) return 0.0;
      thread_local std::unique_ptr<TestHttpClient> client;
      if (!client) client = std::make_unique<TestHttpClient>(server.port);
      // Fewer senders than workers: the workers share the senders' accounts.
      const std::string& creator = tokens[static_cast<size_t>(t % senders)];
      std::string id = CreateRoom(*client, creator);
      Join(*client, reader, id);
      for (int e = 0; e < room_events; ++e) {
        SendMessage(*client, creator, id, "r" + std::to_string(e), "event");
      }
      room_ids[static_cast<size_t>(n)] = id;
      return 0.0;
    });
    std::vector<double> times;
    size_t joined = 0;
    for (int run = 0; run < 5; ++run) {
      const auto start = Clock::now();
      json::value body = Ok(
          setup.Call("GET",
                     std::string(kV3) + "/sync?filter=" +
                         R"({"room":{"state":{"lazy_load_members":true},"timeline":{"limit":10}}})",
                     {}, reader),
          "initial sync");
      times.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
      joined = body.at("rooms").at("join").as_object().size();
    }
    std::printf("initial sync, %zu rooms x %d events, lazy-loaded members: median %.1f ms, min %.1f ms\n",
                joined, room_events, Percentile(times, 50), Percentile(times, 0));
    std::fflush(stdout);

    // ---- 5. empty incremental syncs (of sender 1, or of sender 0 when alone) ----
    const std::string& syncer = tokens[static_cast<size_t>(std::min(1, senders - 1))];
    json::value head = Ok(setup.Call("GET", std::string(kV3) + "/sync?filter=" +
                                                R"({"room":{"timeline":{"limit":1}}})",
                                     {}, syncer),
                          "sync");
    const std::string since(head.at("next_batch").as_string());
    const auto begin = Clock::now();
    std::atomic<int> non_empty{0};
    std::vector<double> latencies =
        Parallel(sync_clients, 1000000, sync_seconds, [&](int, int) {
          thread_local std::unique_ptr<TestHttpClient> client;
          if (!client) client = std::make_unique<TestHttpClient>(server.port);
          const auto start = Clock::now();
          HttpReply reply =
              client->Call("GET", std::string(kV3) + "/sync?timeout=0&since=" + since, {}, syncer);
          if (reply.status != 200) Die("empty sync: " + reply.body);
          return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
        });
    const double seconds = std::chrono::duration<double>(Clock::now() - begin).count();
    std::printf("empty incremental syncs, %d connections: %.0f/s, p50 %.3f ms, p99 %.3f ms%s\n",
                sync_clients, static_cast<double>(latencies.size()) / seconds,
                Percentile(latencies, 50), Percentile(latencies, 99),
                non_empty ? " (some were not empty)" : "");
    std::fflush(stdout);
  }

  // ---- 6. loaded RSS ----
  if (load_users > 0 && load_events > 0) {
    const auto begin = Clock::now();
    std::vector<std::string> users(static_cast<size_t>(load_users));
    std::vector<std::string> load_room_ids(static_cast<size_t>(load_rooms));
    {
      TestHttpClient setup(server.port);
      for (int r = 0; r < load_rooms; ++r) load_room_ids[static_cast<size_t>(r)] = CreateRoom(setup, tokens[0]);
    }
    Parallel(8, load_users, phase_seconds, [&](int t, int i) {
      int n = i * 8 + t;
      if (n >= load_users) return 0.0;
      thread_local std::unique_ptr<TestHttpClient> client;
      if (!client) client = std::make_unique<TestHttpClient>(server.port);
      users[static_cast<size_t>(n)] = Register(*client, "load" + std::to_string(n));
      for (int k = 0; k < 10; ++k) {  // each user in 10 rooms
        Join(*client, users[static_cast<size_t>(n)],
             load_room_ids[static_cast<size_t>((n * 7 + k * 13) % load_rooms)]);
      }
      return 0.0;
    });
    std::atomic<int> sent{0};
    Parallel(16, load_events, phase_seconds * 2, [&](int t, int i) {
      int n = sent++;
      if (n >= load_events) return 0.0;
      thread_local std::unique_ptr<TestHttpClient> client;
      if (!client) client = std::make_unique<TestHttpClient>(server.port);
      int user = n % load_users;
      int room_index = (user * 7 + (n / load_users % 10) * 13) % load_rooms;
      SendMessage(*client, users[static_cast<size_t>(user)],
                  load_room_ids[static_cast<size_t>(room_index)],
                  "l" + std::to_string(t) + "_" + std::to_string(i), "load message " + std::to_string(n));
      return 0.0;
    });
    const double seconds = std::chrono::duration<double>(Clock::now() - begin).count();
    std::printf("loaded RSS after %d users x %d rooms x %d events (%.0f s to load): %.1f MiB\n",
                load_users, load_rooms, std::min(sent.load(), load_events), seconds,
                RssMiB(server.pid));
  }
  return 0;
}
