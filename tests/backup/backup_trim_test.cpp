// A cluster node restored from a backup that is older than the log's trim point
// (replication/cluster_node.h: P/trimmed). Three etcd members, node1 and node2; node1 is
// backed up, then enough is written that the lowest live node trims the log past the
// backup's revision. node3 restored from that backup cannot replay the log from there:
// it must catch up from a peer's checkpoint (app/cluster_join.h) and then serve every
// event, those after the backup included, and take writes; it replaces the state before
// serving anything (no stale reads). With no live peer to copy from, a node restored the
// same way exits 1 saying why, keeps the restored state aside, and joins at its next
// start once a peer is live.
// Skipped (with "etcd test skipped") without an etcd binary.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "app/backup_create.h"
#include "app/backup_target.h"
#include "replication/etcd_client.h"
#include "tests/backup/cluster_backup_util.h"
#include "tests/cluster/etcd_process.h"
#include "tests/security/nebu_process.h"

namespace nebu::security {
namespace {

using backup_testing::CallPort;
using backup_testing::ClusterNodeEnv;
using backup_testing::Enc;
using backup_testing::RunNebuCli;

using cluster_testing::EtcdCluster;

constexpr std::string_view kTrimSecret = "backup-trim-secret-0123456789abcdef01";
constexpr std::string_view kPrefix = "/nebu-trim-test";
constexpr int kTrimWaitMsMax = 120'000;   // writes until the trim passes the backup
constexpr int kTrimSendsMax = 5'000;      // bound of those writes
constexpr int kTrimCatchUpMsMax = 90'000;  // node3 serving every event

// P/trimmed (0 when absent or unreadable).
uint64_t TrimPoint(replication::EtcdClient& etcd) {
  auto got = etcd.Range(std::string(kPrefix) + "/trimmed", {});
  if (!got.ok() || got->kvs.empty()) return 0;
  return std::strtoull(got->kvs.front().value.c_str(), nullptr, 10);
}

TEST(BackupTrimTest, ANodeRestoredFromABackupOlderThanTheTrimPointJoinsByAPeersCheckpoint) {
  if (!EtcdCluster::Available()) GTEST_SKIP() << "etcd test skipped: no " << EtcdCluster::Binary();
  nebu::testing::TempDir dir;
  EtcdCluster etcd(dir.path() + "/etcd", 3);
  ASSERT_TRUE(etcd.Start());
  auto client = replication::EtcdClient::Create({.endpoints = {etcd.Endpoint(0)}});
  ASSERT_TRUE(client.ok());
  auto env = [&](int n) { return ClusterNodeEnv(etcd.Endpoints(), kPrefix, n, kTrimSecret); };
  NebuProcess node1, node2, node3;
  ASSERT_TRUE(node1.Start(dir.path() + "/node1", env(1)));
  ASSERT_TRUE(node2.Start(dir.path() + "/node2", env(2)));
  HttpReply r = CallPort(node1.client_port(), "POST", "/register", "",
                         R"({"username":"alice","password":"password-alice","auth":{"type":"m.login.dummy"}})");
  ASSERT_EQ(r.status, 200) << r.body << node1.Log();
  const std::string alice(r.Json().at("access_token").as_string());
  r = CallPort(node1.client_port(), "POST", "/createRoom", alice, R"({"preset":"public_chat"})");
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string room(r.Json().at("room_id").as_string());
  std::vector<std::string> ids;
  auto send = [&](NebuProcess& node, int i) {
    HttpReply sent = CallPort(node.client_port(), "PUT",
                              "/rooms/" + Enc(room) + "/send/m.room.message/t" + std::to_string(i),
                              alice, R"({"msgtype":"m.text","body":"x"})");
    ASSERT_EQ(sent.status, 200) << sent.body;
    ids.emplace_back(sent.Json().at("event_id").as_string());
  };
  for (int i = 0; i < 20; ++i) send(node1, i);

  const std::string dest = dir.path() + "/backups", out = dir.path() + "/cli.out";
  auto cli = [&](const std::string& data_dir, uint16_t ops, const std::string& args) {
    return RunNebuCli(data_dir, ops, args, out);
  };
  cli(dir.path() + "/node1", node1.ops_port(), "backup create " + dest);
  auto target = app::OpenBackupTarget(dest, {});
  ASSERT_TRUE(target.ok());
  auto manifest = app::LoadManifest(**target, "");
  ASSERT_TRUE(manifest.ok()) << manifest.status().ToString();
  const uint64_t backed_up = manifest->group_revision;
  ASSERT_GT(backed_up, 0u);

  // Writes through both nodes until the log is trimmed past the backup.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kTrimWaitMsMax);
  uint64_t trimmed = 0;
  for (int i = 20; i < kTrimSendsMax && std::chrono::steady_clock::now() < deadline; ++i) {
    send(i % 2 ? node2 : node1, i);
    if (::testing::Test::HasFatalFailure()) return;
    if (i % 25 == 0 && (trimmed = TrimPoint(**client)) > backed_up) break;
  }
  ASSERT_GT(trimmed, backed_up) << "the log was not trimmed past the backup's revision "
                                << backed_up << " within " << kTrimWaitMsMax << " ms";
  std::printf("backup at revision %llu, trim point %llu, %zu events\n",
              static_cast<unsigned long long>(backed_up), static_cast<unsigned long long>(trimmed),
              ids.size());

  const std::string restored =
      cli(dir.path() + "/node3", 1, "backup restore " + dest + " --data-dir " + dir.path() + "/node3");
  EXPECT_NE(restored.find("copies a live peer's checkpoint"), std::string::npos) << restored;
  ASSERT_TRUE(node3.Start(dir.path() + "/node3", env(3))) << node3.Log();
  auto caught_up = std::chrono::steady_clock::now() + std::chrono::milliseconds(kTrimCatchUpMsMax);
  size_t found = 0;
  while (found < ids.size() && std::chrono::steady_clock::now() < caught_up) {
    HttpReply got = CallPort(node3.client_port(), "GET",
                             "/rooms/" + Enc(room) + "/event/" + Enc(ids[found]), alice);
    if (got.status == 200) {
      ++found;
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  EXPECT_EQ(found, ids.size()) << node3.Log();
  EXPECT_TRUE(node3.Running()) << node3.Log();
  // Replaced before anything was served, not after falling behind while serving.
  EXPECT_NE(node3.Log().find("cannot catch up from the log"), std::string::npos) << node3.Log();
  EXPECT_EQ(node3.Log().find("fell behind"), std::string::npos) << node3.Log();
  // It takes writes, and node1 serves them.
  HttpReply sent = CallPort(node3.client_port(), "PUT",
                            "/rooms/" + Enc(room) + "/send/m.room.message/node3", alice,
                            R"({"msgtype":"m.text","body":"from node3"})");
  ASSERT_EQ(sent.status, 200) << sent.body << node3.Log();
  ids.emplace_back(sent.Json().at("event_id").as_string());

  // No live peer to copy from: node4, restored from the same backup, exits 1 saying
  // why, keeps the restored state aside (db.stale-*), and joins once a peer is back.
  node3.Kill(SIGTERM);
  node2.Kill(SIGTERM);
  node1.Kill(SIGTERM);
  const std::string node4_dir = dir.path() + "/node4";
  cli(node4_dir, 1, "backup restore " + dest + " --data-dir " + node4_dir);
  NebuProcess node4;
  ASSERT_TRUE(node4.StartRefused(node4_dir, env(4))) << node4.Log();
  EXPECT_NE(node4.Log().find("cannot catch up from the log"), std::string::npos) << node4.Log();
  EXPECT_NE(node4.Log().find("cannot join by checkpoint"), std::string::npos) << node4.Log();
  EXPECT_FALSE(std::filesystem::exists(node4_dir + "/db"));
  bool kept_aside = false;
  for (const auto& entry : std::filesystem::directory_iterator(node4_dir)) {
    if (entry.path().filename().string().starts_with("db.stale-")) kept_aside = true;
  }
  EXPECT_TRUE(kept_aside);
  ASSERT_TRUE(node1.Start(dir.path() + "/node1", env(1)));
  ASSERT_TRUE(node4.Start(node4_dir, env(4))) << node4.Log();
  caught_up = std::chrono::steady_clock::now() + std::chrono::milliseconds(kTrimCatchUpMsMax);
  found = 0;
  while (found < ids.size() && std::chrono::steady_clock::now() < caught_up) {
    HttpReply got = CallPort(node4.client_port(), "GET",
                             "/rooms/" + Enc(room) + "/event/" + Enc(ids[found]), alice);
    if (got.status == 200) {
      ++found;
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  EXPECT_EQ(found, ids.size()) << node4.Log();
}

}  // namespace
}  // namespace nebu::security
