// Backups into S3-compatible storage (app/backup_target.h): a backup into
// s3://nebu-media/<prefix> of a real s3rver (tests/media/s3rver, behind its SigV4-checking
// proxy), an incremental second one, verify, and a restore from it that holds the events.
// Skipped with a message when node or s3rver is not installed.
#include <gtest/gtest.h>

#include "app/backup_create.h"
#include "app/backup_restore.h"
#include "engine/core/engine.h"
#include "engine/testing/temp_dir.h"
#include "tests/media/s3rver_process.h"

namespace nebu::app {
namespace {

TEST(BackupS3Test, BackupVerifyAndRestoreThroughS3) {
  if (auto missing = media_testing::S3rverProcess::Missing()) GTEST_SKIP() << *missing;
  testing::TempDir s3dir, data, restored;
  media_testing::S3rverProcess s3(s3dir.path());
  ASSERT_TRUE(s3.Start()) << s3.Log();
  media::S3Config config{.endpoint = s3.Endpoint(),
                         .bucket = "ignored",  // the URL names the bucket
                         .access_key_id = media_testing::S3rverProcess::kAccessKeyId,
                         .secret_access_key = media_testing::S3rverProcess::kSecret};
  auto target = OpenBackupTarget(std::string("s3://") + media_testing::S3rverProcess::kBucket +
                                     "/backups/node1", config);
  ASSERT_TRUE(target.ok()) << target.status().ToString();

  auto engine = core::Engine::Open({.data_dir = data.path()});
  ASSERT_TRUE(engine.ok());
  auto room = (*engine)->CreateRoom({}, "@alice:localhost");
  ASSERT_TRUE(room.ok());
  std::vector<std::string> ids;
  for (int i = 0; i < 300; ++i) {
    auto sent = (*engine)->SendEvent({.room_id = room->room_id, .sender = "@alice:localhost",
                                      .type = "m.room.message",
                                      .content = {{"body", "s3 " + std::to_string(i)}}});
    ASSERT_TRUE(sent.ok());
    ids.push_back(sent->event_id);
  }
  const BackupOptions options{.data_dir = data.path(), .nebu_version = "test", .keep = 1};
  auto first = CreateBackup(**engine, **target, options, nullptr);
  ASSERT_TRUE(first.ok()) << first.status().ToString() << "\n" << s3.Log();
  auto second = CreateBackup(**engine, **target, options, nullptr);  // keep 1: the first goes
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_GT(second->files_reused, 0u);
  EXPECT_LT(second->bytes_written, second->manifest.bytes());  // unchanged files not sent again
  auto listed = ListBackups(**target);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(*listed, std::vector<std::string>{second->manifest.id});
  EXPECT_EQ(second->backups_removed, 1u);

  auto report = VerifyBackup(**target, "", restored.path());
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->problems.empty()) << report->problems.front();
  auto done = RestoreBackup(**target, "", restored.path() + "/data", {});
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  engine->reset();
  auto back = core::Engine::Open({.data_dir = restored.path() + "/data"});
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  for (const std::string& id : ids) EXPECT_TRUE((*back)->GetEvent(id).ok()) << id;
}

}  // namespace
}  // namespace nebu::app
