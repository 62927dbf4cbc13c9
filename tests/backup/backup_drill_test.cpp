// The restore drill with the real binary: `nebu backup create` while a client keeps
// sending, `nebu backup verify`, `nebu backup restore` into a new directory, a node
// started there serves every event acknowledged before the backup was asked for, with
// the same IDs; a /sync token of the old history gets an initial sync there, and
// /messages with it answers from the newest event; restore refuses a non-empty
// directory; the ops endpoint refuses callers without the data directory's token.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <thread>

#include "tests/security/nebu_process.h"

namespace nebu::security {
namespace {

constexpr int kEventsBefore = 1500;       // acknowledged before the backup is asked for
constexpr int kSendsDuringMax = 20'000;   // bound of the concurrent sender
constexpr int kSendDuringSecondsMax = 120;

class BackupDrillTest : public SecurityTest {
 protected:
  // Runs `nebu <args>` with this node's data directory and ops address; its exit code
  // and output (stdout and stderr) in *output.
  int RunNebu(const std::string& args, std::string* output, const std::string& data_dir = "") {
    const std::string out = dir_.path() + "/cli.out";
    const std::string command =
        "NEBU_DATA_DIR=" + (data_dir.empty() ? DataDir() : data_dir) +
        " NEBU_OPS_ADDR=127.0.0.1:" + std::to_string(nebu_.ops_port()) +
        " NEBU_LOG_LEVEL=warn " NEBU_BINARY " " + args + " > " + out + " 2>&1";
    int status = std::system(command.c_str());
    std::ifstream in(out);
    output->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  std::string SendAs(const std::string& token, const std::string& room, const std::string& txn,
                     uint16_t port) {
    TestHttpClient client(port);
    if (!client.connected()) return "";
    std::string_view bearer = token;
    HttpReply r = client.Call("PUT",
                              std::string(kV3) + "/rooms/" + Encode(room) +
                                  "/send/m.room.message/" + txn,
                              json::serialize(json::object{{"msgtype", "m.text"}, {"body", txn}}),
                              bearer);
    return r.status == 200 ? std::string(r.Json().at("event_id").as_string()) : "";
  }
};

TEST_F(BackupDrillTest, BackupWhileSendingRestoresEveryAcknowledgedEventAndOldTokensResync) {
  Start();
  const std::string alice = Register("alice");
  const std::string room = CreateRoom(alice, {{"name", "drill"}});
  std::vector<std::string> before;
  for (int i = 0; i < kEventsBefore; ++i) before.push_back(Send(alice, room, "m" + std::to_string(i)));
  HttpReply sync = Call("GET", "/sync?timeout=0", alice);
  ASSERT_EQ(sync.status, 200);
  const std::string old_token(sync.Json().at("next_batch").as_string());

  // Sends go on while the backup runs.
  std::atomic<bool> stop{false};
  std::atomic<int> sent_during{0};
  std::thread sender([&] {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kSendDuringSecondsMax);
    for (int i = 0; i < kSendsDuringMax && !stop && std::chrono::steady_clock::now() < deadline; ++i) {
      if (!SendAs(alice, room, "during" + std::to_string(i), nebu_.client_port()).empty()) ++sent_during;
    }
  });
  std::string output;
  const std::string dest = dir_.path() + "/backups";
  int created = RunNebu("backup create " + dest, &output);
  stop = true;
  sender.join();
  ASSERT_EQ(created, 0) << output;
  EXPECT_NE(output.find("backup "), std::string::npos) << output;
  EXPECT_NE(output.find("100%"), std::string::npos) << output;  // the progress bar ended
  EXPECT_GT(sent_during.load(), 0);
  // Sends after the backup: not in it.
  for (int i = 0; i < 5; ++i) Send(alice, room, "after" + std::to_string(i));

  ASSERT_EQ(RunNebu("backup verify " + dest, &output), 0) << output;
  EXPECT_NE(output.find(", 0 problems"), std::string::npos) << output;
  ASSERT_EQ(RunNebu("backup list " + dest, &output), 0) << output;

  const std::string restored_dir = dir_.path() + "/restored";
  ASSERT_EQ(RunNebu("backup restore " + dest + " --data-dir " + restored_dir, &output), 0) << output;
  EXPECT_NE(output.find("nebu projection rebuild"), std::string::npos) << output;
  EXPECT_EQ(RunNebu("backup restore " + dest + " --data-dir " + restored_dir, &output), 1) << output;
  EXPECT_NE(output.find("not empty"), std::string::npos) << output;

  NebuProcess restored;
  ASSERT_TRUE(restored.Start(restored_dir, {{"NEBU_REGISTRATION", "open"}})) << restored.Log();
  for (const std::string& id : before) {
    TestHttpClient client(restored.client_port());
    std::string_view bearer = alice;
    HttpReply r = client.Call("GET", std::string(kV3) + "/rooms/" + Encode(room) + "/event/" + Encode(id),
                              "", bearer);
    ASSERT_EQ(r.status, 200) << id << " " << r.body;
    EXPECT_EQ(r.Json().at("event_id").as_string(), id);
  }
  // The old history's /sync token: an initial sync (the room with its state), and a
  // next_batch of the new epoch.
  {
    TestHttpClient client(restored.client_port());
    std::string_view bearer = alice;
    HttpReply r = client.Call("GET", std::string(kV3) + "/sync?timeout=0&since=" + old_token, "", bearer);
    ASSERT_EQ(r.status, 200) << r.body;
    json::value body = r.Json();
    const std::string next(body.at("next_batch").as_string());
    EXPECT_NE(next.find('e'), std::string::npos) << next;
    const json::object& joined = body.at("rooms").at("join").as_object();
    ASSERT_TRUE(joined.contains(room)) << r.body.substr(0, 500);
    bool has_create = false;
    for (const char* section : {"state", "timeline"}) {
      for (const json::value& e : joined.at(room).at(section).at("events").as_array()) {
        if (e.at("type") == "m.room.create") has_create = true;
      }
    }
    EXPECT_TRUE(has_create) << "not an initial sync: " << r.body.substr(0, 500);
    // The new epoch's token works incrementally.
    HttpReply again = client.Call("GET", std::string(kV3) + "/sync?timeout=0&since=" + next, "", bearer);
    EXPECT_EQ(again.status, 200) << again.body;
    // /messages from the old token: from the newest event back.
    HttpReply messages = client.Call(
        "GET", std::string(kV3) + "/rooms/" + Encode(room) + "/messages?dir=b&limit=5&from=" + old_token,
        "", bearer);
    ASSERT_EQ(messages.status, 200) << messages.body;
    EXPECT_EQ(ChunkEventIds(messages).size(), 5u);
  }
  // The restored node takes writes.
  EXPECT_FALSE(SendAs(alice, room, "restored-1", restored.client_port()).empty());
}

TEST_F(BackupDrillTest, TheOpsEndpointNeedsTheDataDirectorysToken) {
  Start();
  TestHttpClient none(nebu_.ops_port());
  HttpReply r = none.Call("POST", "/_nebu/backup", R"({"dest":"/tmp/x"})");
  EXPECT_EQ(r.status, 401) << r.body;
  TestHttpClient wrong(nebu_.ops_port());
  std::string_view bad = "0000";
  r = wrong.Call("POST", "/_nebu/backup", R"({"dest":"/tmp/x"})", bad);
  EXPECT_EQ(r.status, 403) << r.body;
  std::ifstream in(DataDir() + "/backup.token");
  std::string token;
  in >> token;
  ASSERT_EQ(token.size(), 64u);
  TestHttpClient relative(nebu_.ops_port());
  std::string_view bearer = token;
  r = relative.Call("POST", "/_nebu/backup", R"({"dest":"relative/dir"})", bearer);
  EXPECT_EQ(r.status, 400) << r.body;
  TestHttpClient status(nebu_.ops_port());
  r = status.Call("GET", "/_nebu/backup", "", bearer);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json().at("state"), "idle");
}

}  // namespace
}  // namespace nebu::security
