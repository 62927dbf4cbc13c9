// The backup schedule end to end with the real binary: `nebu` runs with
// NEBU_BACKUP_DIR (a directory, or s3:// into a real s3rver behind its SigV4-checking
// proxy; skipped with a message without node or s3rver), NEBU_BACKUP_INTERVAL=1s and
// NEBU_BACKUP_KEEP=2 while a client keeps sending; once it has made at least KEEP + 1
// backups (its nebu_backups_total) it is stopped, and then exactly KEEP backups remain
// (index, manifests, and no object that no kept backup names), each passes `nebu backup
// verify`, and the newest restores (`nebu backup restore`) into a node that serves every
// event acknowledged before that backup started, with the same IDs.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <set>

#include "app/backup_create.h"
#include "app/backup_target.h"
#include "app/config.h"
#include "tests/media/s3rver_process.h"
#include "tests/security/nebu_process.h"

namespace nebu::security {
namespace {

using media_testing::S3rverProcess;

constexpr size_t kKeep = 2;
constexpr int kScheduleWaitMsMax = 120'000;  // for KEEP + 1 scheduled backups
constexpr int kSendsMax = 20'000;            // bound of the sending loop

int64_t ScheduleNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class BackupScheduleTest : public SecurityTest, public ::testing::WithParamInterface<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "s3") {
      if (auto missing = S3rverProcess::Missing()) GTEST_SKIP() << *missing;
      s3_ = std::make_unique<S3rverProcess>(dir_.path() + "/s3rver");
      ASSERT_TRUE(s3_->Start()) << s3_->Log();
      const std::string secret_file = dir_.path() + "/s3.secret";
      std::ofstream(secret_file) << S3rverProcess::kSecret;
      s3_env_ = {{"NEBU_S3_ENDPOINT", s3_->Endpoint()},
                 {"NEBU_S3_BUCKET", S3rverProcess::kBucket},
                 {"NEBU_S3_ACCESS_KEY_ID", S3rverProcess::kAccessKeyId},
                 {"NEBU_S3_SECRET_ACCESS_KEY_FILE", secret_file}};
      dest_ = std::string("s3://") + S3rverProcess::kBucket + "/scheduled/node1";
      s3_config_ = {.endpoint = s3_->Endpoint(),
                    .bucket = S3rverProcess::kBucket,
                    .access_key_id = S3rverProcess::kAccessKeyId,
                    .secret_access_key = S3rverProcess::kSecret};
    } else {
      dest_ = dir_.path() + "/backups";
    }
  }

  // Runs `nebu <args>` (with the S3 settings when the destination is S3); its exit code
  // and output.
  int RunNebu(const std::string& args, std::string* output) {
    const std::string out = dir_.path() + "/cli.out";
    std::string command;
    for (const auto& [name, value] : s3_env_) command += name + "=" + value + " ";
    command += "NEBU_DATA_DIR=" + dir_.path() + "/cli NEBU_LOG_LEVEL=warn " NEBU_BINARY " " +
               args + " > " + out + " 2>&1";
    int status = std::system(command.c_str());
    std::ifstream in(out);
    output->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  // nebu_backups_total from /metrics (-1 when absent).
  int64_t BackupsMade() {
    HttpReply r = Ops("/metrics");
    const std::string name = "\nnebu_backups_total ";
    size_t at = r.body.find(name);
    if (r.status != 200 || at == std::string::npos) return -1;
    return std::atoll(r.body.c_str() + at + name.size());
  }

  std::string dest_;
  Env s3_env_;
  media::S3Config s3_config_;
  std::unique_ptr<S3rverProcess> s3_;
};

TEST_P(BackupScheduleTest, KeepsExactlyKeepBackupsThatVerifyAndTheNewestRestores) {
  Env env = s3_env_;
  env["NEBU_BACKUP_DIR"] = dest_;
  env["NEBU_BACKUP_INTERVAL"] = "1s";
  env["NEBU_BACKUP_KEEP"] = std::to_string(kKeep);
  Start(env);
  const std::string alice = Register("alice");
  const std::string room = CreateRoom(alice);
  // Every acknowledged event with the Unix ms at which its 200 arrived.
  std::vector<std::pair<int64_t, std::string>> acked;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(kScheduleWaitMsMax);
  int64_t made = 0;
  for (int i = 0; i < kSendsMax && std::chrono::steady_clock::now() < deadline; ++i) {
    std::string id = Send(alice, room, "scheduled " + std::to_string(i));
    ASSERT_FALSE(id.empty());
    acked.emplace_back(ScheduleNowMs(), id);
    if (i % 10 == 0 && (made = BackupsMade()) >= static_cast<int64_t>(kKeep) + 1) break;
  }
  ASSERT_GE(made, static_cast<int64_t>(kKeep) + 1) << "within " << kScheduleWaitMsMax << " ms";
  EXPECT_EQ(nebu_.Kill(SIGTERM), 0);  // waits for a backup still running

  auto target = app::OpenBackupTarget(dest_, s3_config_);
  ASSERT_TRUE(target.ok()) << target.status().ToString();
  auto ids = app::ListBackups(**target);
  ASSERT_TRUE(ids.ok()) << ids.status().ToString();
  ASSERT_EQ(ids->size(), kKeep);
  auto manifests = (*target)->List("manifests");
  ASSERT_TRUE(manifests.ok());
  EXPECT_EQ(manifests->size(), kKeep);  // the dropped backups' manifests are gone
  std::set<std::string> named;
  for (const std::string& id : *ids) {
    auto m = app::LoadManifest(**target, id);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    for (const app::BackupFile& f : m->files) named.insert(f.sha256);
    std::string output;
    ASSERT_EQ(RunNebu("backup verify " + dest_ + " --id " + id, &output), 0) << output;
    EXPECT_NE(output.find(", 0 problems"), std::string::npos) << output;
  }
  auto objects = (*target)->ListObjects();
  ASSERT_TRUE(objects.ok());
  EXPECT_EQ(std::set<std::string>(objects->begin(), objects->end()), named);

  auto newest = app::LoadManifest(**target, "");
  ASSERT_TRUE(newest.ok());
  EXPECT_EQ(newest->id, ids->back());
  const std::string restored_dir = dir_.path() + "/restored";
  std::string output;
  ASSERT_EQ(RunNebu("backup restore " + dest_ + " --data-dir " + restored_dir, &output), 0)
      << output;
  NebuProcess restored;
  ASSERT_TRUE(restored.Start(restored_dir)) << restored.Log();
  size_t checked = 0;
  for (const auto& [at_ms, id] : acked) {
    if (at_ms >= newest->created_ms) break;  // acknowledged after the backup started
    TestHttpClient client(restored.client_port());
    std::string_view bearer = alice;
    HttpReply r = client.Call("GET", std::string(kV3) + "/rooms/" + Encode(room) + "/event/" +
                                         Encode(id), "", bearer);
    ASSERT_EQ(r.status, 200) << id << " " << r.body;
    EXPECT_EQ(r.Json().at("event_id").as_string(), id);
    ++checked;
  }
  EXPECT_GT(checked, 0u);
  std::printf("%zu events acknowledged, %zu before the newest backup %s\n", acked.size(), checked,
              newest->id.c_str());
}

TEST(BackupScheduleConfigTest, TheIntervalIsOneSecondToAYear) {
  for (const auto& [text, ms] : std::vector<std::pair<std::string, int64_t>>{
           {"1s", 1'000}, {"90s", 90'000}, {"24h", 86'400'000}, {"365d", 365LL * 86'400'000}}) {
    auto config = app::LoadConfig({{"NEBU_BACKUP_INTERVAL", text}});
    ASSERT_TRUE(config.ok()) << text << ": " << config.status().ToString();
    EXPECT_EQ(config->backup_interval_ms, ms) << text;
  }
  for (const char* text : {"0s", "500ms", "366d", "1", "s", "-1s", "1.5s"}) {
    auto config = app::LoadConfig({{"NEBU_BACKUP_INTERVAL", text}});
    ASSERT_FALSE(config.ok()) << text;
    EXPECT_NE(config.status().message().find("NEBU_BACKUP_INTERVAL"), std::string::npos)
        << config.status().ToString();
  }
}

INSTANTIATE_TEST_SUITE_P(Destinations, BackupScheduleTest, ::testing::Values("dir", "s3"),
                         [](const auto& param_info) { return param_info.param; });

}  // namespace
}  // namespace nebu::security
