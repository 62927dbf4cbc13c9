// bench_media: the media routes over loopback HTTP with the file backend, in one
// process (api::Server + MediaApi + Engine on disk): a 100 MB upload and download
// (MB/s and the growth of peak RSS during each: the body is streamed, never whole in
// memory; the client streams from and into a fixed buffer), then 200 concurrent
// downloads of a 100 KB file (req/s, p50, p99).
//
//   build/bench/bench_media [--mb=100] [--dir=/var/tmp] [--clients=200] [--small_kb=100]
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "api/media/media_routes.h"
#include "api/router.h"
#include "api/server.h"
#include "bench/bench_http.h"
#include "bench/bench_util.h"
#include "engine/accounts/accounts.h"
#include "engine/core/engine.h"
#include "media/file_store.h"

namespace nebu::bench {
namespace {

namespace fs = std::filesystem;
constexpr size_t kChunkBytes = 256 * 1024;

int Connect(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) Die("connect");
  return fd;
}

void SendAll(int fd, const char* data, size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, data, n, MSG_NOSIGNAL);
    if (w <= 0) Die("send");
    data += w;
    n -= static_cast<size_t>(w);
  }
}

// Reads one response; returns its status and the body's size (body discarded in chunks,
// or kept in *body when given).
int ReadResponse(int fd, uint64_t* body_bytes, std::string* body = nullptr) {
  std::string head;
  std::vector<char> chunk(kChunkBytes);
  size_t end = std::string::npos;
  while ((end = head.find("\r\n\r\n")) == std::string::npos) {
    ssize_t n = ::recv(fd, chunk.data(), 4096, 0);
    if (n <= 0) Die("recv head");
    head.append(chunk.data(), static_cast<size_t>(n));
  }
  std::string lower = head;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  size_t at = lower.find("content-length: ");
  const uint64_t length = at == std::string::npos ? 0 : std::stoull(head.substr(at + 16));
  uint64_t have = head.size() - end - 4;
  if (body) body->assign(head, end + 4);
  while (have < length) {
    ssize_t n = ::recv(fd, chunk.data(), chunk.size(), 0);
    if (n <= 0) Die("recv body");
    if (body) body->append(chunk.data(), static_cast<size_t>(n));
    have += static_cast<uint64_t>(n);
  }
  *body_bytes = have;
  return std::stoi(head.substr(9, 3));
}

// Uploads `size` bytes streamed from the file at `path`; returns the media ID.
std::string Upload(uint16_t port, const std::string& token, const fs::path& path, uint64_t size) {
  int fd = Connect(port);
  std::string header = "POST /_matrix/media/v3/upload?filename=big.bin HTTP/1.1\r\nHost: b\r\n"
                       "Authorization: Bearer " + token +
                       "\r\nContent-Type: application/octet-stream\r\nContent-Length: " +
                       std::to_string(size) + "\r\n\r\n";
  SendAll(fd, header.data(), header.size());
  int in = ::open(path.c_str(), O_RDONLY);
  std::vector<char> chunk(kChunkBytes);
  for (ssize_t n; (n = ::read(in, chunk.data(), chunk.size())) > 0;) {
    SendAll(fd, chunk.data(), static_cast<size_t>(n));
  }
  ::close(in);
  uint64_t got = 0;
  std::string body;
  int status = ReadResponse(fd, &got, &body);
  ::close(fd);
  if (status != 200) Die("upload: HTTP " + std::to_string(status) + " " + body);
  std::string uri(boost::json::parse(body).at("content_uri").as_string());
  return uri.substr(uri.rfind('/') + 1);
}

uint64_t Download(int fd, const std::string& token, const std::string& id) {
  std::string request = "GET /_matrix/client/v1/media/download/localhost/" + id +
                        " HTTP/1.1\r\nHost: b\r\nAuthorization: Bearer " + token + "\r\n\r\n";
  SendAll(fd, request.data(), request.size());
  uint64_t got = 0;
  if (ReadResponse(fd, &got) != 200) Die("download");
  return got;
}

void ResetPeakRss() { std::ofstream("/proc/self/clear_refs") << "5"; }

int Main(int argc, char** argv) {
  PrintCommand(argc, argv);
  const uint64_t mb = std::stoull(Arg(argc, argv, "mb", "100"));
  const int clients = std::stoi(Arg(argc, argv, "clients", "200"));
  const uint64_t small_kb = std::stoull(Arg(argc, argv, "small_kb", "100"));
  const fs::path root = fs::path(Arg(argc, argv, "dir", "/var/tmp")) /
                        ("bench-media-" + std::to_string(::getpid()));
  fs::create_directories(root);
  auto engine = core::Engine::Open({.data_dir = (root / "data").string(), .server_name = "localhost"});
  if (!engine.ok()) Die(engine.status().ToString());
  auto store = media::FileContentStore::Open(root / "data" / "media");
  if (!store.ok()) Die(store.status().ToString());
  api::MediaApi media_api(**engine, {.store = store->get(),
                                     .upload_bytes_max = (mb + 1) * 1024 * 1024,
                                     .rate_limit = false});
  api::Router router("media");
  media_api.Mount(router);
  api::ServerLimits limits;
  limits.threads = 2;
  limits.spool_dir = (root / "data" / "media" / "tmp").string();
  auto server = api::Server::Start({{.address = "127.0.0.1", .port = 0, .router = &router}}, limits);
  if (!server.ok()) Die(server.status().ToString());
  const uint16_t port = (*server)->port(0);
  auto prepared = accounts::PrepareRegistration({.user_id = "@bench:localhost"}, 1700000000000);
  if (!prepared.ok() || !(*engine)->Submit({core::CommandKind::kAccount, prepared->payload}).ok()) {
    Die("register");
  }
  const std::string token = *prepared->access_token;

  const uint64_t size = mb * 1000 * 1000;
  const fs::path source = root / "source.bin";
  {
    std::vector<char> chunk(kChunkBytes);
    for (size_t i = 0; i < chunk.size(); ++i) chunk[i] = static_cast<char>(i * 131 + 7);
    std::ofstream out(source, std::ios::binary);
    for (uint64_t left = size; left > 0;) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(left, chunk.size()));
      chunk[0] = static_cast<char>(left);  // not one repeated block
      out.write(chunk.data(), static_cast<std::streamsize>(n));
      left -= n;
    }
  }
  ResetPeakRss();
  const double rss_before_up = PeakRssMiB();
  int64_t start = NowNs();
  const std::string id = Upload(port, token, source, size);
  double secs = static_cast<double>(NowNs() - start) / 1e9;
  std::printf("upload %llu MB: %.2f s, %.0f MB/s, peak RSS growth %.1f MiB\n",
              static_cast<unsigned long long>(mb), secs, static_cast<double>(mb) / secs,
              PeakRssMiB() - rss_before_up);
  ResetPeakRss();
  const double rss_before_down = PeakRssMiB();
  int fd = Connect(port);
  start = NowNs();
  const uint64_t got = Download(fd, token, id);
  secs = static_cast<double>(NowNs() - start) / 1e9;
  ::close(fd);
  if (got != size) Die("download size");
  std::printf("download %llu MB: %.2f s, %.0f MB/s, peak RSS growth %.1f MiB\n",
              static_cast<unsigned long long>(mb), secs, static_cast<double>(mb) / secs,
              PeakRssMiB() - rss_before_down);

  const fs::path small = root / "small.bin";
  {
    std::ofstream out(small, std::ios::binary);
    out << std::string(small_kb * 1000, 's');
  }
  const std::string small_id = Upload(port, token, small, small_kb * 1000);
  const int per_client = 20;
  start = NowNs();
  std::vector<double> ms = Parallel(clients, per_client, 60.0, [&](int, int) {
    int c = Connect(port);
    const int64_t t0 = NowNs();
    Download(c, token, small_id);
    ::close(c);
    return static_cast<double>(NowNs() - t0) / 1e6;
  });
  secs = static_cast<double>(NowNs() - start) / 1e9;
  std::printf("%d concurrent clients, %zu downloads of %llu KB: %.0f req/s, p50 %.1f ms, p99 %.1f ms\n",
              clients, ms.size(), static_cast<unsigned long long>(small_kb),
              static_cast<double>(ms.size()) / secs, Percentile(ms, 50), Percentile(ms, 99));
  (*server)->Stop();
  std::error_code ec;
  fs::remove_all(root, ec);
  return 0;
}

}  // namespace
}  // namespace nebu::bench

int main(int argc, char** argv) { return nebu::bench::Main(argc, argv); }
