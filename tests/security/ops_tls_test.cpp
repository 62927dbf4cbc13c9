// Goal: TLS on the client and ops listeners (NEBU_TLS_CERT_FILE, NEBU_TLS_KEY_FILE):
// a client that verifies the certificate against a throwaway CA connects with TLS 1.3;
// a client limited to TLS 1.2 and a plain-HTTP client get nothing; SIGHUP reloads a
// renewed certificate without closing the listener (the next connection sees it).
// Method: openssl(1) makes the CA and two server certificates (CN nebu-one, nebu-two;
// SAN IP:127.0.0.1); the real nebu binary serves; the test's OpenSSL client verifies
// the chain and the IP, then reads the peer certificate's CN.
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cstdlib>
#include <filesystem>

#include "tests/security/nebu_process.h"
#include "tests/security/ops_util.h"

namespace nebu::security {
namespace {

using namespace std::chrono_literals;

struct TlsReply {
  bool handshake = false;
  int status = 0;
  std::string peer_cn;
  std::string body;
};

// GET `target` over TLS (at most `max_version`) to 127.0.0.1:port, verifying the
// certificate against ca_file and the IP 127.0.0.1.
TlsReply TlsGet(uint16_t port, const std::string& ca_file, const std::string& target,
                int max_version = TLS1_3_VERSION) {
  TlsReply reply;
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(ctx, max_version == TLS1_3_VERSION ? TLS1_3_VERSION : 0);
  SSL_CTX_set_max_proto_version(ctx, max_version);
  SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  SSL* ssl = SSL_new(ctx);
  X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), "127.0.0.1");
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval timeout{.tv_sec = 10, .tv_usec = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) == 1 && SSL_get_verify_result(ssl) == X509_V_OK &&
        SSL_version(ssl) == TLS1_3_VERSION) {
      reply.handshake = true;
      if (X509* peer = SSL_get1_peer_certificate(ssl)) {
        char cn[256] = {0};
        X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof cn);
        reply.peer_cn = cn;
        X509_free(peer);
      }
      std::string request = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
      SSL_write(ssl, request.data(), static_cast<int>(request.size()));
      std::string response;
      char chunk[4096];
      for (int n; (n = SSL_read(ssl, chunk, sizeof chunk)) > 0;) response.append(chunk, n);
      if (response.size() > 12 && response.starts_with("HTTP/1.1 ")) {
        reply.status = std::atoi(response.substr(9, 3).c_str());
        size_t end = response.find("\r\n\r\n");
        if (end != std::string::npos) reply.body = response.substr(end + 4);
      }
    }
  }
  SSL_free(ssl);
  ::close(fd);
  SSL_CTX_free(ctx);
  ERR_clear_error();
  return reply;
}

class OpsTlsTest : public SecurityTest {
 protected:
  void SetUp() override {
    if (std::system("openssl version >/dev/null 2>&1") != 0) GTEST_SKIP() << "no openssl(1)";
    pki_ = dir_.path() + "/pki";
    std::filesystem::create_directories(pki_);
    ASSERT_EQ(Sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
                 "-days 2 -subj /CN=nebu-test-ca -keyout ca.key -out ca.pem"),
              0);
    ASSERT_TRUE(MakeServerCert("nebu-one", "one"));
    ASSERT_TRUE(MakeServerCert("nebu-two", "two"));
    Install("one");
  }
  int Sh(const std::string& command) {
    return std::system(("cd " + pki_ + " && " + command + " >/dev/null 2>&1").c_str());
  }
  bool MakeServerCert(const std::string& cn, const std::string& name) {
    {
      std::ofstream ext(pki_ + "/" + name + ".ext");
      ext << "subjectAltName=IP:127.0.0.1,DNS:localhost\n";
    }  // closed (flushed) before openssl reads it
    return Sh("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=" +
              cn + " -keyout " + name + ".key -out " + name + ".csr") == 0 &&
           Sh("openssl x509 -req -in " + name + ".csr -CA ca.pem -CAkey ca.key -CAcreateserial "
              "-days 2 -extfile " + name + ".ext -out " + name + ".pem") == 0;
  }
  // Puts certificate `name` where NEBU_TLS_*_FILE point (renamed into place).
  void Install(const std::string& name) {
    for (const char* ext : {".pem", ".key"}) {
      std::filesystem::copy_file(pki_ + "/" + name + ext, pki_ + "/next" + ext,
                                 std::filesystem::copy_options::overwrite_existing);
      std::filesystem::rename(pki_ + "/next" + ext, pki_ + "/server" + ext);
    }
  }
  void StartTls() {
    const std::string ca = pki_ + "/ca.pem";
    nebu_.health_probe = [ca](uint16_t ops_port) {
      return TlsGet(ops_port, ca, "/health").status == 200;
    };
    Start({{"NEBU_TLS_CERT_FILE", pki_ + "/server.pem"},
           {"NEBU_TLS_KEY_FILE", pki_ + "/server.key"}});
  }
  std::string ca() const { return pki_ + "/ca.pem"; }

  std::string pki_;
};

TEST_F(OpsTlsTest, ListenersSpeakVerifiedTls13AndSighupReloadsTheCertificate) {
  StartTls();
  TlsReply versions = TlsGet(nebu_.client_port(), ca(), "/_matrix/client/versions");
  ASSERT_TRUE(versions.handshake);
  EXPECT_EQ(versions.status, 200) << versions.body;
  EXPECT_EQ(versions.peer_cn, "nebu-one");
  TlsReply ready = TlsGet(nebu_.ops_port(), ca(), "/ready");
  EXPECT_EQ(ready.status, 200) << ready.body;

  // TLS 1.2 at most: no handshake. Plain HTTP: no answer.
  EXPECT_FALSE(TlsGet(nebu_.client_port(), ca(), "/_matrix/client/versions", TLS1_2_VERSION)
                   .handshake);
  EXPECT_EQ(Call("GET", "/_matrix/client/versions").status, 0);

  // A renewed certificate: SIGHUP, and the next connection sees it; same listener.
  Install("two");
  ASSERT_EQ(::kill(nebu_.pid(), SIGHUP), 0);
  EXPECT_TRUE(WaitFor([&] {
    return TlsGet(nebu_.client_port(), ca(), "/_matrix/client/versions").peer_cn == "nebu-two";
  }, 10s)) << "the reloaded certificate is not served";
  EXPECT_EQ(TlsGet(nebu_.ops_port(), ca(), "/health").peer_cn, "nebu-two");
  EXPECT_TRUE(nebu_.Running());

  // A broken file on SIGHUP: the previous certificate stays.
  std::ofstream(pki_ + "/server.pem") << "not a certificate";
  ASSERT_EQ(::kill(nebu_.pid(), SIGHUP), 0);
  EXPECT_TRUE(WaitFor([&] { return nebu_.Log().find("TLS reload failed") != std::string::npos; },
                      10s));
  TlsReply after = TlsGet(nebu_.client_port(), ca(), "/_matrix/client/versions");
  EXPECT_EQ(after.status, 200);
  EXPECT_EQ(after.peer_cn, "nebu-two");
}

TEST_F(OpsTlsTest, AKeyWithoutACertificateOrAMismatchedPairIsRefusedAtStart) {
  EXPECT_TRUE(nebu_.StartRefused(DataDir(), {{"NEBU_TLS_KEY_FILE", pki_ + "/server.key"}}));
  EXPECT_TRUE(nebu_.StartRefused(DataDir(), {{"NEBU_TLS_CERT_FILE", pki_ + "/one.pem"},
                                             {"NEBU_TLS_KEY_FILE", pki_ + "/two.key"}}));
}

}  // namespace
}  // namespace nebu::security
