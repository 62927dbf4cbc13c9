// FreeLoopbackPort: a loopback TCP port the kernel just handed out (bound to port 0 on
// 127.0.0.1, then closed), for tests that start listeners in other processes (nebu
// nodes, their gRPC listeners). The kernel picks from its ephemeral range, away from
// the ports scripts/etcd.sh and scripts/pg.sh choose, and two test binaries running at
// once (ctest -j) are not handed the same one. 0 when no socket could be bound.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>

namespace nebu::testing {

inline uint16_t FreeLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  uint16_t port = 0;
  if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  if (fd >= 0) ::close(fd);
  return port;
}

}  // namespace nebu::testing
