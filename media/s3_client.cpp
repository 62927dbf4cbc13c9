#include "media/s3_client.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <algorithm>
#include <charconv>
#include <chrono>
#include <optional>
#include <vector>

#include "media/sigv4.h"

namespace nebu::media {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::string_view kService = "s3";
// Room for each socket read: Beast's flat_buffer otherwise stays near its first ~1 KB and
// a 100 MB body takes 100k reads.
constexpr size_t kReadBufferBytes = 256 * 1024;
// Each write of an upload's body.
constexpr size_t kWriteChunkBytes = 256 * 1024;

// The parameters of one call.
struct Call {
  http::verb verb = http::verb::get;
  std::string key;
  const std::filesystem::path* upload = nullptr;    // Put: the body
  uint64_t upload_size = 0;
  std::string payload_sha256_hex = std::string(kEmptySha256Hex);
  const std::filesystem::path* download = nullptr;  // Get: where a 200 body goes
  std::string query;               // List: the canonical query string ("" none)
  std::string* text = nullptr;     // List: where a 200 body goes (kS3ListBodyBytesMax)
};

struct Outcome {
  Status status;
  S3Reply reply;
};

// Arms the stream's timer before each I/O step: the idle timeout, never past the
// request's deadline.
class Deadline {
 public:
  Deadline(const S3Config& config)
      : deadline_(Clock::now() + milliseconds(config.request_timeout_ms)),
        idle_(config.idle_timeout_ms),
        connect_(config.connect_timeout_ms) {}

  void Arm(beast::tcp_stream& stream) const { stream.expires_at(Until(idle_)); }
  void ArmConnect(beast::tcp_stream& stream) const { stream.expires_at(Until(connect_)); }

 private:
  Clock::time_point Until(milliseconds step) const {
    return std::min(Clock::now() + step, deadline_);
  }
  Clock::time_point deadline_;
  milliseconds idle_, connect_;
};

// The text between <Tag> and </Tag> in S3's error XML, or "".
std::string XmlField(std::string_view xml, std::string_view tag) {
  std::string open = "<" + std::string(tag) + ">";
  std::string close = "</" + std::string(tag) + ">";
  size_t begin = xml.find(open);
  if (begin == std::string_view::npos) return "";
  begin += open.size();
  size_t end = xml.find(close, begin);
  if (end == std::string_view::npos) return "";
  return std::string(xml.substr(begin, std::min<size_t>(end - begin, 512)));
}

// S3 escapes the five XML entities in keys and tokens; nothing else is expected.
std::string XmlUnescape(std::string_view text) {
  static constexpr std::pair<std::string_view, char> kEntities[] = {
      {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    bool matched = false;
    for (const auto& [entity, c] : kEntities) {
      if (text.substr(i, entity.size()) == entity) {
        out += c;
        i += entity.size();
        matched = true;
        break;
      }
    }
    if (!matched) out += text[i++];
  }
  return out;
}

// The text between <tag> and </tag> in `xml` from `from` on (unbounded, unescaped),
// with the position after the closing tag; nullopt when absent.
std::optional<std::pair<std::string, size_t>> XmlElement(std::string_view xml,
                                                         std::string_view tag, size_t from) {
  std::string open = "<" + std::string(tag) + ">";
  std::string close = "</" + std::string(tag) + ">";
  size_t begin = xml.find(open, from);
  if (begin == std::string_view::npos) return std::nullopt;
  begin += open.size();
  size_t end = xml.find(close, begin);
  if (end == std::string_view::npos) return std::nullopt;
  return std::make_pair(XmlUnescape(xml.substr(begin, end - begin)), end + close.size());
}

// A ListObjectsV2 answer (ListBucketResult) into `page`; false when it is not one.
bool ParseListPage(std::string_view xml, S3ListPage* page) {
  if (xml.find("<ListBucketResult") == std::string_view::npos) return false;
  page->objects.clear();
  for (size_t at = 0;;) {
    auto contents = XmlElement(xml, "Contents", at);
    if (!contents) break;
    at = contents->second;
    const std::string& c = contents->first;
    auto key = XmlElement(c, "Key", 0);
    auto size = XmlElement(c, "Size", 0);
    if (!key) return false;
    S3ListedObject object{.key = key->first};
    if (size) {
      auto [end, ec] = std::from_chars(size->first.data(), size->first.data() + size->first.size(),
                                       object.size);
      if (ec != std::errc()) return false;
    }
    if (auto modified = XmlElement(c, "LastModified", 0)) object.last_modified = modified->first;
    page->objects.push_back(std::move(object));
  }
  auto truncated = XmlElement(xml, "IsTruncated", 0);
  page->truncated = truncated && truncated->first == "true";
  auto token = XmlElement(xml, "NextContinuationToken", 0);
  page->next_token = page->truncated && token ? token->first : "";
  return !page->truncated || !page->next_token.empty();
}

template <class Stream, class Body>
asio::awaitable<void> WriteRequest(Stream& stream, http::request<Body>& request,
                                   const Deadline& deadline) {
  http::request_serializer<Body> serializer{request};
  while (!serializer.is_done()) {
    deadline.Arm(beast::get_lowest_layer(stream));
    co_await http::async_write_some(stream, serializer, asio::use_awaitable);
  }
}

// Writes the `size` bytes of `file` from its current position; false (with `failed`
// set) when the file ends early or cannot be read.
template <class Stream>
asio::awaitable<bool> WriteFile(Stream& stream, beast::file& file, uint64_t size,
                                const Deadline& deadline, Outcome& failed) {
  std::vector<char> chunk(static_cast<size_t>(std::min<uint64_t>(kWriteChunkBytes, size)));
  for (uint64_t left = size; left > 0;) {
    beast::error_code ec;
    size_t n = file.read(chunk.data(), static_cast<size_t>(std::min<uint64_t>(chunk.size(), left)), ec);
    if (ec || n == 0) {
      failed.status = Status::IoError("cannot read the upload: " +
                                      (ec ? ec.message() : std::string("it shrank")));
      co_return false;
    }
    deadline.Arm(beast::get_lowest_layer(stream));
    co_await asio::async_write(stream, asio::buffer(chunk.data(), n), asio::use_awaitable);
    left -= n;
  }
  co_return true;
}

template <class Stream, class Parser>
asio::awaitable<void> ReadUntil(Stream& stream, beast::flat_buffer& buffer, Parser& parser,
                                const Deadline& deadline, bool header_only) {
  while (header_only ? !parser.is_header_done() : !parser.is_done()) {
    deadline.Arm(beast::get_lowest_layer(stream));
    co_await http::async_read_some(stream, buffer, parser, asio::use_awaitable);
  }
}

// Reads the answer: the header, then the body into the download file (a 200 GET) or
// into memory (an error, bounded).
template <class Stream>
asio::awaitable<Outcome> ReadResponse(Stream& stream, const Call& call, const Deadline& deadline) {
  beast::flat_buffer buffer;
  buffer.reserve(kReadBufferBytes);
  http::response_parser<http::empty_body> header;
  header.skip(call.verb == http::verb::head);
  header.body_limit(boost::none);  // Beast checks Content-Length here; bounded below
  co_await ReadUntil(stream, buffer, header, deadline, true);
  Outcome out;
  out.reply.status = static_cast<int>(header.get().result_int());
  if (out.reply.status == 200 && call.download != nullptr) {
    beast::error_code ec;
    if (header.is_done()) {  // an empty object: an empty file
      beast::file empty;
      empty.open(call.download->c_str(), beast::file_mode::write, ec);
    } else {
      http::response_parser<http::file_body> body{std::move(header)};
      body.body_limit(boost::none);  // streamed to disk; the store bounds the cache
      body.get().body().open(call.download->c_str(), beast::file_mode::write, ec);
      if (!ec) co_await ReadUntil(stream, buffer, body, deadline, false);
    }
    if (ec) {
      out.status = Status::IoError("cannot write " + call.download->string() + ": " + ec.message());
    }
    co_return out;
  }
  if (out.reply.status == 200 && call.text != nullptr) {
    call.text->clear();
    if (header.is_done()) co_return out;
    http::response_parser<http::string_body> body{std::move(header)};
    body.body_limit(kS3ListBodyBytesMax);  // over it: an exception, kUnavailable
    co_await ReadUntil(stream, buffer, body, deadline, false);
    *call.text = std::move(body.get().body());
    co_return out;
  }
  if (header.is_done()) co_return out;
  if (header.content_length().value_or(0) > kS3ErrorBodyBytesMax) co_return out;  // unread
  http::response_parser<http::string_body> body{std::move(header)};
  body.body_limit(kS3ErrorBodyBytesMax);
  co_await ReadUntil(stream, buffer, body, deadline, false);
  out.reply.code = XmlField(body.get().body(), "Code");
  out.reply.message = XmlField(body.get().body(), "Message");
  co_return out;
}

}  // namespace

Result<S3Endpoint> ParseS3Endpoint(std::string_view url) {
  Status bad = Status::InvalidArgument("expected http(s)://HOST[:PORT] (no path), got \"" +
                                       std::string(url) + "\"");
  S3Endpoint endpoint;
  std::string_view rest = url;
  if (rest.starts_with("https://")) {
    endpoint.tls = true;
    endpoint.port = 443;
    rest.remove_prefix(8);
  } else if (rest.starts_with("http://")) {
    endpoint.port = 80;
    rest.remove_prefix(7);
  } else {
    return bad;
  }
  if (rest.ends_with('/')) rest.remove_suffix(1);
  std::string_view host = rest, port;
  if (rest.starts_with('[')) {
    size_t close = rest.find(']');
    if (close == std::string_view::npos) return bad;
    host = rest.substr(1, close - 1);
    std::string_view after = rest.substr(close + 1);
    if (!after.empty() && !after.starts_with(':')) return bad;
    if (!after.empty()) port = after.substr(1);
  } else if (size_t colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  auto host_char = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == ':';
  };
  if (host.empty() || host.size() > 253 || !std::all_of(host.begin(), host.end(), host_char)) {
    return bad;
  }
  if (!port.empty()) {
    if (port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) {
          return c >= '0' && c <= '9';
        })) {
      return bad;
    }
    int value = std::stoi(std::string(port));
    if (value <= 0 || value > 65535) return bad;
    endpoint.port = static_cast<uint16_t>(value);
  }
  endpoint.host = std::string(host);
  return endpoint;
}

struct S3Client::Impl {
  S3Endpoint endpoint;
  S3Config config;
  std::string host;         // the host connected to (bucket.host when virtual-hosted)
  std::string host_header;  // with the port when not the scheme's default
  asio::ssl::context tls{asio::ssl::context::tls_client};

  Impl(S3Endpoint e, const S3Config& c) : endpoint(std::move(e)), config(c) {
    host = config.path_style ? endpoint.host : config.bucket + "." + endpoint.host;
    bool v6 = host.find(':') != std::string::npos;
    host_header = v6 ? "[" + host + "]" : host;
    if (endpoint.port != (endpoint.tls ? 443 : 80)) {
      host_header += ":" + std::to_string(endpoint.port);
    }
    if (endpoint.tls) {
      tls.set_default_verify_paths();
      tls.set_verify_mode(asio::ssl::verify_peer);
    }
  }

  std::string Target(std::string_view key) const {
    if (key.empty()) return config.path_style ? UriEncode("/" + config.bucket, true) : "/";
    std::string path = config.path_style ? "/" + config.bucket + "/" + std::string(key)
                                         : "/" + std::string(key);
    return UriEncode(path, true);
  }

  // Builds and signs the request (any body type) for `call`.
  template <class Body>
  void Prepare(http::request<Body>& request, const Call& call) const {
    std::string path = Target(call.key);
    std::string target = call.query.empty() ? path : path + "?" + call.query;
    std::string date = FormatAmzDate(std::chrono::system_clock::now());
    SigV4Request signing{.method = std::string(http::to_string(call.verb)),
                         .canonical_uri = path,
                         .canonical_query = call.query,
                         .headers = {{"host", host_header},
                                     {"x-amz-content-sha256", call.payload_sha256_hex},
                                     {"x-amz-date", date}},
                         .payload_sha256_hex = call.payload_sha256_hex};
    SigV4Key key{.access_key_id = config.access_key_id,
                 .secret_access_key = config.secret_access_key,
                 .region = config.region,
                 .service = std::string(kService)};
    request.method(call.verb);
    request.target(target);
    request.version(11);
    request.set(http::field::host, host_header);
    request.set("x-amz-content-sha256", call.payload_sha256_hex);
    request.set("x-amz-date", date);
    request.set(http::field::authorization, SignV4(key, signing).authorization);
    request.set(http::field::user_agent, "nebu-media");
    request.set(http::field::connection, "close");
  }

  template <class Stream>
  asio::awaitable<Outcome> Exchange(Stream& stream, const Call& call, const Deadline& deadline) {
    if (call.upload != nullptr) {
      beast::file file;
      beast::error_code ec;
      file.open(call.upload->c_str(), beast::file_mode::scan, ec);
      uint64_t size = ec ? 0 : file.size(ec);
      if (ec) {
        co_return Outcome{Status::IoError("cannot read " + call.upload->string() + ": " +
                                          ec.message()),
                          {}};
      }
      if (size != call.upload_size) {
        co_return Outcome{Status::InvalidArgument(call.upload->string() + " holds " +
                                                  std::to_string(size) + " bytes, not " +
                                                  std::to_string(call.upload_size)),
                          {}};
      }
      // The header through Beast, the body in kWriteChunkBytes pieces (Beast's file_body
      // writes 4 KiB at a time).
      http::request<http::empty_body> request;
      Prepare(request, call);
      request.set(http::field::content_type, "application/octet-stream");
      request.content_length(size);
      co_await WriteRequest(stream, request, deadline);
      Outcome failed;
      if (!co_await WriteFile(stream, file, size, deadline, failed)) co_return failed;
    } else {
      http::request<http::empty_body> request;
      Prepare(request, call);
      co_await WriteRequest(stream, request, deadline);
    }
    co_return co_await ReadResponse(stream, call, deadline);
  }

  asio::awaitable<Outcome> Do(const Call& call) {
    auto executor = co_await asio::this_coro::executor;
    Deadline deadline(config);
    tcp::resolver resolver(executor);
    auto addresses = co_await resolver.async_resolve(host, std::to_string(endpoint.port),
                                                     asio::use_awaitable);
    if (!endpoint.tls) {
      beast::tcp_stream stream(executor);
      deadline.ArmConnect(stream);
      co_await stream.async_connect(addresses, asio::use_awaitable);
      Outcome out = co_await Exchange(stream, call, deadline);
      beast::error_code ignored;
      stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
      co_return out;
    }
    beast::ssl_stream<beast::tcp_stream> stream(executor, tls);
    if (!SSL_set_tlsext_host_name(stream.native_handle(), host.c_str())) {
      co_return Outcome{Status::Unavailable("cannot set the TLS server name " + host), {}};
    }
    stream.set_verify_callback(asio::ssl::host_name_verification(host));
    deadline.ArmConnect(beast::get_lowest_layer(stream));
    co_await beast::get_lowest_layer(stream).async_connect(addresses, asio::use_awaitable);
    deadline.ArmConnect(beast::get_lowest_layer(stream));
    co_await stream.async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
    co_return co_await Exchange(stream, call, deadline);
  }

  // Runs `call` to completion on its own I/O context; transport errors → kUnavailable.
  Result<S3Reply> Run(const Call& call, std::string_view what) {
    asio::io_context io;
    Outcome out;
    std::string where = std::string(what) + " " + call.key;
    asio::co_spawn(io, Do(call), [&](std::exception_ptr error, Outcome result) {
      if (!error) {
        out = std::move(result);
        return;
      }
      try {
        std::rethrow_exception(error);
      } catch (const boost::system::system_error& e) {
        std::string cause = e.code() == beast::error::timeout
                                ? std::string("timed out (connect ") +
                                      std::to_string(config.connect_timeout_ms) + " ms, idle " +
                                      std::to_string(config.idle_timeout_ms) + " ms, request " +
                                      std::to_string(config.request_timeout_ms) + " ms)"
                                : e.code().message();
        out.status = Status::Unavailable("S3 " + where + " at " + host_header + ": " + cause);
      } catch (const std::exception& e) {
        out.status = Status::Unavailable("S3 " + where + " at " + host_header + ": " + e.what());
      }
    });
    io.run();
    if (!out.status.ok()) return out.status;
    return out.reply;
  }
};

S3Client::S3Client(S3Endpoint endpoint, const S3Config& config)
    : impl_(std::make_unique<Impl>(std::move(endpoint), config)) {
  where_ = std::string(impl_->endpoint.tls ? "https://" : "http://") + impl_->host_header +
           (config.path_style ? "/" + config.bucket : "");
}

S3Client::~S3Client() = default;

Result<S3Reply> S3Client::Head(std::string_view key) {
  Call call{.verb = http::verb::head, .key = std::string(key)};
  return impl_->Run(call, "HEAD");
}

Result<S3Reply> S3Client::Put(std::string_view key, const std::filesystem::path& file,
                              uint64_t size, std::string_view sha256_hex) {
  Call call{.verb = http::verb::put,
            .key = std::string(key),
            .upload = &file,
            .upload_size = size,
            .payload_sha256_hex = std::string(sha256_hex)};
  return impl_->Run(call, "PUT");
}

Result<S3Reply> S3Client::Get(std::string_view key, const std::filesystem::path& dest) {
  Call call{.verb = http::verb::get, .key = std::string(key), .download = &dest};
  return impl_->Run(call, "GET");
}

Result<S3Reply> S3Client::Delete(std::string_view key) {
  Call call{.verb = http::verb::delete_, .key = std::string(key)};
  return impl_->Run(call, "DELETE");
}

Result<S3Reply> S3Client::List(std::string_view prefix, std::string_view continuation_token,
                               int max_keys, S3ListPage* page) {
  max_keys = std::clamp(max_keys, 1, kS3ListKeysPerPageMax);
  // The canonical query: parameters sorted by name, names and values URI-encoded.
  std::string query;
  if (!continuation_token.empty()) {
    query += "continuation-token=" + UriEncode(continuation_token, false) + "&";
  }
  query += "list-type=2&max-keys=" + std::to_string(max_keys) +
           "&prefix=" + UriEncode(prefix, false);
  std::string body;
  Call call{.verb = http::verb::get, .key = "", .query = query, .text = &body};
  Result<S3Reply> reply = impl_->Run(call, "LIST " + std::string(prefix));
  if (!reply.ok() || reply->status != 200) return reply;
  if (!ParseListPage(body, page)) {
    return Status::Unavailable("S3 LIST " + std::string(prefix) + " at " + impl_->host_header +
                               ": the answer is not a ListObjectsV2 result");
  }
  return reply;
}

}  // namespace nebu::media
