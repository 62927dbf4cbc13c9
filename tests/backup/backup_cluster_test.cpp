// A cluster node rebuilt from a backup: node1 and node2 share an etcd log; node1 is
// backed up (`nebu backup create` through its ops listener), more events are written
// through node2, the backup is restored into a new data directory (it carries the
// cluster ID and keeps the sync-token epoch), and node3 started on it catches up from
// the shared log: every event, those after the backup included, is served there, and a
// /sync token handed out by node1 works on node3 as an incremental token.
// Skipped (with "etcd test skipped") without an etcd binary.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

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

constexpr std::string_view kSecret = "backup-cluster-secret-0123456789abcdef";
constexpr int kCatchUpMsMax = 30'000;

TEST(BackupClusterTest, ANodeRestoredFromABackupCatchesUpFromTheSharedLog) {
  if (!EtcdCluster::Available()) GTEST_SKIP() << "etcd test skipped: no " << EtcdCluster::Binary();
  nebu::testing::TempDir dir;
  EtcdCluster etcd(dir.path() + "/etcd", 1);
  ASSERT_TRUE(etcd.Start());
  auto env = [&](int n) { return ClusterNodeEnv(etcd.Endpoints(), "/nebu-backup-test", n, kSecret); };
  NebuProcess node1, node2, node3;
  ASSERT_TRUE(node1.Start(dir.path() + "/node1", env(1)));
  ASSERT_TRUE(node2.Start(dir.path() + "/node2", env(2)));
  HttpReply r = CallPort(node1.client_port(), "POST", "/register", "",
                         R"({"username":"alice","password":"password-alice","auth":{"type":"m.login.dummy"}})");
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string alice(r.Json().at("access_token").as_string());
  r = CallPort(node1.client_port(), "POST", "/createRoom", alice, R"({"preset":"public_chat"})");
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string room(r.Json().at("room_id").as_string());
  std::vector<std::string> ids;
  auto send = [&](NebuProcess& node, int i) {
    HttpReply sent = CallPort(node.client_port(), "PUT",
                              "/rooms/" + Enc(room) + "/send/m.room.message/c" + std::to_string(i),
                              alice, R"({"msgtype":"m.text","body":"x"})");
    ASSERT_EQ(sent.status, 200) << sent.body;
    ids.emplace_back(sent.Json().at("event_id").as_string());
  };
  for (int i = 0; i < 20; ++i) send(node1, i);
  r = CallPort(node1.client_port(), "GET", "/sync?timeout=0", alice);
  ASSERT_EQ(r.status, 200);
  const std::string token(r.Json().at("next_batch").as_string());

  const std::string dest = dir.path() + "/backups", out = dir.path() + "/cli.out";
  auto cli = [&](const std::string& data_dir, uint16_t ops, const std::string& args) {
    return RunNebuCli(data_dir, ops, args, out);
  };
  cli(dir.path() + "/node1", node1.ops_port(), "backup create " + dest);
  for (int i = 20; i < 40; ++i) send(node2, i);  // after the backup point
  cli(dir.path() + "/node3", 1, "backup restore " + dest + " --data-dir " + dir.path() + "/node3");
  ASSERT_TRUE(node3.Start(dir.path() + "/node3", env(3))) << node3.Log();

  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kCatchUpMsMax);
  size_t found = 0;
  while (found < ids.size() && std::chrono::steady_clock::now() < deadline) {
    HttpReply got = CallPort(node3.client_port(), "GET",
                             "/rooms/" + Enc(room) + "/event/" + Enc(ids[found]), alice);
    if (got.status == 200) {
      ++found;
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  EXPECT_EQ(found, ids.size()) << node3.Log();
  // node1's token: incremental on node3 (same history, same epoch): the 20 later events.
  r = CallPort(node3.client_port(), "GET", "/sync?timeout=0&since=" + token, alice);
  ASSERT_EQ(r.status, 200) << r.body;
  const json::value body = r.Json();
  EXPECT_EQ(std::string(body.at("next_batch").as_string()).find('e'), std::string::npos);
  const auto& timeline = body.at("rooms").at("join").at(room).at("timeline").at("events").as_array();
  for (const json::value& e : timeline) EXPECT_NE(e.at("type"), "m.room.create");
  EXPECT_FALSE(timeline.empty());
}

}  // namespace
}  // namespace nebu::security
