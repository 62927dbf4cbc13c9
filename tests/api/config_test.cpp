// Goal: NEBU_* parsing: defaults, overrides, the *_FILE rule, and one-line errors that
// name the variable. Method: LoadConfig on literal environments; *_FILE values come
// from files in a per-test temporary directory. (app/config.cpp is tested here because
// api_test is the binary of the HTTP surfaces and the composition root.)
#include "app/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace nebu::app {
namespace {

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("nebu_config_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string WriteFile(const std::string& name, const std::string& contents) {
    std::filesystem::path path = dir_ / name;
    std::ofstream(path) << contents;
    return path.string();
  }

  std::filesystem::path dir_;
};

std::string ErrorOf(const Environment& env) {
  Result<Config> config = LoadConfig(env);
  EXPECT_FALSE(config.ok());
  return config.ok() ? "" : config.status().message();
}

TEST_F(ConfigTest, EmptyEnvironmentGivesTheEmbeddedDefaults) {
  Result<Config> config = LoadConfig({});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->data_dir, "./nebu-data");
  EXPECT_EQ(config->client_addr.ToString(), "127.0.0.1:8008");
  EXPECT_EQ(config->ops_addr.ToString(), "127.0.0.1:8080");
  EXPECT_EQ(config->server_name, "localhost");
  EXPECT_EQ(config->public_base_url, "http://localhost:8008");
  EXPECT_EQ(config->log_level, "info");
  EXPECT_FALSE(config->registration_open);
  EXPECT_TRUE(config->trusted_proxies.empty());
  EXPECT_TRUE(config->warnings.empty());
}

TEST_F(ConfigTest, MediaVariables) {
  Result<Config> defaults = LoadConfig({});
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->media.backend, "file");
  EXPECT_EQ(defaults->media.upload_bytes_max, 50u * 1024 * 1024);
  EXPECT_EQ(defaults->media.user_quota_bytes, 0u);
  EXPECT_TRUE(defaults->media.legacy);
  EXPECT_FALSE(defaults->media.addr);
  Result<Config> set = LoadConfig({{"NEBU_MEDIA_BACKEND", "s3"},
                                   {"NEBU_MEDIA_MAX_UPLOAD_BYTES", "1000"},
                                   {"NEBU_MEDIA_USER_QUOTA_BYTES", "5000"},
                                   {"NEBU_MEDIA_LEGACY", "off"},
                                   {"NEBU_MEDIA_ADDR", "127.0.0.1:8009"}});
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ(set->media.backend, "s3");
  EXPECT_EQ(set->media.upload_bytes_max, 1000u);
  EXPECT_EQ(set->media.user_quota_bytes, 5000u);
  EXPECT_FALSE(set->media.legacy);
  ASSERT_TRUE(set->media.addr);
  EXPECT_EQ(set->media.addr->ToString(), "127.0.0.1:8009");
  EXPECT_NE(ErrorOf({{"NEBU_MEDIA_BACKEND", "ftp"}}).find("NEBU_MEDIA_BACKEND"), std::string::npos);
  EXPECT_NE(ErrorOf({{"NEBU_MEDIA_MAX_UPLOAD_BYTES", "0"}}).find("NEBU_MEDIA_MAX_UPLOAD_BYTES"),
            std::string::npos);
  EXPECT_NE(ErrorOf({{"NEBU_MEDIA_MAX_UPLOAD_BYTES", "1x"}}).find("NEBU_MEDIA_MAX_UPLOAD_BYTES"),
            std::string::npos);
  EXPECT_NE(ErrorOf({{"NEBU_MEDIA_LEGACY", "maybe"}}).find("NEBU_MEDIA_LEGACY"), std::string::npos);
  EXPECT_NE(ErrorOf({{"NEBU_MEDIA_ADDR", "127.0.0.1:8008"}}).find("NEBU_MEDIA_ADDR"),
            std::string::npos);
}

TEST_F(ConfigTest, VariablesOverrideDefaults) {
  Result<Config> config = LoadConfig({{"NEBU_DATA_DIR", "/var/lib/nebu"},
                                      {"NEBU_CLIENT_ADDR", "[::]:443"},
                                      {"NEBU_OPS_ADDR", "0.0.0.0:9090"},
                                      {"NEBU_SERVER_NAME", "example.org"},
                                      {"NEBU_LOG_LEVEL", "debug"}});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->data_dir, "/var/lib/nebu");
  EXPECT_EQ(config->client_addr.host, "::");
  EXPECT_EQ(config->client_addr.port, 443);
  EXPECT_EQ(config->client_addr.ToString(), "[::]:443");
  EXPECT_EQ(config->ops_addr.ToString(), "0.0.0.0:9090");
  EXPECT_EQ(config->server_name, "example.org");
  EXPECT_EQ(config->public_base_url, "https://example.org");
  EXPECT_EQ(config->log_level, "debug");
}

TEST_F(ConfigTest, FileVariantGivesTheTrimmedFileContents) {
  std::string path = WriteFile("name", "  matrix.example.org\n\n");
  Result<Config> config = LoadConfig({{"NEBU_SERVER_NAME_FILE", path}});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->server_name, "matrix.example.org");
}

TEST_F(ConfigTest, BothVariableAndFileVariantIsAnError) {
  std::string path = WriteFile("level", "warn");
  std::string error = ErrorOf({{"NEBU_LOG_LEVEL", "info"}, {"NEBU_LOG_LEVEL_FILE", path}});
  EXPECT_NE(error.find("NEBU_LOG_LEVEL_FILE"), std::string::npos) << error;
  EXPECT_NE(error.find("use one"), std::string::npos) << error;
}

TEST_F(ConfigTest, UnreadableFileIsAnErrorNamingTheVariable) {
  std::string error = ErrorOf({{"NEBU_DATA_DIR_FILE", (dir_ / "missing").string()}});
  EXPECT_EQ(error.rfind("NEBU_DATA_DIR_FILE: cannot read", 0), 0u) << error;
}

TEST_F(ConfigTest, BadValuesAreOneLineErrorsNamingTheVariable) {
  struct Case {
    const char* name;
    const char* value;
  };
  for (Case c : {Case{"NEBU_CLIENT_ADDR", "localhost:8008"}, Case{"NEBU_CLIENT_ADDR", "8008"},
                 Case{"NEBU_OPS_ADDR", "127.0.0.1:99999"}, Case{"NEBU_OPS_ADDR", "127.0.0.1:"},
                 Case{"NEBU_OPS_ADDR", "127.0.0.1:8008"}, Case{"NEBU_SERVER_NAME", "bad name"},
                 Case{"NEBU_SERVER_NAME", "example.org:port"},
                 Case{"NEBU_PUBLIC_BASEURL", "ftp://x"}, Case{"NEBU_LOG_LEVEL", "verbose"}}) {
    std::string error = ErrorOf({{c.name, c.value}});
    EXPECT_EQ(error.rfind(std::string(c.name) + ":", 0), 0u)
        << c.name << "=" << c.value << ": " << error;
    EXPECT_EQ(error.find('\n'), std::string::npos) << error;
  }
}

TEST_F(ConfigTest, AcceptsServerNamesWithPortsAndIpLiterals) {
  for (const char* name : {"example.org:8448", "1.2.3.4", "[::1]:8448", "localhost"}) {
    Result<Config> config = LoadConfig({{"NEBU_SERVER_NAME", name}});
    EXPECT_TRUE(config.ok()) << name << ": " << config.status().ToString();
  }
}

TEST_F(ConfigTest, UnknownNebuVariablesComeBackAsWarnings) {
  Result<Config> config = LoadConfig({{"NEBU_CLIENT_ADRR", "x"}, {"NEBU_DATA_DIR_FILE", ""}});
  ASSERT_TRUE(config.ok());
  ASSERT_EQ(config->warnings.size(), 1u);
  EXPECT_NE(config->warnings[0].find("NEBU_CLIENT_ADRR"), std::string::npos);
}


// ---- the cluster variables ----

const std::string kSecret(32, 'k');  // the shortest secret accepted

TEST_F(ConfigTest, ClusterDefaultsAreASingleNodeNamedAfterTheHost) {
  Result<Config> config = LoadConfig({});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  const ClusterConfig& cluster = config->cluster;
  EXPECT_FALSE(cluster.enabled());
  EXPECT_EQ(cluster.etcd_prefix, "/nebu");
  char host[256] = {};
  ASSERT_EQ(gethostname(host, sizeof(host) - 1), 0);
  EXPECT_EQ(cluster.node_id, host);
  EXPECT_EQ(cluster.grpc_addr.ToString(), "127.0.0.1:9000");
  EXPECT_TRUE(cluster.internal_secret.empty());
}

TEST_F(ConfigTest, ClusterVariablesAreRead) {
  std::string secret_file = WriteFile("secret", "  " + kSecret + "\n");
  std::string password_file = WriteFile("password", "hunter2\n");
  std::string ca = WriteFile("ca.pem", "ca");
  std::string cert = WriteFile("cert.pem", "cert");
  std::string key = WriteFile("key.pem", "key");
  Result<Config> config = LoadConfig(
      {{"NEBU_ETCD_ENDPOINTS", "https://127.0.0.1:2379, https://[::1]:2379,https://etcd-3.lan:2379"},
       {"NEBU_ETCD_PREFIX", "/prod/nebu"},
       {"NEBU_NODE_ID", "node-1.eu_west"},
       {"NEBU_GRPC_ADDR", "0.0.0.0:9100"},
       {"NEBU_INTERNAL_SECRET_FILE", secret_file},
       {"NEBU_ETCD_USERNAME", "nebu"},
       {"NEBU_ETCD_PASSWORD_FILE", password_file},
       {"NEBU_ETCD_CA_FILE", ca},
       {"NEBU_ETCD_CERT_FILE", cert},
       {"NEBU_ETCD_KEY_FILE", key}});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  const ClusterConfig& cluster = config->cluster;
  ASSERT_TRUE(cluster.enabled());
  ASSERT_EQ(cluster.etcd_endpoints.size(), 3u);
  EXPECT_EQ(cluster.etcd_endpoints[0].ToString(), "https://127.0.0.1:2379");
  EXPECT_EQ(cluster.etcd_endpoints[1].host, "::1");
  EXPECT_EQ(cluster.etcd_endpoints[1].ToString(), "https://[::1]:2379");
  EXPECT_EQ(cluster.etcd_endpoints[2].host, "etcd-3.lan");
  EXPECT_TRUE(cluster.etcd_endpoints[2].tls);
  EXPECT_EQ(cluster.etcd_prefix, "/prod/nebu");
  EXPECT_EQ(cluster.node_id, "node-1.eu_west");
  EXPECT_EQ(cluster.grpc_addr.ToString(), "0.0.0.0:9100");
  EXPECT_EQ(cluster.internal_secret, kSecret);
  EXPECT_EQ(cluster.etcd_username, "nebu");
  EXPECT_EQ(cluster.etcd_password, "hunter2");
  EXPECT_EQ(cluster.etcd_ca_file, ca);
  EXPECT_EQ(cluster.etcd_cert_file, cert);
  EXPECT_EQ(cluster.etcd_key_file, key);
  EXPECT_TRUE(config->warnings.empty());  // NEBU_ETCD_CA_FILE is known, not NEBU_ETCD_CA + _FILE
}

// Each rule of ClusterConfig, with the exact message (one line, naming the variable).
TEST_F(ConfigTest, BadClusterVariablesAreOneLineErrorsNamingTheVariable) {
  const std::string missing = (dir_ / "missing.pem").string();
  const std::string cert = WriteFile("cert.pem", "cert");
  const Environment cluster = {{"NEBU_ETCD_ENDPOINTS", "http://127.0.0.1:2379"},
                               {"NEBU_INTERNAL_SECRET", kSecret}};
  auto with = [&](Environment extra) {
    Environment env = cluster;
    for (auto& [name, value] : extra) env[name] = value;
    return env;
  };
  std::string many;
  for (int i = 0; i <= 16; ++i) many += (i ? "," : "") + std::string("http://e") + std::to_string(i) + ":2379";
  struct Case {
    Environment env;
    std::string error;
  };
  const std::vector<Case> cases = {
      {{{"NEBU_ETCD_ENDPOINTS", "127.0.0.1:2379"}},
       "NEBU_ETCD_ENDPOINTS: expected http://HOST:PORT or https://HOST:PORT, got \"127.0.0.1:2379\""},
      {{{"NEBU_ETCD_ENDPOINTS", "http://127.0.0.1"}},
       "NEBU_ETCD_ENDPOINTS: expected http(s)://HOST:PORT (no path), got \"http://127.0.0.1\""},
      {{{"NEBU_ETCD_ENDPOINTS", "http://etcd:2379/v3"}},
       "NEBU_ETCD_ENDPOINTS: expected http(s)://HOST:PORT (no path), got \"http://etcd:2379/v3\""},
      {{{"NEBU_ETCD_ENDPOINTS", "http://a:2379,,http://b:2379"}},
       "NEBU_ETCD_ENDPOINTS: expected http://HOST:PORT or https://HOST:PORT, got \"\""},
      {{{"NEBU_ETCD_ENDPOINTS", "http://a:2379,https://b:2379"}},
       "NEBU_ETCD_ENDPOINTS: mixes http:// and https:// URLs; use one scheme"},
      {{{"NEBU_ETCD_ENDPOINTS", "http://a:2379,http://a:2379"}},
       "NEBU_ETCD_ENDPOINTS: names http://a:2379 twice"},
      {{{"NEBU_ETCD_ENDPOINTS", many}}, "NEBU_ETCD_ENDPOINTS: more than 16 URLs"},
      {{{"NEBU_ETCD_PREFIX", "nebu"}},
       "NEBU_ETCD_PREFIX: expected a key prefix such as /nebu (starts with /, no trailing /, "
       "printable, at most 128 bytes), got \"nebu\""},
      {{{"NEBU_ETCD_PREFIX", "/nebu/"}},
       "NEBU_ETCD_PREFIX: expected a key prefix such as /nebu (starts with /, no trailing /, "
       "printable, at most 128 bytes), got \"/nebu/\""},
      {{{"NEBU_ETCD_PREFIX", "/a b"}},
       "NEBU_ETCD_PREFIX: expected a key prefix such as /nebu (starts with /, no trailing /, "
       "printable, at most 128 bytes), got \"/a b\""},
      {{{"NEBU_NODE_ID", "node/1"}},
       "NEBU_NODE_ID: is not a node ID ([A-Za-z0-9._-], 1 to 64), got \"node/1\""},
      {{{"NEBU_NODE_ID", std::string(65, 'n')}},
       "NEBU_NODE_ID: is not a node ID ([A-Za-z0-9._-], 1 to 64), got \"" + std::string(65, 'n') +
           "\""},
      {{{"NEBU_GRPC_ADDR", "localhost:9000"}},
       "NEBU_GRPC_ADDR: expected IP:PORT such as 127.0.0.1:9000, got \"localhost:9000\""},
      {with({{"NEBU_GRPC_ADDR", "127.0.0.1:8080"}}),
       "NEBU_GRPC_ADDR: must differ from NEBU_CLIENT_ADDR and NEBU_OPS_ADDR"},
      {{{"NEBU_INTERNAL_SECRET", "short-secret"}},
       "NEBU_INTERNAL_SECRET: must be at least 32 characters (got 12)"},
      {{{"NEBU_ETCD_ENDPOINTS", "http://127.0.0.1:2379"}},
       "NEBU_INTERNAL_SECRET: required with NEBU_ETCD_ENDPOINTS (set it or "
       "NEBU_INTERNAL_SECRET_FILE)"},
      {with({{"NEBU_ETCD_USERNAME", "nebu"}}),
       "NEBU_ETCD_PASSWORD: NEBU_ETCD_USERNAME and NEBU_ETCD_PASSWORD go together; set both or "
       "neither"},
      {with({{"NEBU_ETCD_PASSWORD", "pw"}}),
       "NEBU_ETCD_USERNAME: NEBU_ETCD_USERNAME and NEBU_ETCD_PASSWORD go together; set both or "
       "neither"},
      {with({{"NEBU_ETCD_CERT_FILE", cert}}),
       "NEBU_ETCD_KEY_FILE: NEBU_ETCD_CERT_FILE and NEBU_ETCD_KEY_FILE go together; set both or "
       "neither"},
      {with({{"NEBU_ETCD_CA_FILE", missing}}),
       "NEBU_ETCD_CA_FILE: cannot read \"" + missing + "\": No such file or directory"},
      {with({{"NEBU_ETCD_CA_FILE", cert}}),
       "NEBU_ETCD_CA_FILE: TLS files need https:// endpoints in NEBU_ETCD_ENDPOINTS"},
  };
  for (const Case& c : cases) EXPECT_EQ(ErrorOf(c.env), c.error);
}

TEST_F(ConfigTest, SecretsNeverAppearInErrors) {
  const std::string secret = "short-but-secret-value";
  std::string error = ErrorOf({{"NEBU_INTERNAL_SECRET", secret}});
  EXPECT_EQ(error.find(secret), std::string::npos) << error;
  error = ErrorOf({{"NEBU_ETCD_ENDPOINTS", "http://127.0.0.1:2379"},
                   {"NEBU_INTERNAL_SECRET", kSecret},
                   {"NEBU_ETCD_PASSWORD", secret}});
  EXPECT_EQ(error.find(secret), std::string::npos) << error;
}

TEST_F(ConfigTest, EtcdAccessWithoutEndpointsIsIgnoredWithAWarning) {
  Result<Config> config = LoadConfig({{"NEBU_ETCD_USERNAME", "nebu"}, {"NEBU_ETCD_PASSWORD", "pw"}});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_FALSE(config->cluster.enabled());
  ASSERT_EQ(config->warnings.size(), 2u);
  EXPECT_EQ(config->warnings[0], "NEBU_ETCD_USERNAME ignored without NEBU_ETCD_ENDPOINTS");
}

}  // namespace
}  // namespace nebu::app
