// What the cluster backup tests (backup_cluster_test.cpp, backup_trim_test.cpp) share:
// HTTP calls to one node's client port, a cluster node's environment, and the `nebu`
// command line run against a data directory (NEBU_BINARY, tests/backup/CMakeLists.txt).
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>

#include "engine/testing/free_port.h"
#include "tests/security/nebu_process.h"

namespace nebu::security::backup_testing {

inline HttpReply CallPort(uint16_t port, const std::string& method, const std::string& target,
                          const std::string& token = "", const std::string& body = "") {
  TestHttpClient client(port);
  if (!client.connected()) return {};
  std::optional<std::string_view> bearer;
  if (!token.empty()) bearer = token;
  return client.Call(method, std::string(kV3) + target, body, bearer);
}

inline std::string Enc(std::string_view s) { return api::testing::PercentEncode(s); }

// Node `n` of a cluster on `etcd_endpoints` under `prefix`, its gRPC listener on a free
// loopback port.
inline Env ClusterNodeEnv(const std::string& etcd_endpoints, std::string_view prefix, int n,
                          std::string_view secret) {
  return Env{{"NEBU_ETCD_ENDPOINTS", etcd_endpoints},
             {"NEBU_ETCD_PREFIX", std::string(prefix)},
             {"NEBU_NODE_ID", "node" + std::to_string(n)},
             {"NEBU_GRPC_ADDR",
              "127.0.0.1:" + std::to_string(nebu::testing::FreeLoopbackPort())},
             {"NEBU_INTERNAL_SECRET", std::string(secret)}};
}

// Runs `nebu ARGS` on `data_dir` (a serving node's ops port, or any when it is stopped),
// its output in `out_file`; a failed exit is a test failure. Returns the output.
inline std::string RunNebuCli(const std::string& data_dir, uint16_t ops_port,
                              const std::string& args, const std::string& out_file) {
  const std::string command = "NEBU_DATA_DIR=" + data_dir + " NEBU_OPS_ADDR=127.0.0.1:" +
                              std::to_string(ops_port) + " NEBU_LOG_LEVEL=warn " NEBU_BINARY
                              " " + args + " > " + out_file + " 2>&1";
  const int status = std::system(command.c_str());
  std::ifstream in(out_file);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << args << ": " << text;
  return text;
}

}  // namespace nebu::security::backup_testing
