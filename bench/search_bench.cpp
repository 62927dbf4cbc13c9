// The full-text search index (engine/search): what it adds to applying a message
// event, and what a search costs over many messages. Figures only; no pass/fail.
//
// 1. Apply cost, A/B: the same --events message events (rooms round-robin, bodies of
//    8..16 words over a --vocabulary-word Zipf-like vocabulary) written in one batch
//    per event as apply writes them (room log envelope + event-id index + stream
//    entry, non-synced), into one store without and one with the search postings
//    (search::StageEvent: JSON walk, tokenizing, one Put per distinct word). The two
//    alternate in --rounds rounds (so a busy machine slows both alike); prints the
//    wall and the thread CPU µs/event of both, the difference, the load average, and
//    the index's share of the live bytes.
// 2. Search over those events: search::Search on the indexed store (one snapshot),
//    for a rare word, a middling word, a frequent word (more matches than the
//    examined bound) and two words, by rank and by recency, over one room and over
//    all rooms; median and p99 of --runs runs, with the matches counted.
//
//   build/bench/bench_search [--events=100000] [--rooms=10] [--vocabulary=5000]
//                            [--runs=20] [--dir=/dev/shm/x]
#include <rocksdb/write_batch.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <random>

#include "bench/bench_util.h"
#include "engine/event/canonical_json.h"
#include "engine/search/search_index.h"
#include "engine/storage/keys.h"
#include "engine/storage/room_log.h"
#include "engine/storage/store.h"
#include "engine/testing/temp_dir.h"

using namespace nebu;
using SteadyClock = std::chrono::steady_clock;

namespace {

struct Event {
  storage::EventRecord record;
  boost::json::object pdu;
};

std::string Word(size_t rank) { return "w" + std::to_string(rank); }

// Zipf-like: rank r with probability ~ 1/(r+1).
std::vector<Event> MakeEvents(size_t events, size_t rooms, size_t vocabulary) {
  std::mt19937_64 rng(42);
  std::vector<double> weights(vocabulary);
  for (size_t r = 0; r < vocabulary; ++r) weights[r] = 1.0 / static_cast<double>(r + 1);
  std::discrete_distribution<size_t> zipf(weights.begin(), weights.end());
  std::vector<Event> out;
  out.reserve(events);
  std::vector<storage::Sequence> last(rooms, 0);
  for (size_t i = 0; i < events; ++i) {
    const size_t room = i % rooms;
    std::string body;
    const size_t words = 8 + rng() % 9;
    for (size_t w = 0; w < words; ++w) body += Word(zipf(rng)) + (w % 5 == 4 ? ", " : " ");
    Event e;
    e.pdu = boost::json::object{{"type", "m.room.message"},
                                {"sender", "@bench:localhost"},
                                {"room_id", "!r" + std::to_string(room) + ":localhost"},
                                {"content", {{"msgtype", "m.text"}, {"body", body}}},
                                {"origin_server_ts", 1'700'000'000'000 + static_cast<int64_t>(i)}};
    e.record.room = room + 1;
    e.record.sequence = ++last[room];
    e.record.stream_position = i + 1;
    e.record.origin_server_ts = 1'700'000'000'000 + static_cast<int64_t>(i);
    e.record.event_id = "$e" + std::to_string(i);
    e.record.sender = "@bench:localhost";
    e.record.type = "m.room.message";
    e.record.json = *event::CanonicalJson(e.pdu);
    out.push_back(std::move(e));
  }
  return out;
}

std::unique_ptr<storage::Store> OpenStore(const std::string& path) {
  auto store = storage::Store::Open({.path = path});
  if (!store.ok()) {
    std::fprintf(stderr, "open %s: %s\n", path.c_str(), store.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(*store);
}

double ThreadCpuUs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

std::string LoadAverage() {
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) != 3) return "?";
  char out[64];
  std::snprintf(out, sizeof out, "%.2f %.2f %.2f", load[0], load[1], load[2]);
  return out;
}

struct Cost {
  double wall_us = 0;
  double cpu_us = 0;
};

// Writes events [begin, end) as apply does; adds the wall and thread CPU time to *cost.
void Apply(storage::Store& store, const std::vector<Event>& events, size_t begin, size_t end,
           bool index, Cost* cost) {
  storage::RoomLog log(store);
  const auto started = SteadyClock::now();
  const double cpu_started = ThreadCpuUs();
  for (size_t i = begin; i < end; ++i) {
    const Event& e = events[i];
    rocksdb::WriteBatch batch;
    log.Append(batch, e.record);
    batch.Put(store.handle(storage::Cf::kStream), storage::U64Key(e.record.stream_position),
              storage::EventKey(e.record.room, e.record.sequence));
    if (index) {
      search::StageEvent(store, batch, e.record.room, e.record.sequence, e.record.stream_position,
                         e.pdu);
    }
    if (!store.Write(batch, /*sync=*/false).ok()) std::exit(1);
  }
  cost->wall_us += std::chrono::duration<double, std::micro>(SteadyClock::now() - started).count();
  cost->cpu_us += ThreadCpuUs() - cpu_started;
}

// Only the staging of the postings (JSON walk, tokenizing, batch Puts), not written.
double StageOnly(storage::Store& store, const std::vector<Event>& events) {
  const auto started = SteadyClock::now();
  size_t bytes = 0;
  for (const Event& e : events) {
    rocksdb::WriteBatch batch;
    search::StageEvent(store, batch, e.record.room, e.record.sequence, e.record.stream_position,
                       e.pdu);
    bytes += batch.GetDataSize();
  }
  if (bytes == 0) std::exit(1);
  return std::chrono::duration<double, std::micro>(SteadyClock::now() - started).count() /
         static_cast<double>(events.size());
}

uint64_t LiveBytes(storage::Store& store, storage::Cf cf) {
  uint64_t bytes = 0;
  store.db()->GetIntProperty(store.handle(cf), "rocksdb.estimate-live-data-size", &bytes);
  uint64_t mem = 0;
  store.db()->GetIntProperty(store.handle(cf), "rocksdb.cur-size-all-mem-tables", &mem);
  return bytes + mem;
}

void SearchCase(storage::Store& store, const char* name, std::vector<std::string> words,
                std::vector<storage::RoomNumber> rooms, bool by_rank, int runs) {
  std::vector<double> ms;
  size_t count = 0;
  bool cut = false;
  for (int i = 0; i < runs; ++i) {
    const storage::ReadView view = storage::ReadView::Pinned(store);
    search::Query q{.words = words, .rooms = rooms, .by_rank = by_rank, .limit = 10};
    const auto started = SteadyClock::now();
    auto page = search::Search(view, q, [](const storage::EventRecord&) -> Result<bool> { return true; });
    ms.push_back(std::chrono::duration<double, std::milli>(SteadyClock::now() - started).count());
    if (!page.ok()) std::exit(1);
    count = page->count;
    cut = page->cut;
  }
  std::printf("  %-34s %-6s rooms=%-3zu matches=%-6zu%s p50 %7.2f ms  p99 %7.2f ms\n", name,
              by_rank ? "rank" : "recent", rooms.size(), count, cut ? " (cut)" : "      ",
              bench::Percentile(ms, 50), bench::Percentile(ms, 99));
}

}  // namespace

int main(int argc, char** argv) {
  bench::PrintCommand(argc, argv);
  const size_t events = std::stoul(bench::Arg(argc, argv, "events", "100000"));
  const size_t rooms = std::stoul(bench::Arg(argc, argv, "rooms", "10"));
  const size_t vocabulary = std::stoul(bench::Arg(argc, argv, "vocabulary", "5000"));
  const int runs = std::stoi(bench::Arg(argc, argv, "runs", "20"));
  testing::TempDir tmp(testing::TempDir::kTmpfs);
  const std::string dir = bench::Arg(argc, argv, "dir", tmp.path());

  const std::vector<Event> all = MakeEvents(events, rooms, vocabulary);
  auto plain = OpenStore(dir + "/plain");
  auto indexed = OpenStore(dir + "/indexed");
  const size_t rounds = std::max<size_t>(1, std::stoul(bench::Arg(argc, argv, "rounds", "10")));
  Cost without, with;
  const std::string load_before = LoadAverage();
  for (size_t r = 0; r < rounds; ++r) {
    const size_t begin = events * r / rounds, end = events * (r + 1) / rounds;
    Apply(*plain, all, begin, end, false, &without);
    Apply(*indexed, all, begin, end, true, &with);
  }
  const double n = static_cast<double>(events);
  std::printf("apply (write batch per message event, non-synced), %zu events, %zu rooms, %zu "
              "alternating rounds, load average %s (before) / %s (after):\n",
              events, rooms, rounds, load_before.c_str(), LoadAverage().c_str());
  std::printf("  thread CPU: without index %.2f us/event, with index %.2f us/event (+%.2f us, +%.0f%%)\n",
              without.cpu_us / n, with.cpu_us / n, (with.cpu_us - without.cpu_us) / n,
              100.0 * (with.cpu_us - without.cpu_us) / without.cpu_us);
  std::printf("  wall:       without index %.2f us/event, with index %.2f us/event (+%.2f us, +%.0f%%)\n",
              without.wall_us / n, with.wall_us / n, (with.wall_us - without.wall_us) / n,
              100.0 * (with.wall_us - without.wall_us) / without.wall_us);
  std::printf("  of which staging the postings (no write) %.2f us/event\n", StageOnly(*plain, all));
  const uint64_t log_bytes = LiveBytes(*indexed, storage::Cf::kEvents);
  const uint64_t index_bytes = LiveBytes(*indexed, storage::Cf::kSearch);
  std::printf("  live bytes: events %.1f MiB, search index %.1f MiB (estimates)\n",
              static_cast<double>(log_bytes) / (1 << 20), static_cast<double>(index_bytes) / (1 << 20));

  std::vector<storage::RoomNumber> every;
  for (size_t r = 1; r <= rooms; ++r) every.push_back(r);
  const std::vector<storage::RoomNumber> one{1};
  std::printf("search (search::Search, limit 10, accept-all predicate), %d runs each:\n", runs);
  const std::string rare = Word(vocabulary - 1), middling = Word(50), frequent = Word(0);
  for (bool by_rank : {true, false}) {
    SearchCase(*indexed, ("rare word " + rare).c_str(), {rare}, every, by_rank, runs);
    SearchCase(*indexed, ("middling word " + middling).c_str(), {middling}, every, by_rank, runs);
    SearchCase(*indexed, ("middling word " + middling).c_str(), {middling}, one, by_rank, runs);
    SearchCase(*indexed, ("frequent word " + frequent).c_str(), {frequent}, every, by_rank, runs);
    SearchCase(*indexed, ("two words " + middling + " " + Word(3)).c_str(), {middling, Word(3)},
               every, by_rank, runs);
  }
  std::printf("peak RSS %.0f MiB\n", bench::PeakRssMiB());
  return 0;
}
