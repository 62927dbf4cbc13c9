// Test support for the etcd tests: the endpoints of the throwaway etcd that
// scripts/test.sh starts (scripts/etcd.sh), and a fresh key prefix per test.
//
//   NEBU_REQUIRE_ETCD();   // skip (fail under NEBU_TEST_ETCD_REQUIRED=1) when
//                          // NEBU_TEST_ETCD_ENDPOINTS is unset
//   auto etcd = NewClient();
//   std::string prefix = UniquePrefix();   // "/nebu-test/<random>"
#pragma once

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <string_view>

#include "replication/etcd_client.h"

namespace nebu::replication::testing {

inline std::string EtcdEndpointsEnv() {
  const char* v = std::getenv("NEBU_TEST_ETCD_ENDPOINTS");
  return v ? std::string(v) : std::string();
}

// NEBU_TEST_ETCD_REQUIRED=1 (scripts/test.sh sets it once its etcd runs, so in CI)
// turns a skip into a failure: a suite that silently skipped would test nothing.
inline bool EtcdRequired() {
  const char* v = std::getenv("NEBU_TEST_ETCD_REQUIRED");
  return v != nullptr && std::string_view(v) == "1";
}

#define NEBU_REQUIRE_ETCD()                                                                \
  do {                                                                                     \
    if (::nebu::replication::testing::EtcdEndpointsEnv().empty()) {                        \
      if (::nebu::replication::testing::EtcdRequired()) {                                  \
        FAIL() << "NEBU_TEST_ETCD_ENDPOINTS is unset (NEBU_TEST_ETCD_REQUIRED=1: this "    \
                  "test must run)";                                                        \
      }                                                                                    \
      GTEST_SKIP() << "etcd test skipped: NEBU_TEST_ETCD_ENDPOINTS is unset: start etcd "  \
                      "with scripts/etcd.sh start and export NEBU_TEST_ETCD_ENDPOINTS="    \
                      "$(scripts/etcd.sh endpoints) (scripts/test.sh does this)";          \
    }                                                                                      \
  } while (0)

inline std::vector<std::string> TestEndpoints() {
  auto parsed = EtcdClientOptions::ParseEndpoints(EtcdEndpointsEnv());
  EXPECT_TRUE(parsed.ok()) << parsed.status().ToString();
  return parsed.ok() ? *parsed : std::vector<std::string>{};
}

inline std::unique_ptr<EtcdClient> NewClient(EtcdClientOptions options = {}) {
  if (options.endpoints.empty()) options.endpoints = TestEndpoints();
  auto client = EtcdClient::Create(std::move(options));
  EXPECT_TRUE(client.ok()) << client.status().ToString();
  return client.ok() ? std::move(*client) : nullptr;
}

inline std::string UniquePrefix() {
  std::random_device rd;
  return "/nebu-test/" + std::to_string(rd()) + std::to_string(rd());
}

// A loopback port nothing listens on (bound then closed: connections are refused).
inline int ClosedPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace nebu::replication::testing
