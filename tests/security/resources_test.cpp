// Goal: file descriptors and storage cannot be used to take the server down or to lose
// acknowledged writes (issue 7, item 7; item 9's private data directory).
// Method: the real nebu binary over HTTP on loopback (nebu_process.h). Idle
// connections are plain sockets that never send a byte, some bound to other loopback
// addresses (127.0.0.x) to stand for other peers; the full disk is a tmpfs mounted on
// the data directory (root only; skipped with a message otherwise); an fd-starved
// server gets a low RLIMIT_NOFILE through ChildFdLimit. Every loop is bounded in count
// and time.
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <cerrno>
#include <cstring>

#include "tests/security/nebu_process.h"

namespace nebu::security {
namespace {

constexpr size_t kConnectionsPerIpMax = 512;  // app/main.cpp
constexpr size_t kIdleConnections = 1100;
constexpr auto kWaitMax = std::chrono::seconds(10);

// A TCP connection from `source_ip` (a 127.0.0.0/8 address) to 127.0.0.1:port; -1 on
// failure. It sends nothing until told to.
int ConnectFrom(const char* source_ip, uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  timeval timeout{.tv_sec = 5, .tv_usec = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  ::inet_pton(AF_INET, source_ip, &local.sin_addr);
  sockaddr_in remote{};
  remote.sin_family = AF_INET;
  remote.sin_port = htons(port);
  remote.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&remote), sizeof remote) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// GET `target` with Connection: close from `source_ip`; status 0 if the connection
// closed (or timed out) without an answer.
HttpReply GetFrom(const char* source_ip, uint16_t port, const std::string& target) {
  HttpReply reply;
  int fd = ConnectFrom(source_ip, port);
  if (fd < 0) return reply;
  std::string request = "GET " + target + " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    ::close(fd);
    return reply;
  }
  std::string text;
  char chunk[4096];
  for (ssize_t n; (n = ::recv(fd, chunk, sizeof chunk, 0)) > 0;) {
    text.append(chunk, static_cast<size_t>(n));
  }
  ::close(fd);
  size_t end = text.find("\r\n\r\n");
  if (text.size() < 12 || end == std::string::npos) return reply;
  reply.status = std::stoi(text.substr(9, 3));
  reply.head = text.substr(0, end + 2);
  reply.body = text.substr(end + 4);
  return reply;
}

// Sockets that stay open and silent until destroyed.
class IdleConnections {
 public:
  ~IdleConnections() { CloseAll(); }
  // Opens `count` from `source_ip`; how many connected.
  size_t Open(const char* source_ip, uint16_t port, size_t count) {
    size_t opened = 0;
    for (size_t i = 0; i < count; ++i) {
      int fd = ConnectFrom(source_ip, port);
      if (fd < 0) continue;
      fds_.push_back(fd);
      ++opened;
    }
    return opened;
  }
  // How many got an answer or were closed by the server (refused): readable at once.
  size_t Refused() const {
    size_t refused = 0;
    for (int fd : fds_) {
      char byte;
      ssize_t n = ::recv(fd, &byte, 1, MSG_DONTWAIT | MSG_PEEK);
      if (n >= 0) ++refused;  // bytes (a 503) or EOF
    }
    return refused;
  }
  // The answer on the first refused connection (status 0 if it was closed without one).
  HttpReply FirstRefusal() const {
    HttpReply reply;
    for (int fd : fds_) {
      char byte;
      if (::recv(fd, &byte, 1, MSG_DONTWAIT | MSG_PEEK) < 0) continue;
      std::string text;
      char chunk[4096];
      for (ssize_t n; (n = ::recv(fd, chunk, sizeof chunk, 0)) > 0;) {
        text.append(chunk, static_cast<size_t>(n));
      }
      size_t end = text.find("\r\n\r\n");
      if (text.size() >= 12 && end != std::string::npos) {
        reply.status = std::stoi(text.substr(9, 3));
        reply.body = text.substr(end + 4);
      }
      return reply;
    }
    return reply;
  }
  void CloseAll() {
    for (int fd : fds_) ::close(fd);
    fds_.clear();
  }

 private:
  std::vector<int> fds_;
};

// Repeats `probe` until it returns true or kWaitMax passes.
template <typename Probe>
bool Eventually(Probe probe) {
  auto deadline = std::chrono::steady_clock::now() + kWaitMax;
  while (std::chrono::steady_clock::now() < deadline) {
    if (probe()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

class ResourcesTest : public SecurityTest {
 protected:
  void SetUp() override {
    ASSERT_GE(RaiseOwnFdLimit(), kIdleConnections + 256) << "the test needs more file descriptors";
  }

  HttpReply SendOn(TestHttpClient& client, const std::string& token, const std::string& room,
                   const std::string& text) {
    return client.Call("PUT",
                       std::string(kV3) + "/rooms/" + Encode(room) + "/send/m.room.message/k" +
                           std::to_string(++txn_),
                       json::serialize(json::object{{"msgtype", "m.text"}, {"body", text}}),
                       token);
  }
  HttpReply Event(const std::string& token, const std::string& room, const std::string& id) {
    return Call("GET", "/rooms/" + Encode(room) + "/event/" + Encode(id), token);
  }
};

TEST_F(ResourcesTest, OnePeerIpHoldsAtMostItsConnectionCap) {
  Start();
  IdleConnections idle;
  // One over the cap from one IP: exactly one of them is refused...
  ASSERT_EQ(idle.Open("127.0.0.1", nebu_.client_port(), kConnectionsPerIpMax + 1),
            kConnectionsPerIpMax + 1);
  EXPECT_TRUE(Eventually([&] { return idle.Refused() >= 1; }));
  EXPECT_EQ(idle.Refused(), 1u);
  HttpReply refusal = idle.FirstRefusal();
  EXPECT_EQ(refusal.status, 503);
  EXPECT_EQ(refusal.Errcode(), "M_LIMIT_EXCEEDED");
  // ...while another peer is served, and the ops listener too.
  EXPECT_EQ(GetFrom("127.0.0.2", nebu_.client_port(), "/_matrix/client/versions").status, 200);
  EXPECT_EQ(GetFrom("127.0.0.1", nebu_.ops_port(), "/health").status, 200);
  idle.CloseAll();
  EXPECT_TRUE(Eventually([&] {
    return GetFrom("127.0.0.1", nebu_.client_port(), "/_matrix/client/versions").status == 200;
  }));
  ExpectAlive();
}

// RLIMIT_NOFILE 1024 (soft and hard) leaves nebu 208 connections after its reserves
// (app/main.cpp), 64 of them for the ops listener: 1,100 idle connections from 11 peers
// saturate the client listener many times over.
TEST_F(ResourcesTest, ElevenHundredIdleConnectionsNeitherStopSendsNorHealthChecks) {
  {
    ChildFdLimit low(1024);
    Start();
  }
  std::string alice = Register("alice");
  std::string room = CreateRoom(alice);
  TestHttpClient sender(nebu_.client_port());  // a keep-alive connection opened before
  ASSERT_TRUE(sender.connected());
  std::vector<std::string> acknowledged;
  IdleConnections idle;
  constexpr size_t kPeers = 11;
  for (size_t peer = 0; peer < kPeers; ++peer) {
    std::string ip = "127.0.1." + std::to_string(peer + 1);
    idle.Open(ip.c_str(), nebu_.client_port(), kIdleConnections / kPeers);
    HttpReply sent = SendOn(sender, alice, room, "during " + std::to_string(peer));
    ASSERT_EQ(sent.status, 200) << sent.body;
    acknowledged.emplace_back(sent.Json().at("event_id").as_string());
    EXPECT_EQ(GetFrom("127.0.0.1", nebu_.ops_port(), "/health").status, 200);
    EXPECT_EQ(GetFrom("127.0.0.1", nebu_.ops_port(), "/ready").status, 200);
  }
  // The client listener is full: a new connection is refused (503) or closed at once.
  HttpReply extra = GetFrom("127.0.0.1", nebu_.client_port(), "/_matrix/client/versions");
  EXPECT_NE(extra.status, 200);
  if (extra.status != 0) {
    EXPECT_EQ(extra.status, 503);
    EXPECT_EQ(extra.Errcode(), "M_LIMIT_EXCEEDED");
  }
  EXPECT_GT(idle.Refused(), kIdleConnections / 2) << "the client listener was never saturated";
  EXPECT_TRUE(nebu_.Running());
  idle.CloseAll();
  EXPECT_TRUE(Eventually([&] {
    return GetFrom("127.0.0.1", nebu_.client_port(), "/_matrix/client/versions").status == 200;
  }));
  acknowledged.push_back(Send(alice, room, "after"));
  for (const std::string& id : acknowledged) EXPECT_EQ(Event(alice, room, id).status, 200) << id;
  ExpectAlive();
}

// Mounts a tmpfs of `bytes` on `dir` (root only); unmounts on destruction.
class SmallFileSystem {
 public:
  SmallFileSystem(const std::string& dir, size_t bytes) : dir_(dir) {
    std::filesystem::create_directories(dir);
    std::string options = "size=" + std::to_string(bytes) + ",mode=0700";
    mounted_ = ::mount("tmpfs", dir.c_str(), "tmpfs", 0, options.c_str()) == 0;
    if (!mounted_) error_ = std::strerror(errno);
  }
  ~SmallFileSystem() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }

  // Fills the file system with `path` until the disk is full; false if it could not.
  static bool Fill(const std::string& path) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return false;
    std::string chunk(1 << 20, 'x');
    constexpr int kChunksMax = 4096;  // 4 GiB: far more than the file system holds
    bool full = false;
    for (int i = 0; i < kChunksMax && !full; ++i) {
      ssize_t n = ::write(fd, chunk.data(), chunk.size());
      full = n < static_cast<ssize_t>(chunk.size());
    }
    for (int i = 0; i < kChunksMax && ::write(fd, chunk.data(), 1) == 1; ++i) {
    }
    ::close(fd);
    return full;
  }

 private:
  std::string dir_;
  bool mounted_ = false;
  std::string error_;
};

// Disk full: writes are refused with 507 M_RESOURCE_LIMIT_EXCEEDED, reads go on, /ready
// says disk_full; once space is freed writes resume without a restart; after kill -9
// every acknowledged event is there. The tmpfs is 256 MiB: nebu refuses writes below
// 64 MiB free (kDiskFreeBytesMin), and RocksDB preallocates its WAL files.
TEST_F(ResourcesTest, ADiskFullRefusesWritesUntilSpaceIsFreedAndLosesNothing) {
  SmallFileSystem fs(DataDir(), 256u << 20);
  if (!fs.mounted()) {
    GTEST_SKIP() << "cannot mount a tmpfs on the data directory (" << fs.error()
                 << "): run as root to test a full disk";
  }
  Start();
  std::string alice = Register("alice");
  std::string room = CreateRoom(alice);
  std::vector<std::string> acknowledged = {Send(alice, room, "before")};
  const std::string blocker = DataDir() + "/blocker";
  ASSERT_TRUE(SmallFileSystem::Fill(blocker));

  HttpReply refused = Call("PUT", "/rooms/" + Encode(room) + "/send/m.room.message/full1", alice,
                           json::object{{"msgtype", "m.text"}, {"body", "refused"}});
  EXPECT_EQ(refused.status, 507) << refused.body;
  EXPECT_EQ(refused.Errcode(), "M_RESOURCE_LIMIT_EXCEEDED");
  EXPECT_NE(refused.body.find("disk full"), std::string::npos) << refused.body;
  HttpReply ready = Ops("/ready");
  EXPECT_EQ(ready.status, 503);
  EXPECT_NE(ready.body.find("disk_full"), std::string::npos) << ready.body;
  EXPECT_EQ(Event(alice, room, acknowledged[0]).status, 200);  // reads go on
  ExpectAlive();

  std::filesystem::remove(blocker);
  acknowledged.push_back(Send(alice, room, "after"));  // no restart
  EXPECT_EQ(Ops("/ready").status, 200);
  Restart(SIGKILL);
  for (const std::string& id : acknowledged) {
    ASSERT_FALSE(id.empty());
    EXPECT_EQ(Event(alice, room, id).status, 200) << id;
  }
  // The refused send was never committed: its transaction ID is free.
  HttpReply retried = Call("PUT", "/rooms/" + Encode(room) + "/send/m.room.message/full1", alice,
                           json::object{{"msgtype", "m.text"}, {"body", "retried"}});
  EXPECT_EQ(retried.status, 200) << retried.body;
  ExpectAlive();
  nebu_.Kill(SIGKILL);  // before the tmpfs goes
}

// A createRoom whose command is over the commit log's limit (256 KiB,
// core::kCommandBytesMax) though its body is within the route's (1 MiB): refused before
// it is committed, so a restart after kill -9 replays cleanly.
TEST_F(ResourcesTest, AnOversizedCreateRoomIsRefusedAndARestartKeepsEverything) {
  Start();
  std::string alice = Register("alice");
  std::string room = CreateRoom(alice);
  std::string before = Send(alice, room, "before");
  json::array initial_state;
  for (int i = 0; i < 12; ++i) {
    initial_state.push_back(json::object{{"type", "org.example.big"},
                                         {"state_key", std::to_string(i)},
                                         {"content", {{"blob", std::string(40'000, 'a' + i)}}}});
  }
  HttpReply big = Call("POST", "/createRoom", alice, json::object{{"initial_state", initial_state}});
  EXPECT_EQ(big.status, 413) << big.body;
  EXPECT_EQ(big.Errcode(), "M_TOO_LARGE");
  Restart(SIGKILL);
  EXPECT_EQ(Event(alice, room, before).status, 200);
  EXPECT_FALSE(Send(alice, room, "after").empty());
  ExpectAlive();
}

// Every path under `dir` whose mode lets group or others in.
void CollectOpenModes(const std::filesystem::path& dir, std::vector<std::string>* open) {
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    struct stat st {};
    if (::lstat(entry.path().c_str(), &st) != 0 || S_ISLNK(st.st_mode)) continue;
    if ((st.st_mode & 077) != 0) open->push_back(entry.path().string());
  }
}

TEST_F(ResourcesTest, TheDataDirectoryIsPrivate) {
  Start();
  std::string alice = Register("alice");
  Send(alice, CreateRoom(alice), "a secret");
  struct stat st {};
  ASSERT_EQ(::stat(DataDir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  std::vector<std::string> open;
  CollectOpenModes(DataDir(), &open);
  for (const std::string& path : open) ADD_FAILURE() << path << " is readable by group or others";
}

}  // namespace
}  // namespace nebu::security
