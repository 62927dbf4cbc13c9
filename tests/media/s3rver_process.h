// S3rverProcess: a throwaway S3-protocol server on loopback: s3rver (the npm package in
// tests/media/s3rver; credentials S3RVER/S3RVER; objects under the given directory)
// behind tests/media/s3rver/sigv4_proxy.js, which checks the SigV4 signatures (s3rver
// 3.7.1 only checks that the access key ID exists). Endpoint() is the proxy's.
//
//   S3rverProcess s3(dir);
//   if (auto missing = S3rverProcess::Missing()) GTEST_SKIP() << *missing;
//   ASSERT_TRUE(s3.Start()) << s3.Log();        // bucket kBucket exists
//   s3.Endpoint();                               // "http://127.0.0.1:PORT"
//   s3.Kill(); ASSERT_TRUE(s3.Start());          // same port, same objects
//
// The script is $NEBU_TEST_S3RVER or the one CMake names (NEBU_S3RVER_BIN); `node`
// comes from PATH. scripts/deps.sh --test installs both.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace nebu::media_testing {

class S3rverProcess {
 public:
  static constexpr int kStartTimeoutMs = 30'000;
  static constexpr const char* kBucket = "nebu-media";
  static constexpr const char* kAccessKeyId = "S3RVER";
  static constexpr const char* kSecret = "S3RVER";

  explicit S3rverProcess(std::filesystem::path dir) : dir_(std::move(dir)) {
    std::filesystem::create_directories(dir_ / "data");
  }
  ~S3rverProcess() { Kill(); }

  static std::string Script() {
    const char* env = std::getenv("NEBU_TEST_S3RVER");
    return env != nullptr && *env != '\0' ? env : NEBU_S3RVER_BIN;
  }
  static std::string ProxyScript() { return NEBU_S3_SIGV4_PROXY; }

  // Why the tests cannot run here, or nullopt.
  static std::optional<std::string> Missing() {
    if (std::system("command -v node >/dev/null 2>&1") != 0) {
      return "node is not installed (scripts/deps.sh --test installs it): S3 tests skipped";
    }
    if (::access(Script().c_str(), R_OK) != 0 || ::access(NEBU_S3_AWS4_MODULE, R_OK) != 0) {
      return "s3rver is not installed at " + Script() +
             " (scripts/deps.sh --test runs npm ci in tests/media/s3rver): S3 tests skipped";
    }
    return std::nullopt;
  }

  // Starts s3rver and the signature-checking proxy in front of it (on their previous
  // ports after a Kill) and waits until both listen.
  bool Start() {
    Kill();
    ++starts_;
    std::string data = (dir_ / "data").string();
    // --openssl-legacy-provider: s3rver's ListObjectsV2 continuation tokens are DES
    // (lib/controllers/bucket.js), which OpenSSL 3 only offers from its legacy provider.
    if (!Spawn(s3rver_, {"--openssl-legacy-provider", Script(), "-d", data, "-a", "127.0.0.1", "-p",
                         std::to_string(s3rver_.port), "--silent", "--configure-bucket",
                         kBucket})) {
      return false;
    }
    return Spawn(proxy_, {ProxyScript(), "--port", std::to_string(proxy_.port),
                          "--upstream-port", std::to_string(s3rver_.port), "--access-key",
                          kAccessKeyId, "--secret", kSecret});
  }

  // SIGKILLs both (an outage of the S3 endpoint).
  void Kill() {
    for (Child* child : {&proxy_, &s3rver_}) {
      if (child->pid <= 0) continue;
      ::kill(child->pid, SIGKILL);
      ::waitpid(child->pid, nullptr, 0);
      child->pid = -1;
    }
  }

  // Signals both (SIGSTOP: a stalled endpoint that accepts connections, never answers).
  void Signal(int signal) {
    for (Child* child : {&proxy_, &s3rver_}) {
      if (child->pid > 0) ::kill(child->pid, signal);
    }
  }

  [[nodiscard]] std::string Endpoint() const {
    return "http://127.0.0.1:" + std::to_string(proxy_.port);
  }

  // s3rver itself, without the signature check (the bench compares both).
  [[nodiscard]] std::string DirectEndpoint() const {
    return "http://127.0.0.1:" + std::to_string(s3rver_.port);
  }

  // Both processes' output of the last start.
  [[nodiscard]] std::string Log() const { return Read(s3rver_.log) + Read(proxy_.log); }

 private:
  struct Child {
    std::string name;
    pid_t pid = -1;
    uint16_t port = 0;  // 0: picks one on the first start
    std::filesystem::path log;
  };

  static std::string Read(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  // Runs `node args...`, waits for "listening on 127.0.0.1:PORT" in its output.
  bool Spawn(Child& child, const std::vector<std::string>& args) {
    child.log = dir_ / (child.name + "." + std::to_string(starts_) + ".log");
    std::vector<std::string> argv = {"node"};
    argv.insert(argv.end(), args.begin(), args.end());
    child.pid = ::fork();
    if (child.pid < 0) return false;
    if (child.pid == 0) {
      int fd = ::open(child.log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      std::vector<char*> c_argv;
      for (std::string& a : argv) c_argv.push_back(a.data());
      c_argv.push_back(nullptr);
      ::execvp("node", c_argv.data());
      ::_exit(127);
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kStartTimeoutMs);
    const std::regex listening("listening on 127\\.0\\.0\\.1:([0-9]+)");
    while (std::chrono::steady_clock::now() < deadline) {
      std::smatch m;
      std::string text = Read(child.log);
      if (std::regex_search(text, m, listening)) {
        child.port = static_cast<uint16_t>(std::stoi(m[1]));
        return true;
      }
      if (::waitpid(child.pid, nullptr, WNOHANG) == child.pid) {
        child.pid = -1;
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling the log, bounded
    }
    return false;
  }

  std::filesystem::path dir_;
  Child s3rver_{.name = "s3rver"};
  Child proxy_{.name = "sigv4-proxy"};
  int starts_ = 0;
};

}  // namespace nebu::media_testing
