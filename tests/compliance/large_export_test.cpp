// The large export: a room of NEBU_EXPORT_TEST_EVENTS events (default
// kLargeExportEventsDefault) with edits, redactions, joins and leaves, written straight
// to the engine, projected, exported over HTTP and compared line by line with the log.
// Prints the time of each step and the export's MB/s. Bounded: each step must finish in
// kLargeExportStepSecondsMax. scripts/test.sh (CI) sets NEBU_EXPORT_TEST_EVENTS=100000,
// the size (about 3 minutes on a busy 2-core machine); a plain ctest run uses the
// default; bench/compliance_export_bench.cpp prints the figures.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "tests/compliance/export_testing.h"
#include "tests/compliance/large_room.h"

namespace nebu::compliance_testing {
namespace {

constexpr size_t kLargeExportEventsDefault = 10'000;  // ctest; 100,000: bench_compliance_export
constexpr double kLargeExportStepSecondsMax = 300;

size_t LargeExportEvents() {
  const char* text = std::getenv("NEBU_EXPORT_TEST_EVENTS");
  return text != nullptr && *text ? std::strtoull(text, nullptr, 10) : kLargeExportEventsDefault;
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

TEST_F(ExportFixture, ALargeRoomWithEditsAndRedactionsExportsExactlyItsLog) {
  const size_t count = LargeExportEvents();
  const uint64_t seed = std::random_device{}();
  std::printf("large export: %zu events, seed %llu\n", count, static_cast<unsigned long long>(seed));
  Session alice = Register("alice");
  Session bob = Register("bob");
  std::string room = PublicRoom(alice);

  auto start = std::chrono::steady_clock::now();
  LargeRoom built = BuildLargeRoom(*engine_, room, alice.user_id, bob.user_id, count, seed);
  const double build_s = SecondsSince(start);
  ASSERT_EQ(built.failures, 0u);
  ASSERT_EQ(built.events, count);
  ASSERT_LT(build_s, kLargeExportStepSecondsMax);

  start = std::chrono::steady_clock::now();
  const int64_t checkpoint = Project();
  const double project_s = SecondsSince(start);
  ASSERT_LT(project_s, kLargeExportStepSecondsMax);

  start = std::chrono::steady_clock::now();
  StreamReply reply = Get(RoomHistory(room), &auditor_);
  const double export_s = SecondsSince(start);
  ASSERT_EQ(reply.status, 200);
  ASSERT_TRUE(reply.complete);
  std::printf("large export: built %.1f s (%.0f events/s), projected %.1f s, exported %.1f MB "
              "in %.2f s (%.1f MB/s, %.0f lines/s, %zu chunks)\n",
              build_s, count / build_s, project_s, reply.bytes / 1e6, export_s,
              reply.bytes / 1e6 / export_s, reply.lines.size() / export_s, reply.chunks);
  ASSERT_LT(export_s, kLargeExportStepSecondsMax);

  std::vector<LogEvent> log = LogOf(room);
  ASSERT_EQ(reply.lines.size(), log.size() + 3);  // header, members, end
  EXPECT_EQ(I(json::parse(reply.lines.front()).as_object(), "checkpoint"), checkpoint);
  size_t redacted = 0, edited = 0, mismatches = 0;
  for (size_t i = 0; i < log.size(); ++i) {
    json::object line = json::parse(reply.lines[i + 2]).as_object();
    const LogEvent& event = log[i];
    const bool same = I(line, "sequence") == event.sequence && S(line, "event_id") == event.event_id &&
                      S(line, "event_type") == event.type && S(line, "sender") == event.sender &&
                      line.at("content") == event.content;
    const bool is_redacted = line.at("redacted").is_object();
    json::array edits = line.at("edits").is_array() ? line.at("edits").as_array() : json::array{};
    json::array expected_edits;
    if (auto it = built.edits.find(event.event_id); it != built.edits.end()) {
      for (const std::string& id : it->second) expected_edits.push_back(json::value(id));
    }
    if (!same || is_redacted != built.redacted.contains(event.event_id) || edits != expected_edits) {
      if (++mismatches <= 5) ADD_FAILURE() << "line " << i + 2 << " differs from the log: " << reply.lines[i + 2];
    }
    redacted += is_redacted;
    edited += !edits.empty();
  }
  EXPECT_EQ(mismatches, 0u);
  EXPECT_EQ(redacted, built.redacted.size());
  EXPECT_EQ(edited, built.edits.size());
  EXPECT_EQ(I(json::parse(reply.lines.back()).as_object(), "lines"), static_cast<int64_t>(log.size()));
}

}  // namespace
}  // namespace nebu::compliance_testing
