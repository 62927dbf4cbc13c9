// Goal: storage errors never turn into rejections and never lose an acknowledged write.
// A failed apply write stops the write path (reads go on, WriteStatus names the cause,
// a restart re-applies the command); a failed commit-log append refuses the group with
// nothing committed and the next write succeeds; a full disk refuses writes with
// kNoSpace; a command over the log's size limit is refused before it is written.
// Method: a real Engine on a temp dir; faults injected through
// Store::SetWriteFaultForTesting on the state DB or the commit log.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/json.hpp>

#include "engine/core/engine.h"
#include "engine/testing/temp_dir.h"
#include "tests/engine/core/core_testing.h"

namespace nebu::core {
namespace {

namespace json = boost::json;

std::unique_ptr<Engine> OpenEngineForFailure(const std::string& dir, EngineOptions options = {}) {
  options.data_dir = dir;
  options.server_name = "localhost";
  auto e = Engine::Open(options);
  EXPECT_TRUE(e.ok()) << e.status().ToString();
  return e.ok() ? std::move(e).value() : nullptr;
}

Result<AppendedEvent> Say(Engine& e, const std::string& room, const std::string& body) {
  SendEventRequest r;
  r.room_id = room;
  r.sender = kAlice;
  r.type = "m.room.message";
  r.content = json::object{{"msgtype", "m.text"}, {"body", body}};
  return e.SendEvent(std::move(r));
}

std::vector<std::string> Bodies(Engine& e, const std::string& room) {
  std::vector<std::string> bodies;
  Status s = e.ScanRoom(room, 1, UINT64_MAX, SIZE_MAX, [&](const storage::EventView& v) {
    if (v.type == "m.room.message") {
      auto event = e.GetEvent(v.event_id);
      EXPECT_TRUE(event.ok());
      if (event.ok()) {
        json::value parsed = json::parse(event->json);
        bodies.emplace_back(parsed.at("content").at("body").as_string());
      }
    }
    return true;
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return bodies;
}

std::string NewRoom(Engine& e) {
  auto room = e.CreateRoom(rooms::CreateRoomRequest{}, kAlice);
  EXPECT_TRUE(room.ok()) << room.status().ToString();
  return room.ok() ? room->room_id : "";
}

TEST(StorageFailureTest, AFailedApplyWriteStopsWritesButNotReads) {
  testing::TempDir dir;
  std::string room;
  {
    auto e = OpenEngineForFailure(dir.path());
    room = NewRoom(*e);
    ASSERT_TRUE(Say(*e, room, "before").ok());
    e->store().SetWriteFaultForTesting(
        [](bool) { return Status::IoError("injected: EIO on the state DB"); });
    Result<AppendedEvent> failed = Say(*e, room, "committed, not applied");
    ASSERT_FALSE(failed.ok());
    EXPECT_EQ(failed.status().code(), StatusCode::kUnavailable);
    EXPECT_NE(failed.status().message().find("writes stopped"), std::string::npos);
    EXPECT_NE(failed.status().message().find("injected: EIO"), std::string::npos);
    Status health = e->WriteStatus();
    EXPECT_EQ(health.code(), StatusCode::kUnavailable);
    EXPECT_NE(health.message().find("injected: EIO"), std::string::npos);

    // Fatal for writes until a restart, even when the disk works again.
    e->store().SetWriteFaultForTesting(nullptr);
    Result<AppendedEvent> refused = Say(*e, room, "refused");
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable);
    EXPECT_EQ(e->Submit(Command{CommandKind::kNoop, ""}).status().code(),
              StatusCode::kUnavailable);
    // Reads go on.
    EXPECT_EQ(Bodies(*e, room), std::vector<std::string>{"before"});
    EXPECT_TRUE(e->CurrentState(room).ok());
  }
  // The restart re-applies the committed command; writes work again.
  auto e = OpenEngineForFailure(dir.path());
  EXPECT_TRUE(e->WriteStatus().ok());
  ASSERT_TRUE(Say(*e, room, "after").ok());
  EXPECT_EQ(Bodies(*e, room),
            (std::vector<std::string>{"before", "committed, not applied", "after"}));
}

TEST(StorageFailureTest, AFailedCommitLogAppendRefusesTheWriteAndTheNextOneSucceeds) {
  testing::TempDir dir;
  auto e = OpenEngineForFailure(dir.path());
  std::string room = NewRoom(*e);
  e->commit_log_store().SetWriteFaultForTesting(
      [](bool) { return Status::NoSpace("disk full: injected ENOSPC"); });
  Result<AppendedEvent> full = Say(*e, room, "disk full");
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.status().code(), StatusCode::kNoSpace);
  e->commit_log_store().SetWriteFaultForTesting(
      [](bool) { return Status::IoError("injected: EIO on the commit log"); });
  Result<AppendedEvent> eio = Say(*e, room, "eio");
  ASSERT_FALSE(eio.ok());
  EXPECT_EQ(eio.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(eio.status().message().find("nothing was committed"), std::string::npos);
  // Not fatal: nothing was committed, so nothing diverges.
  EXPECT_TRUE(e->WriteStatus().ok());
  e->commit_log_store().SetWriteFaultForTesting(nullptr);
  ASSERT_TRUE(Say(*e, room, "space is back").ok());
  EXPECT_EQ(Bodies(*e, room), std::vector<std::string>{"space is back"});
  e.reset();
  e = OpenEngineForFailure(dir.path());
  EXPECT_EQ(Bodies(*e, room), std::vector<std::string>{"space is back"});
}

TEST(StorageFailureTest, UnderTheFreeSpaceFloorWritesAreRefusedWithNoSpace) {
  testing::TempDir dir;
  EngineOptions options;
  options.commit.disk_free_bytes_min = uint64_t{1} << 62;  // no disk has that much free
  auto e = OpenEngineForFailure(dir.path(), options);
  ApplyOutcome refused = e->Submit(Command{CommandKind::kNoop, ""});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kNoSpace);
  EXPECT_NE(refused.status().message().find("disk full"), std::string::npos);
  EXPECT_EQ(e->WriteStatus().code(), StatusCode::kNoSpace);
}

TEST(StorageFailureTest, ACommandOverTheLogLimitIsRefusedAndNeverWritten) {
  testing::TempDir dir;
  std::string room;
  {
    auto e = OpenEngineForFailure(dir.path());
    room = NewRoom(*e);
    ApplyOutcome big = e->Submit(Command{CommandKind::kNoop, std::string(kCommandBytesMax + 1, 'x')});
    ASSERT_FALSE(big.ok());
    EXPECT_EQ(big.status().code(), StatusCode::kTooLarge);
    // A createRoom whose initial state adds up to more than the log takes.
    rooms::CreateRoomRequest request;
    for (int i = 0; i < 8; ++i) {
      rooms::EventDraft state;
      state.type = "org.example.big";
      state.state_key = std::to_string(i);
      state.content = json::object{{"blob", std::string(60'000, 'a' + i)}};
      request.initial_state.push_back(std::move(state));
    }
    auto created = e->CreateRoom(request, kAlice);
    ASSERT_FALSE(created.ok());
    EXPECT_EQ(created.status().code(), StatusCode::kTooLarge);
    ASSERT_TRUE(Say(*e, room, "still writable").ok());
  }
  auto e = OpenEngineForFailure(dir.path());  // replays cleanly: nothing oversized was committed
  EXPECT_EQ(Bodies(*e, room), std::vector<std::string>{"still writable"});
}

TEST(StorageFailureTest, ANewDataDirectoryIsPrivate) {
  testing::TempDir dir;
  const std::string data = dir.path() + "/parent/data";
  auto e = OpenEngineForFailure(data);
  struct stat st {};
  ASSERT_EQ(::stat(data.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

}  // namespace
}  // namespace nebu::core
