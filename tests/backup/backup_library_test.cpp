// Backups in process (app/backup_create.h, app/backup_restore.h): a backup of a live
// engine restores to the same state, a second backup reuses the unchanged table files,
// retention removes what no backup names, verify finds damaged objects, and restore
// refuses a non-empty directory.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "app/backup_create.h"
#include "app/backup_restore.h"
#include "engine/core/engine.h"
#include "engine/core/state_digest.h"
#include "engine/storage/checkpoint.h"
#include "engine/testing/temp_dir.h"

namespace nebu::app {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kAlice = "@alice:localhost";

std::string Send(core::Engine& engine, const std::string& room, int i) {
  core::SendEventRequest request{.room_id = room, .sender = std::string(kAlice), .type = "m.room.message"};
  request.content = {{"msgtype", "m.text"}, {"body", "message " + std::to_string(i)}};
  auto sent = engine.SendEvent(std::move(request));
  EXPECT_TRUE(sent.ok()) << sent.status().ToString();
  return sent.ok() ? sent->event_id : "";
}

class BackupLibraryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto engine = core::Engine::Open({.data_dir = data_.path()});
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    engine_ = std::move(*engine);
    auto room = engine_->CreateRoom({}, kAlice);
    ASSERT_TRUE(room.ok()) << room.status().ToString();
    room_ = room->room_id;
    auto target = OpenBackupTarget(dest_.path() + "/backups", {});
    ASSERT_TRUE(target.ok()) << target.status().ToString();
    target_ = std::move(*target);
  }

  Result<BackupSummary> Backup(size_t keep = 0) {
    return CreateBackup(*engine_, *target_,
                        {.data_dir = data_.path(), .nebu_version = "test", .keep = keep}, nullptr);
  }

  testing::TempDir data_, dest_, restored_;
  std::unique_ptr<core::Engine> engine_;
  std::unique_ptr<BackupTarget> target_;
  std::string room_;
};

TEST_F(BackupLibraryTest, ARestoredBackupHoldsExactlyTheBackedUpStateAndANewEpoch) {
  std::vector<std::string> ids;
  for (int i = 0; i < 300; ++i) ids.push_back(Send(*engine_, room_, i));
  auto backup = Backup();
  ASSERT_TRUE(backup.ok()) << backup.status().ToString();
  const BackupManifest& m = backup->manifest;
  EXPECT_EQ(m.stream_position, engine_->stream_position());
  EXPECT_EQ(m.applied_index, engine_->applied_index());
  EXPECT_GE(m.events, 300u);
  EXPECT_EQ(m.nebu_version, "test");
  EXPECT_EQ(m.server_name, "localhost");
  auto state = core::StateDigest(engine_->store());
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(m.state_digest, *state);  // nothing was written since the backup
  Send(*engine_, room_, 1000);        // after the backup point: not in it

  const std::string dir = restored_.path() + "/data";
  auto restored = RestoreBackup(*target_, "", dir, {.now_ms = 1'765'000'000'000});
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(restored->sync_epoch, 1'765'000'000'000u);
  auto engine = core::Engine::Open({.data_dir = dir});
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  EXPECT_EQ((*engine)->stream_position(), m.stream_position);
  EXPECT_EQ((*engine)->applied_index(), m.applied_index);
  for (const std::string& id : ids) EXPECT_TRUE((*engine)->GetEvent(id).ok()) << id;
  auto epoch = storage::ReadSyncEpoch((*engine)->store());
  ASSERT_TRUE(epoch.ok());
  EXPECT_EQ(*epoch, 1'765'000'000'000u);
  // The restored node writes on from the backup point.
  auto sent = (*engine)->SendEvent({.room_id = room_, .sender = std::string(kAlice),
                                    .type = "m.room.message", .content = {{"body", "after"}}});
  EXPECT_TRUE(sent.ok()) << sent.status().ToString();

  // A directory that is not empty is refused and left alone.
  auto again = RestoreBackup(*target_, "", dir, {});
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists);
  EXPECT_TRUE(fs::exists(dir + "/db"));
}

TEST_F(BackupLibraryTest, ASecondBackupReusesUnchangedTableFiles) {
  for (int i = 0; i < 2000; ++i) Send(*engine_, room_, i);
  auto first = Backup();
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->files_reused, 0u);
  for (int i = 0; i < 20; ++i) Send(*engine_, room_, 5000 + i);
  auto second = Backup();
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->manifest.previous, first->manifest.id);
  EXPECT_GT(second->files_reused, 0u);
  EXPECT_LT(second->bytes_written, second->manifest.bytes());
  auto ids = ListBackups(*target_);
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(ids->size(), 2u);
  auto report = VerifyBackup(*target_, "", dest_.path());
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->problems.empty()) << report->problems.front();
  EXPECT_EQ(report->events_checked, second->manifest.events);
  // keep = 1: the first backup goes, with the objects only it named.
  auto third = Backup(/*keep=*/1);
  ASSERT_TRUE(third.ok()) << third.status().ToString();
  EXPECT_EQ(third->backups_removed, 2u);
  ids = ListBackups(*target_);
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, std::vector<std::string>{third->manifest.id});
  auto objects = target_->ListObjects();
  ASSERT_TRUE(objects.ok());
  std::set<std::string> named;
  for (const BackupFile& f : third->manifest.files) named.insert(f.sha256);
  EXPECT_EQ(std::set<std::string>(objects->begin(), objects->end()), named);
}

TEST_F(BackupLibraryTest, VerifyReportsADamagedObjectAndExits1Worthy) {
  for (int i = 0; i < 200; ++i) Send(*engine_, room_, i);
  auto backup = Backup();
  ASSERT_TRUE(backup.ok()) << backup.status().ToString();
  auto clean = VerifyBackup(*target_, "", dest_.path());
  ASSERT_TRUE(clean.ok());
  EXPECT_TRUE(clean->problems.empty()) << clean->problems.front();
  // Flip one byte of the largest file's object.
  const BackupFile* largest = &backup->manifest.files.front();
  for (const BackupFile& f : backup->manifest.files) {
    if (f.size > largest->size) largest = &f;
  }
  fs::path object = fs::path(dest_.path()) / "backups" / ObjectName(largest->sha256);
  {
    std::fstream io(object, std::ios::in | std::ios::out | std::ios::binary);
    io.seekp(static_cast<std::streamoff>(largest->size / 2));
    char c = 0;
    io.read(&c, 1);
    io.seekp(static_cast<std::streamoff>(largest->size / 2));
    c = static_cast<char>(c ^ 0x5a);
    io.write(&c, 1);
  }
  auto damaged = VerifyBackup(*target_, "", dest_.path());
  ASSERT_TRUE(damaged.ok());
  ASSERT_EQ(damaged->problems.size(), 1u);
  EXPECT_NE(damaged->problems[0].find(largest->path), std::string::npos) << damaged->problems[0];
  // A restore from it fails and leaves nothing behind.
  const std::string dir = restored_.path() + "/data";
  auto restored = RestoreBackup(*target_, "", dir, {});
  EXPECT_EQ(restored.status().code(), StatusCode::kCorruption);
  EXPECT_FALSE(fs::exists(dir));
}

TEST_F(BackupLibraryTest, ADestinationThatIsNotADirectoryOrS3IsRefused) {
  EXPECT_EQ(OpenBackupTarget("http://example.org/x", {}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenBackupTarget("s3://bucket/prefix", {}).status().code(),
            StatusCode::kInvalidArgument);  // no NEBU_S3_ENDPOINT
  EXPECT_EQ(OpenBackupTarget("s3://BAD_bucket", {.endpoint = "http://127.0.0.1:1"}).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace nebu::app
