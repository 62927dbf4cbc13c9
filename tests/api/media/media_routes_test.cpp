// Goal: every media route and error of api/media/media_routes.h as a client meets it:
// uploads of 0 bytes, exactly the limit and one byte over; a client that disconnects
// mid-upload leaves no spool file and no record; downloads with the security headers and
// Range; the create + PUT pair (another user's ID, overwrite, expiry, the pending cap);
// quota, rate limit, a failing store (502, nothing recorded); quarantine and deletion;
// remote server names, path traversal and huge names; legacy paths on and off.
// Method: a real Engine (tmpfs) and FileContentStore behind a real api::Server on an
// ephemeral loopback port; raw HTTP/1.1 requests so bodies and headers are exact.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "api/media/media_routes.h"
#include "api/router.h"
#include "api/server.h"
#include "engine/accounts/accounts.h"
#include "engine/common/crypto.h"
#include "engine/core/engine.h"
#include "engine/media/media.h"
#include "engine/testing/fake_clock.h"
#include "engine/testing/temp_dir.h"
#include "media/file_store.h"

namespace nebu::api {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

constexpr uint64_t kLimit = 4096;  // the upload limit these tests configure
const std::string kV1 = "/_matrix/client/v1/media";

struct Reply {
  int status = 0;
  std::string head;  // status line and header fields, lowercase names kept as sent
  std::string body;
  [[nodiscard]] std::string Header(std::string_view name) const {
    std::string lower_head = head;
    for (char& c : lower_head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string key = "\r\n" + std::string(name) + ": ";
    for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    size_t at = lower_head.find(key);
    if (at == std::string::npos) return "";
    size_t start = at + key.size();
    return head.substr(start, head.find("\r\n", start) - start);
  }
  [[nodiscard]] json::value Json() const {
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    return ec ? json::value() : v;
  }
  [[nodiscard]] std::string Errcode() const {
    json::value v = Json();
    return v.is_object() && v.as_object().contains("errcode")
               ? std::string(v.at("errcode").as_string())
               : "";
  }
};

// One raw connection: sends exact bytes, reads one Content-Length response.
class Conn {
 public:
  explicit Conn(uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    timeval timeout{.tv_sec = 10, .tv_usec = 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  }
  ~Conn() { ::close(fd_); }
  void Send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
  }
  Reply Read() {
    Reply reply;
    size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return reply;
    }
    reply.head = buffer_.substr(0, end + 2);
    reply.status = std::stoi(reply.head.substr(9, 3));
    std::string length = reply.Header("Content-Length");
    size_t n = length.empty() ? 0 : std::stoul(length);
    while (buffer_.size() < end + 4 + n) {
      if (!Fill()) return reply;
    }
    reply.body = buffer_.substr(end + 4, n);
    buffer_.erase(0, end + 4 + n);
    return reply;
  }

 private:
  bool Fill() {
    char chunk[65536];
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }
  int fd_;
  std::string buffer_;
};

// A store whose every operation fails (a backend outage).
class BrokenStore final : public media::ContentStore {
 public:
  Status Put(std::string_view, const fs::path&, uint64_t) override {
    return Status::Unavailable("backend down");
  }
  Result<fs::path> Fetch(std::string_view) override { return Status::Unavailable("backend down"); }
  Result<bool> Exists(std::string_view) override { return Status::Unavailable("backend down"); }
  [[nodiscard]] std::string_view name() const override { return "broken"; }
};

class MediaApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = core::Engine::Open(
        {.data_dir = fs::path(dir_.path()) / "db", .server_name = "localhost", .clock = &clock_});
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    engine_ = std::move(opened).value();
    auto store = media::FileContentStore::Open(fs::path(dir_.path()) / "media");
    ASSERT_TRUE(store.ok());
    store_ = std::move(store).value();
    options_ = {.store = store_.get(),
                .upload_bytes_max = kLimit,
                .thumbnail_dir = (fs::path(dir_.path()) / "thumbs").string(),
                .upload_rate = {.per_second = 1000, .burst = 1000},
                .pending_max = 3};
    alice_ = Register("alice");
    bob_ = Register("bob");
  }

  void Start() {
    if (server_) return;
    api_ = std::make_unique<MediaApi>(*engine_, options_);
    api_->Mount(router_);
    ServerLimits limits;
    limits.threads = 2;
    limits.spool_dir = SpoolDir().string();
    auto started = Server::Start({{.address = "127.0.0.1", .port = 0, .router = &router_}}, limits);
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    server_ = std::move(started).value();
  }

  fs::path SpoolDir() const { return fs::path(dir_.path()) / "media" / "tmp"; }

  std::string Register(const std::string& localpart) {
    auto prepared = accounts::PrepareRegistration(
        {.user_id = "@" + localpart + ":localhost", .displayname = localpart}, clock_.NowUnixMs());
    EXPECT_TRUE(prepared.ok());
    EXPECT_TRUE(engine_->Submit({core::CommandKind::kAccount, prepared->payload}).ok());
    return *prepared->access_token;
  }

  Reply Call(const std::string& method, const std::string& target, const std::string& token = "",
             const std::string& body = "", const std::vector<std::string>& headers = {}) {
    Start();
    Conn conn(server_->port(0));
    std::string request = method + " " + target + " HTTP/1.1\r\nHost: t\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\n";
    if (!token.empty()) request += "Authorization: Bearer " + token + "\r\n";
    for (const auto& h : headers) request += h + "\r\n";
    conn.Send(request + "\r\n" + body);
    return conn.Read();
  }

  Reply Upload(const std::string& token, const std::string& bytes,
               const std::string& query = "?filename=cat.png",
               const std::string& type = "image/png") {
    return Call("POST", "/_matrix/media/v3/upload" + query, token, bytes,
                {"Content-Type: " + type});
  }
  // The media ID of a successful upload ("" and a test failure otherwise).
  std::string UploadId(const std::string& token, const std::string& bytes) {
    Reply r = Upload(token, bytes);
    EXPECT_EQ(r.status, 200) << r.body;
    if (r.status != 200) return "";
    std::string uri(r.Json().at("content_uri").as_string());
    EXPECT_TRUE(uri.starts_with("mxc://localhost/")) << uri;
    return uri.substr(std::string("mxc://localhost/").size());
  }
  Reply Download(const std::string& id, const std::string& token,
                 const std::vector<std::string>& headers = {}) {
    return Call("GET", kV1 + "/download/localhost/" + id, token, "", headers);
  }

  size_t RecordsOf(const std::string& user) {
    size_t n = 0;
    EXPECT_TRUE(media::ForEachUserMedia(engine_->Read(), user, "", 1000, [&](const auto&) {
                  ++n;
                  return Status::Ok();
                }).ok());
    return n;
  }
  size_t SpoolFiles() {
    size_t n = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(SpoolDir())) ++n;
    return n;
  }
  bool WaitForNoSpoolFiles() {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      if (SpoolFiles() == 0) return true;
      std::this_thread::yield();
    }
    return false;
  }

  nebu::testing::TempDir dir_{nebu::testing::TempDir::kTmpfs};
  nebu::testing::FakeClock clock_;
  std::unique_ptr<core::Engine> engine_;
  std::unique_ptr<media::FileContentStore> store_;
  MediaApiOptions options_;
  std::string alice_, bob_;
  Router router_{"client"};
  std::unique_ptr<MediaApi> api_;
  std::unique_ptr<Server> server_;
};

TEST_F(MediaApiTest, UploadThenDownloadGivesTheBytesWithTheSecurityHeaders) {
  const std::string bytes = "\x89PNG\r\n\x1a\n not really a png";
  const std::string id = UploadId(alice_, bytes);
  ASSERT_FALSE(id.empty());
  Reply r = Download(id, bob_);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, bytes);
  EXPECT_EQ(r.Header("Content-Type"), "image/png");
  EXPECT_EQ(r.Header("Content-Disposition"), "inline; filename=\"cat.png\"");
  EXPECT_TRUE(r.Header("Content-Security-Policy").starts_with("sandbox;"));
  EXPECT_EQ(r.Header("X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(r.Header("Cross-Origin-Resource-Policy"), "cross-origin");
  EXPECT_EQ(r.Header("Accept-Ranges"), "bytes");
  // The {fileName} form names the file; the legacy path needs no token.
  r = Call("GET", kV1 + "/download/localhost/" + id + "/other.png", bob_);
  EXPECT_EQ(r.Header("Content-Disposition"), "inline; filename=\"other.png\"");
  r = Call("GET", "/_matrix/media/v3/download/localhost/" + id);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, bytes);
  r = Call("GET", "/_matrix/media/r0/download/localhost/" + id);
  EXPECT_EQ(r.status, 200);
  // Authenticated media needs a token.
  EXPECT_EQ(Download(id, "").status, 401);
  auto record = media::GetMedia(engine_->Read(), id);
  ASSERT_TRUE(record.ok() && *record);
  EXPECT_EQ((*record)->size, bytes.size());
  EXPECT_EQ((*record)->user_id, "@alice:localhost");
  EXPECT_EQ((*record)->sha256, HexEncode(Sha256(bytes)));
  EXPECT_EQ(SpoolFiles(), 0u);
}

TEST_F(MediaApiTest, UnsafeTypesAreAttachmentsAndNamesAreEncoded) {
  Reply up = Upload(alice_, "<script>alert(1)</script>", "?filename=%C3%A9t%C3%A9.html",
                    "text/html");
  ASSERT_EQ(up.status, 200) << up.body;
  std::string id(up.Json().at("content_uri").as_string());
  id = id.substr(id.rfind('/') + 1);
  Reply r = Download(id, alice_);
  EXPECT_EQ(r.Header("Content-Type"), "text/html");
  EXPECT_EQ(r.Header("Content-Disposition"),
            "attachment; filename=\"__t__.html\"; filename*=utf-8''%C3%A9t%C3%A9.html");
}

TEST_F(MediaApiTest, ZeroBytesAndExactlyTheLimitAreAcceptedOneOverIsNot) {
  const std::string empty_id = UploadId(alice_, "");
  Reply r = Download(empty_id, alice_);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "");
  const std::string full(kLimit, 'x');
  const std::string full_id = UploadId(alice_, full);
  EXPECT_EQ(Download(full_id, alice_).body, full);
  r = Upload(alice_, full + "y");
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.Errcode(), "M_TOO_LARGE");
  EXPECT_EQ(RecordsOf("@alice:localhost"), 2u);
  EXPECT_TRUE(WaitForNoSpoolFiles());
  Reply config = Call("GET", kV1 + "/config", alice_);
  EXPECT_EQ(config.Json().at("m.upload.size").as_int64(), static_cast<int64_t>(kLimit));
}

TEST_F(MediaApiTest, AClientThatDisconnectsMidUploadLeavesNoSpoolFileAndNoRecord) {
  Start();
  {
    Conn conn(server_->port(0));
    conn.Send("POST /_matrix/media/v3/upload HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " +
              alice_ + "\r\nContent-Type: image/png\r\nContent-Length: 4000\r\n\r\n" +
              std::string(1000, 'a'));
    // The server has the first bytes in a spool file now (or soon); then we vanish.
  }
  EXPECT_TRUE(WaitForNoSpoolFiles());
  EXPECT_EQ(RecordsOf("@alice:localhost"), 0u);
  // The server still serves.
  EXPECT_FALSE(UploadId(alice_, "after").empty());
}

TEST_F(MediaApiTest, RangeRequests) {
  const std::string bytes = "0123456789";
  const std::string id = UploadId(alice_, bytes);
  Reply r = Download(id, alice_, {"Range: bytes=0-3"});
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, "0123");
  EXPECT_EQ(r.Header("Content-Range"), "bytes 0-3/10");
  r = Download(id, alice_, {"Range: bytes=-3"});
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, "789");
  r = Download(id, alice_, {"Range: bytes=7-"});
  EXPECT_EQ(r.body, "789");
  r = Download(id, alice_, {"Range: bytes=5-100"});
  EXPECT_EQ(r.body, "56789");
  EXPECT_EQ(r.Header("Content-Range"), "bytes 5-9/10");
  r = Download(id, alice_, {"Range: bytes=10-"});
  EXPECT_EQ(r.status, 416);
  EXPECT_EQ(r.Header("Content-Range"), "bytes */10");
  r = Download(id, alice_, {"Range: bytes=0-1,4-5"});  // several ranges: the whole
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, bytes);
}

TEST_F(MediaApiTest, CreateThenPutOnceByItsCreator) {
  Reply created = Call("POST", "/_matrix/media/v1/create", alice_, "{}");
  ASSERT_EQ(created.status, 200) << created.body;
  std::string uri(created.Json().at("content_uri").as_string());
  const std::string id = uri.substr(uri.rfind('/') + 1);
  EXPECT_EQ(created.Json().at("unused_expires_at").as_int64(),
            clock_.NowUnixMs() + kMediaPendingLifetimeMs);
  Reply r = Download(id, alice_);
  EXPECT_EQ(r.status, 504);
  EXPECT_EQ(r.Errcode(), "M_NOT_YET_UPLOADED");
  const std::string put = "/_matrix/media/v3/upload/localhost/" + id + "?filename=a.txt";
  r = Call("PUT", put, bob_, "bob's bytes", {"Content-Type: text/plain"});
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.Errcode(), "M_FORBIDDEN");
  r = Call("PUT", put, alice_, "alice's bytes", {"Content-Type: text/plain"});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "{}");
  r = Call("PUT", put, alice_, "again", {"Content-Type: text/plain"});
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.Errcode(), "M_CANNOT_OVERWRITE_MEDIA");
  EXPECT_EQ(Download(id, bob_).body, "alice's bytes");
  r = Call("PUT", "/_matrix/media/v3/upload/localhost/unknownid", alice_, "x");
  EXPECT_EQ(r.status, 404);
  r = Call("PUT", "/_matrix/media/v3/upload/elsewhere.org/" + id, alice_, "x");
  EXPECT_EQ(r.status, 404);
}

TEST_F(MediaApiTest, CreatedIdsExpireAndArePerUserCapped) {
  std::string last;
  for (int i = 0; i < 3; ++i) {
    Reply r = Call("POST", "/_matrix/media/v1/create", alice_, "{}");
    ASSERT_EQ(r.status, 200) << r.body;
    last = std::string(r.Json().at("content_uri").as_string());
  }
  Reply r = Call("POST", "/_matrix/media/v1/create", alice_, "{}");
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.Errcode(), "M_LIMIT_EXCEEDED");
  EXPECT_EQ(Call("POST", "/_matrix/media/v1/create", bob_, "{}").status, 200);
  clock_.AdvanceMs(kMediaPendingLifetimeMs);
  const std::string id = last.substr(last.rfind('/') + 1);
  r = Call("PUT", "/_matrix/media/v3/upload/localhost/" + id, alice_, "late");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.Errcode(), "M_NOT_FOUND");
  EXPECT_EQ(Download(id, alice_).status, 404);
  EXPECT_EQ(Call("POST", "/_matrix/media/v1/create", alice_, "{}").status, 200);
}

TEST_F(MediaApiTest, QuotaRefusesWith403AndRecordsNothing) {
  options_.user_quota_bytes = 100;
  EXPECT_FALSE(UploadId(alice_, std::string(60, 'a')).empty());
  Reply r = Upload(alice_, std::string(41, 'b'));
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.Errcode(), "M_FORBIDDEN");
  EXPECT_EQ(RecordsOf("@alice:localhost"), 1u);
  EXPECT_FALSE(UploadId(alice_, std::string(40, 'c')).empty());
}

TEST_F(MediaApiTest, UploadRateLimitAnswers429) {
  options_.upload_rate = {.per_second = 0.001, .burst = 2};
  EXPECT_EQ(Upload(alice_, "1").status, 200);
  EXPECT_EQ(Upload(alice_, "2").status, 200);
  Reply r = Upload(alice_, "3");
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.Errcode(), "M_LIMIT_EXCEEDED");
  EXPECT_EQ(Upload(bob_, "4").status, 200);
}

TEST_F(MediaApiTest, AFailingStoreAnswers502AndRecordsNothing) {
  BrokenStore broken;
  options_.store = &broken;
  Reply r = Upload(alice_, "bytes");
  EXPECT_EQ(r.status, 502);
  EXPECT_EQ(r.Errcode(), "M_UNKNOWN");
  EXPECT_EQ(RecordsOf("@alice:localhost"), 0u);
  EXPECT_TRUE(WaitForNoSpoolFiles());
}

TEST_F(MediaApiTest, QuarantinedAndDeletedMediaAre404) {
  const std::string a = UploadId(alice_, "quarantine me");
  const std::string b = UploadId(alice_, "delete me");
  auto submit = [&](media::MediaCommand c) {
    auto payload = media::EncodeMediaCommand(c);
    ASSERT_TRUE(payload.ok());
    ASSERT_TRUE(engine_->Submit({core::CommandKind::kMedia, *payload}).ok());
  };
  submit({.op = media::MediaOp::kQuarantine, .media_id = a, .value = true});
  submit({.op = media::MediaOp::kDelete, .media_id = b});
  for (const std::string& id : {a, b}) {
    Reply r = Download(id, alice_);
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(r.Errcode(), "M_NOT_FOUND");
    EXPECT_EQ(Call("GET", "/_matrix/media/v3/download/localhost/" + id).status, 404);
    EXPECT_EQ(Call("GET", kV1 + "/thumbnail/localhost/" + id + "?width=32&height=32", alice_).status,
              404);
  }
}

TEST_F(MediaApiTest, AttackerInputGetsClearErrorsAndChangesNothing) {
  const std::string id = UploadId(alice_, "secret");
  // Remote server names, unknown and malformed IDs, traversal.
  EXPECT_EQ(Call("GET", kV1 + "/download/elsewhere.org/" + id, bob_).Errcode(), "M_NOT_FOUND");
  EXPECT_EQ(Download("nope", bob_).status, 404);
  for (std::string bad : {"..%2F..%2Fetc%2Fpasswd", "..", "a%00b", "%2E%2E"}) {
    Reply r = Download(bad, bob_);
    EXPECT_TRUE(r.status == 404 || r.status == 400) << bad << " " << r.status;
  }
  Reply r = Call("GET", kV1 + "/download/localhost/" + id + "/..%2F..%2Fetc%2Fpasswd", bob_);
  EXPECT_EQ(r.status, 200);  // the name only labels the download, without separators
  EXPECT_EQ(r.Header("Content-Disposition"), "inline; filename=\".._.._etc_passwd\"");
  r = Call("GET", kV1 + "/download/localhost/" + id + "/" + std::string(300, 'n'), bob_);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.Errcode(), "M_INVALID_PARAM");
  // Huge or path-like upload names: 400, nothing recorded.
  r = Upload(bob_, "x", "?filename=" + std::string(media::kMediaFileNameBytesMax + 1, 'n'));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.Errcode(), "M_INVALID_PARAM");
  r = Upload(bob_, "x", "?filename=..%2Fevil");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(RecordsOf("@bob:localhost"), 0u);
  EXPECT_EQ(Upload("", "x").status, 401);
  EXPECT_TRUE(WaitForNoSpoolFiles());
}

TEST_F(MediaApiTest, LegacyOffLeavesOnlyAuthenticatedMedia) {
  options_.legacy = false;
  const std::string id = UploadId(alice_, "bytes");
  Reply r = Call("GET", "/_matrix/media/v3/download/localhost/" + id);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.Errcode(), "M_UNRECOGNIZED");
  EXPECT_EQ(Call("GET", "/_matrix/media/r0/thumbnail/localhost/" + id + "?width=1&height=1")
                .Errcode(),
            "M_UNRECOGNIZED");
  EXPECT_EQ(Download(id, alice_).status, 200);
}

TEST_F(MediaApiTest, ConfigPreviewAndThumbnailParameters) {
  Reply r = Call("GET", "/_matrix/media/v3/config", alice_);
  EXPECT_EQ(r.status, 200);
  r = Call("GET", kV1 + "/preview_url?url=https%3A%2F%2Fexample.org", alice_);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.Errcode(), "M_UNRECOGNIZED");
  const std::string text = Upload(alice_, "plain", "?filename=a.txt", "text/plain").status == 200
                               ? "" : "upload failed";
  EXPECT_EQ(text, "");
  const std::string image = UploadId(alice_, "not decodable but image/png");
  for (std::string bad : {"", "?width=0&height=10", "?width=a&height=1", "?width=1",
                          "?width=1&height=1&method=zoom", "?width=1&height=1&animated=yes"}) {
    r = Call("GET", kV1 + "/thumbnail/localhost/" + image + bad, alice_);
    EXPECT_EQ(r.status, 400) << bad;
  }
  r = Call("GET", kV1 + "/thumbnail/localhost/nope?width=32&height=32", alice_);
  EXPECT_EQ(r.status, 404);
}

// A real 64x48 PNG (solid red), made once with Python's zlib.
const std::string kRedPng64x48(
    "\x89\x50\x4e\x47\x0d\x0a\x1a\x0a\x00\x00\x00\x0d\x49\x48\x44\x52\x00\x00\x00\x40\x00\x00\x00\x30\x08\x02\x00\x00\x00\x2e\x29\xeb\x48\x00\x00\x00\x43\x49\x44\x41\x54\x78\xda\xed\xcf\x41\x09\x00\x00\x08\x04\xb0\x4b\x72\xfd\xa3\x18\xcb\x0a\x7e\x85\xc1\x0a\x2c\xd3\xbe\x16\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x81\xab\x05\x89\x27\x30\xb5\xe8\x95\x26\x85\x00\x00\x00\x00\x49\x45\x4e\x44\xae\x42\x60\x82",
    124);

// Width and height from a PNG's IHDR; {0, 0} when it is not a PNG.
std::pair<uint32_t, uint32_t> PngSize(const std::string& png) {
  if (png.size() < 24 || png.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0) return {0, 0};
  auto be32 = [&](size_t at) {
    uint32_t v = 0;
    for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(png[at + i]);
    return v;
  };
  return {be32(16), be32(20)};
}

// Goal: /thumbnail makes real thumbnails with the thumbnailer (scale fits inside and keeps
// the aspect ratio, crop is exact) and serves a second request from the per-node cache.
TEST_F(MediaApiTest, ThumbnailsAreMadeScaledOrCroppedAndCached) {
  const std::string id = UploadId(alice_, kRedPng64x48);
  Reply scaled = Call("GET", kV1 + "/thumbnail/localhost/" + id + "?width=32&height=32&method=scale",
                      alice_);
  ASSERT_EQ(scaled.status, 200) << scaled.body;
  EXPECT_EQ(scaled.Header("Content-Type"), "image/png");
  EXPECT_EQ(PngSize(scaled.body), (std::pair<uint32_t, uint32_t>{32, 24}));
  Reply cropped = Call("GET", kV1 + "/thumbnail/localhost/" + id + "?width=16&height=16&method=crop",
                       alice_);
  ASSERT_EQ(cropped.status, 200) << cropped.body;
  EXPECT_EQ(PngSize(cropped.body), (std::pair<uint32_t, uint32_t>{16, 16}));

  const fs::path cache = fs::path(dir_.path()) / "thumbs";
  auto files = [&] {
    size_t n = 0;
    for (const auto& entry : fs::recursive_directory_iterator(cache)) n += entry.is_regular_file();
    return n;
  };
  ASSERT_TRUE(fs::exists(cache));
  const size_t cached = files();
  EXPECT_EQ(cached, 2u);
  Reply again = Call("GET", kV1 + "/thumbnail/localhost/" + id + "?width=32&height=32&method=scale",
                     alice_);
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(again.body, scaled.body);
  EXPECT_EQ(files(), cached);
}

TEST_F(MediaApiTest, ThumbnailOfANonImageIs400) {
  Reply up = Upload(alice_, "plain text", "?filename=a.txt", "text/plain");
  ASSERT_EQ(up.status, 200);
  std::string id(up.Json().at("content_uri").as_string());
  id = id.substr(id.rfind('/') + 1);
  Reply r = Call("GET", kV1 + "/thumbnail/localhost/" + id + "?width=32&height=32", alice_);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.Errcode(), "M_UNKNOWN");
}

TEST(ByteRangeTest, ParsesOneRange) {
  EXPECT_EQ(ParseByteRange("bytes=0-0", 5).kind, RangeOutcome::kPartial);
  EXPECT_EQ(ParseByteRange("bytes=0-0", 5).range.length, 1u);
  EXPECT_EQ(ParseByteRange("bytes=-0", 5).kind, RangeOutcome::kUnsatisfiable);
  EXPECT_EQ(ParseByteRange("bytes=-9", 5).range.first, 0u);
  EXPECT_EQ(ParseByteRange("bytes=3-1", 5).kind, RangeOutcome::kWhole);
  EXPECT_EQ(ParseByteRange("items=0-1", 5).kind, RangeOutcome::kWhole);
  EXPECT_EQ(ParseByteRange("bytes=x-1", 5).kind, RangeOutcome::kWhole);
  EXPECT_EQ(ParseByteRange("bytes=0-", 0).kind, RangeOutcome::kUnsatisfiable);
}

}  // namespace
}  // namespace nebu::api
