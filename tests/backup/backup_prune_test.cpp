// Retention (app/backup_prune.h) in both destinations — a directory and S3 (a real
// s3rver behind its SigV4-checking proxy; those cases skip with a message without node
// or s3rver): with NEBU_BACKUP_KEEP-like `keep` the index names exactly the newest
// `keep`, the dropped manifests are gone, the objects left are exactly those the kept
// manifests name, and every kept backup still verifies; a backup still being written
// elsewhere (its pending marker) keeps its parent and defers the object collection; a
// crashed backup's stale marker is removed and holds nothing back.
#include <gtest/gtest.h>

#include <chrono>
#include <set>

#include "app/backup_create.h"
#include "app/backup_prune.h"
#include "app/backup_restore.h"
#include "engine/core/engine.h"
#include "engine/testing/temp_dir.h"
#include "tests/media/s3rver_process.h"

namespace nebu::app {
namespace {

using media_testing::S3rverProcess;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class BackupPruneTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string dest = dest_.path() + "/backups";
    media::S3Config config;
    if (GetParam() == "s3") {
      if (auto missing = S3rverProcess::Missing()) GTEST_SKIP() << *missing;
      s3_ = std::make_unique<S3rverProcess>(dest_.path() + "/s3rver");
      ASSERT_TRUE(s3_->Start()) << s3_->Log();
      config = {.endpoint = s3_->Endpoint(),
                .bucket = "ignored",
                .access_key_id = S3rverProcess::kAccessKeyId,
                .secret_access_key = S3rverProcess::kSecret};
      dest = std::string("s3://") + S3rverProcess::kBucket + "/backups/node1";
    }
    auto target = OpenBackupTarget(dest, config);
    ASSERT_TRUE(target.ok()) << target.status().ToString();
    target_ = std::move(*target);
    auto engine = core::Engine::Open({.data_dir = data_.path()});
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    engine_ = std::move(*engine);
    auto room = engine_->CreateRoom({}, "@alice:localhost");
    ASSERT_TRUE(room.ok());
    room_ = room->room_id;
  }

  void Send(int count) {
    for (int i = 0; i < count; ++i) {
      auto sent = engine_->SendEvent({.room_id = room_, .sender = "@alice:localhost",
                                      .type = "m.room.message",
                                      .content = {{"body", "m" + std::to_string(sent_++)}}});
      ASSERT_TRUE(sent.ok()) << sent.status().ToString();
    }
  }

  BackupSummary Backup(size_t keep) {
    auto s = CreateBackup(*engine_, *target_,
                          {.data_dir = data_.path(), .nebu_version = "test", .keep = keep}, nullptr);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? *s : BackupSummary{};
  }

  std::vector<std::string> Index() {
    auto ids = ListBackups(*target_);
    EXPECT_TRUE(ids.ok()) << ids.status().ToString();
    return ids.ok() ? *ids : std::vector<std::string>{};
  }

  // The objects stored, and those the given backups' manifests name.
  std::set<std::string> Stored() {
    auto objects = target_->ListObjects();
    EXPECT_TRUE(objects.ok()) << objects.status().ToString();
    return objects.ok() ? std::set<std::string>(objects->begin(), objects->end())
                        : std::set<std::string>{};
  }
  std::set<std::string> Named(const std::vector<std::string>& ids) {
    std::set<std::string> named;
    for (const std::string& id : ids) {
      auto m = LoadManifest(*target_, id);
      EXPECT_TRUE(m.ok()) << id << ": " << m.status().ToString();
      if (m.ok()) {
        for (const BackupFile& f : m->files) named.insert(f.sha256);
      }
    }
    return named;
  }
  bool HasManifest(const std::string& id) {
    auto text = target_->Read(ManifestName(id));
    EXPECT_TRUE(text.ok());
    return text.ok() && text->has_value();
  }

  testing::TempDir data_, dest_, scratch_;
  std::unique_ptr<S3rverProcess> s3_;
  std::unique_ptr<BackupTarget> target_;
  std::unique_ptr<core::Engine> engine_;
  std::string room_;
  int sent_ = 0;
};

TEST_P(BackupPruneTest, KeepsExactlyTheNewestAndTheObjectsTheyName) {
  constexpr size_t kKeep = 2;
  std::vector<std::string> made;
  for (int round = 0; round < 4; ++round) {
    Send(150);
    BackupSummary s = Backup(kKeep);
    made.push_back(s.manifest.id);
    const size_t expected = std::min(made.size(), kKeep);
    EXPECT_EQ(s.backups_removed, round < 2 ? 0u : 1u) << round;
    EXPECT_EQ(Index(), std::vector<std::string>(made.end() - static_cast<ptrdiff_t>(expected),
                                                made.end()));
  }
  EXPECT_FALSE(HasManifest(made[0]));
  EXPECT_FALSE(HasManifest(made[1]));
  EXPECT_TRUE(HasManifest(made[3]));
  // Exactly the named objects remain (the dropped backups' own objects were removed).
  EXPECT_EQ(Stored(), Named(Index()));
  for (const std::string& id : Index()) {
    auto report = VerifyBackup(*target_, id, scratch_.path());
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    EXPECT_TRUE(report->problems.empty()) << id << ": " << report->problems.front();
  }
  auto listed = target_->List("pending");
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->empty());  // every finished backup removed its marker
}

TEST_P(BackupPruneTest, ABackupBeingWrittenKeepsItsParentAndItsObjects) {
  Send(100);
  const std::string first = Backup(0).manifest.id;
  Send(100);
  const std::string second = Backup(0).manifest.id;
  // Another writer started a backup incremental against `first` and uploaded an
  // object its manifest will name; it has not finished.
  const std::string orphan(64, 'a');
  ASSERT_TRUE(target_->Write(ObjectName(orphan), "not yet named").ok());
  ASSERT_TRUE(MarkPending(*target_, {.id = "20261206T000000Z-other", .previous = first,
                                     .started_ms = NowMs()}).ok());
  Send(100);
  BackupSummary third = Backup(1);
  EXPECT_EQ(Index(), (std::vector<std::string>{first, third.manifest.id}));  // second dropped
  EXPECT_FALSE(HasManifest(second));
  EXPECT_EQ(third.objects_removed, 0u);  // deferred while the other backup writes
  EXPECT_TRUE(Stored().contains(orphan));
  EXPECT_TRUE(HasManifest(first));
  // The other backup crashed long ago: its marker goes, and nothing is held back.
  ASSERT_TRUE(MarkPending(*target_, {.id = "20261206T000000Z-other", .previous = first,
                                     .started_ms = NowMs() - kBackupPendingStaleMs - 1}).ok());
  Send(100);
  BackupSummary fourth = Backup(1);
  EXPECT_EQ(Index(), std::vector<std::string>{fourth.manifest.id});
  EXPECT_GT(fourth.objects_removed, 0u);
  EXPECT_FALSE(Stored().contains(orphan));
  EXPECT_EQ(Stored(), Named(Index()));
  auto listed = target_->List("pending");
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->empty());
}

INSTANTIATE_TEST_SUITE_P(Destinations, BackupPruneTest, ::testing::Values("dir", "s3"),
                         [](const auto& param_info) { return param_info.param; });

}  // namespace
}  // namespace nebu::app
