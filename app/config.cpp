#include "app/config.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>

extern char** environ;  // NOLINT: POSIX

namespace nebu::app {
namespace {

constexpr std::string_view kPrefix = "NEBU_";
constexpr std::string_view kFileSuffix = "_FILE";
constexpr size_t kValueFileBytesMax = 64 * 1024;  // a *_FILE holds a secret, not a blob
constexpr size_t kServerNameBytesMax = 255;
constexpr std::array<std::string_view, 7> kLogLevels = {"trace", "debug",    "info", "warn",
                                                        "error", "critical", "off"};

std::string_view Trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
    text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
    text.remove_suffix(1);
  return text;
}

Status Invalid(std::string_view name, std::string_view what) {
  return Status::InvalidArgument(std::string(name) + ": " + std::string(what));
}

Result<std::string> ReadValueFile(std::string_view file_variable, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Invalid(file_variable, "cannot read \"" + path + "\": " + std::strerror(errno));
  std::string contents(kValueFileBytesMax + 1, '\0');
  in.read(contents.data(), static_cast<std::streamsize>(contents.size()));
  contents.resize(static_cast<size_t>(in.gcount()));
  if (contents.size() > kValueFileBytesMax) {
    return Invalid(file_variable, "\"" + path + "\" is larger than 64 KiB");
  }
  return std::string(Trim(contents));
}

// The value of `variable`: NEBU_X, or the trimmed contents of the file NEBU_X_FILE names,
// or the default. An empty NEBU_X counts as unset.
Result<std::string> Lookup(const Environment& env, const Variable& variable) {
  std::string file_name = std::string(variable.name) + std::string(kFileSuffix);
  auto direct = env.find(variable.name);
  auto file = env.find(file_name);
  bool has_direct = direct != env.end() && !direct->second.empty();
  bool has_file = file != env.end() && !file->second.empty();
  if (has_direct && has_file) {
    return Invalid(variable.name,
                   "set both " + std::string(variable.name) + " and " + file_name + "; use one");
  }
  if (has_file) return ReadValueFile(file_name, file->second);
  if (has_direct) return direct->second;
  return std::string(variable.default_value);
}

bool IsKnown(std::string_view name) {
  auto known = [](std::string_view n) {
    return std::any_of(kVariables.begin(), kVariables.end(),
                       [&](const Variable& v) { return v.name == n; });
  };
  if (known(name)) return true;  // e.g. NEBU_ETCD_CA_FILE, a path variable itself
  if (name.ends_with(kFileSuffix)) name.remove_suffix(kFileSuffix.size());
  return std::any_of(kVariables.begin(), kVariables.end(),
                     [&](const Variable& v) { return v.name == name; });
}

bool IsDnsName(std::string_view host) {
  return !host.empty() && std::all_of(host.begin(), host.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.';
  });
}

bool IsIp(std::string_view host, int family) {
  std::array<unsigned char, 16> out{};
  return inet_pton(family, std::string(host).c_str(), out.data()) == 1;
}

Result<uint16_t> ParsePort(std::string_view text) {
  if (text.empty() || text.size() > 5 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return Status::InvalidArgument("bad port");
  }
  int port = std::stoi(std::string(text));
  if (port > 65535) return Status::InvalidArgument("bad port");
  return static_cast<uint16_t>(port);
}

// The spec's server name grammar: (IPv4 | "[" IPv6 "]" | dns-name) [":" port].
bool IsServerName(std::string_view name) {
  if (name.empty() || name.size() > kServerNameBytesMax) return false;
  std::string_view host = name;
  if (host.front() == '[') {
    size_t close = host.find(']');
    if (close == std::string_view::npos || !IsIp(host.substr(1, close - 1), AF_INET6)) return false;
    std::string_view rest = host.substr(close + 1);
    return rest.empty() || (rest.front() == ':' && ParsePort(rest.substr(1)).ok());
  }
  size_t colon = host.find(':');
  if (colon != std::string_view::npos) {
    if (!ParsePort(host.substr(colon + 1)).ok()) return false;
    host = host.substr(0, colon);
  }
  return IsDnsName(host);
}

// Parses a two-valued switch ("open"/"closed", "on"/"off"); empty means `fallback`.
Result<bool> ParseSwitch(std::string_view name, std::string_view value, std::string_view yes,
                         std::string_view no, bool fallback) {
  if (value.empty()) return fallback;
  if (value == yes) return true;
  if (value == no) return false;
  return Invalid(name, "expected " + std::string(yes) + " or " + std::string(no) + ", got \"" +
                           std::string(value) + "\"");
}

std::string DefaultPublicBaseUrl(const Config& config) {
  if (config.server_name == "localhost") {
    return "http://localhost:" + std::to_string(config.client_addr.port);
  }
  return "https://" + config.server_name;
}


bool IsNodeIdChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
}

std::string HostName() {
  std::array<char, 256> name{};
  if (gethostname(name.data(), name.size() - 1) != 0) return "";
  return std::string(name.data());
}

Result<EtcdEndpoint> ParseEtcdEndpoint(std::string_view url) {
  EtcdEndpoint endpoint;
  std::string_view rest = url;
  if (rest.starts_with("https://")) {
    endpoint.tls = true;
    rest.remove_prefix(8);
  } else if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
  } else {
    return Status::InvalidArgument("expected http://HOST:PORT or https://HOST:PORT, got \"" +
                                   std::string(url) + "\"");
  }
  Status bad = Status::InvalidArgument("expected http(s)://HOST:PORT (no path), got \"" +
                                       std::string(url) + "\"");
  std::string_view host, port;
  if (rest.starts_with('[')) {
    size_t close = rest.find("]:");
    if (close == std::string_view::npos) return bad;
    host = rest.substr(1, close - 1);
    port = rest.substr(close + 2);
    if (!IsIp(host, AF_INET6)) return bad;
  } else {
    size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos) return bad;
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
    if (!IsDnsName(host) || host.size() > kServerNameBytesMax) return bad;
  }
  Result<uint16_t> parsed = ParsePort(port);
  if (!parsed.ok() || *parsed == 0) return bad;
  endpoint.host = std::string(host);
  endpoint.port = *parsed;
  return endpoint;
}

bool IsEtcdPrefix(std::string_view prefix) {
  return prefix.size() >= 2 && prefix.size() <= kEtcdPrefixBytesMax && prefix.front() == '/' &&
         prefix.back() != '/' &&
         std::all_of(prefix.begin(), prefix.end(), [](char c) { return c > ' ' && c < 0x7f; });
}

Status CheckReadable(std::string_view name, const std::string& path) {
  if (path.empty()) return Status::Ok();
  std::ifstream in(path, std::ios::binary);
  if (!in) return Invalid(name, "cannot read \"" + path + "\": " + std::strerror(errno));
  return Status::Ok();
}

// The etcd credentials and TLS files: pairs complete, files readable, TLS files only
// with https:// endpoints.
Status CheckEtcdAccess(const ClusterConfig& cluster) {
  if (cluster.etcd_username.empty() != cluster.etcd_password.empty()) {
    return Invalid(cluster.etcd_username.empty() ? "NEBU_ETCD_USERNAME" : "NEBU_ETCD_PASSWORD",
                   "NEBU_ETCD_USERNAME and NEBU_ETCD_PASSWORD go together; set both or neither");
  }
  if (cluster.etcd_cert_file.empty() != cluster.etcd_key_file.empty()) {
    return Invalid(cluster.etcd_cert_file.empty() ? "NEBU_ETCD_CERT_FILE" : "NEBU_ETCD_KEY_FILE",
                   "NEBU_ETCD_CERT_FILE and NEBU_ETCD_KEY_FILE go together; set both or neither");
  }
  for (auto [name, path] : {std::pair{"NEBU_ETCD_CA_FILE", &cluster.etcd_ca_file},
                            std::pair{"NEBU_ETCD_CERT_FILE", &cluster.etcd_cert_file},
                            std::pair{"NEBU_ETCD_KEY_FILE", &cluster.etcd_key_file}}) {
    NEBU_RETURN_IF_ERROR(CheckReadable(name, *path));
    if (!path->empty() && cluster.enabled() && !cluster.etcd_endpoints.front().tls) {
      return Invalid(name, "TLS files need https:// endpoints in NEBU_ETCD_ENDPOINTS");
    }
  }
  return Status::Ok();
}

// Reads and checks the cluster variables (ClusterConfig); warnings for settings that
// mean nothing without NEBU_ETCD_ENDPOINTS.
Status LoadCluster(std::map<std::string_view, std::string>& values, Config& config) {
  ClusterConfig& cluster = config.cluster;
  Result<std::vector<EtcdEndpoint>> endpoints = ParseEtcdEndpoints(values["NEBU_ETCD_ENDPOINTS"]);
  if (!endpoints.ok()) return Invalid("NEBU_ETCD_ENDPOINTS", endpoints.status().message());
  cluster.etcd_endpoints = std::move(*endpoints);
  cluster.etcd_prefix = values["NEBU_ETCD_PREFIX"];
  if (!IsEtcdPrefix(cluster.etcd_prefix)) {
    return Invalid("NEBU_ETCD_PREFIX",
                   "expected a key prefix such as /nebu (starts with /, no trailing /, printable, "
                   "at most 128 bytes), got \"" + cluster.etcd_prefix + "\"");
  }
  cluster.node_id = values["NEBU_NODE_ID"];
  bool derived = cluster.node_id.empty();
  if (derived) cluster.node_id = HostName();
  if (cluster.node_id.empty() || cluster.node_id.size() > kNodeIdBytesMax ||
      !std::all_of(cluster.node_id.begin(), cluster.node_id.end(), IsNodeIdChar)) {
    return Invalid("NEBU_NODE_ID", std::string(derived ? "the host name " : "") +
                                       "is not a node ID ([A-Za-z0-9._-], 1 to 64), got \"" +
                                       cluster.node_id + "\"" +
                                       (derived ? "; set NEBU_NODE_ID" : ""));
  }
  Result<HostPort> grpc = ParseHostPort(values["NEBU_GRPC_ADDR"]);
  if (!grpc.ok()) {
    return Invalid("NEBU_GRPC_ADDR", "expected IP:PORT such as 127.0.0.1:9000, got \"" +
                                         values["NEBU_GRPC_ADDR"] + "\"");
  }
  cluster.grpc_addr = *grpc;
  cluster.internal_secret = values["NEBU_INTERNAL_SECRET"];
  if (!cluster.internal_secret.empty() && cluster.internal_secret.size() < kInternalSecretBytesMin) {
    return Invalid("NEBU_INTERNAL_SECRET", "must be at least 32 characters (got " +
                                               std::to_string(cluster.internal_secret.size()) +
                                               ")");  // never the value itself
  }
  cluster.etcd_username = values["NEBU_ETCD_USERNAME"];
  cluster.etcd_password = values["NEBU_ETCD_PASSWORD"];
  cluster.etcd_ca_file = values["NEBU_ETCD_CA_FILE"];
  cluster.etcd_cert_file = values["NEBU_ETCD_CERT_FILE"];
  cluster.etcd_key_file = values["NEBU_ETCD_KEY_FILE"];
  NEBU_RETURN_IF_ERROR(CheckEtcdAccess(cluster));
  if (!cluster.enabled()) {
    for (std::string_view name : {"NEBU_ETCD_USERNAME", "NEBU_ETCD_PASSWORD", "NEBU_ETCD_CA_FILE",
                                  "NEBU_ETCD_CERT_FILE", "NEBU_ETCD_KEY_FILE"}) {
      if (!values[name].empty()) {
        config.warnings.push_back(std::string(name) + " ignored without NEBU_ETCD_ENDPOINTS");
      }
    }
    return Status::Ok();
  }
  if (cluster.internal_secret.empty()) {
    return Invalid("NEBU_INTERNAL_SECRET",
                   "required with NEBU_ETCD_ENDPOINTS (set it or NEBU_INTERNAL_SECRET_FILE)");
  }
  for (const HostPort* other : {&config.client_addr, &config.ops_addr}) {
    if (cluster.grpc_addr.port != 0 && cluster.grpc_addr.port == other->port &&
        cluster.grpc_addr.host == other->host) {
      return Invalid("NEBU_GRPC_ADDR", "must differ from NEBU_CLIENT_ADDR and NEBU_OPS_ADDR");
    }
  }
  return Status::Ok();
}

}  // namespace

const std::vector<Variable> kVariables = {
    {"NEBU_DATA_DIR", "./nebu-data", "directory of the node's data (RocksDB)"},
    {"NEBU_CLIENT_ADDR", "127.0.0.1:8008", "listener of the Matrix Client-Server API (IP:PORT)"},
    {"NEBU_OPS_ADDR", "127.0.0.1:8080", "listener of /health, /ready, /metrics (IP:PORT)"},
    {"NEBU_SERVER_NAME", "localhost", "the Matrix server name (user IDs end in :NAME)"},
    {"NEBU_PUBLIC_BASEURL", "", "base URL advertised in /.well-known/matrix/client",
     "https://NAME, or http://localhost:CLIENT_PORT when NAME is localhost"},
    {"NEBU_LOG_LEVEL", "info", "trace, debug, info, warn, error, critical or off"},
    {"NEBU_LOG_FORMAT", "text", "text or json: json writes one JSON object per log line"},
    {"NEBU_DRAIN_TIMEOUT_MS", "10000",
     "ms in-flight requests may take to finish after SIGTERM (0..600000)"},
    {"NEBU_TLS_CERT_FILE", "", "PEM certificate chain: the listeners speak TLS 1.3 (SIGHUP reloads)",
     "unset: plain HTTP"},
    {"NEBU_TLS_KEY_FILE", "", "PEM private key of NEBU_TLS_CERT_FILE", "unset"},
    {"NEBU_REGISTRATION", "closed",
     "open, closed or token: may anyone register an account (token: with a registration token)"},
    {"NEBU_ACCESS_TOKEN_LIFETIME_MS", "300000",
     "ms an access token issued with a refresh token lives (1000..86400000)"},
    {"NEBU_RATE_LIMIT", "on", "on or off: every rate limit (per IP and per user)"},
    {"NEBU_PUSH_PRIVATE_GATEWAYS", "off",
     "on or off: may pushers POST to loopback/private addresses (off: refused, SSRF)"},
    {"NEBU_TRUSTED_PROXIES", "", "CIDRs of reverse proxies whose X-Forwarded-For is believed",
     "none: X-Forwarded-For is ignored"},
    {"NEBU_DB_URL", "", "PostgreSQL URL of the projection (migrated and fed at start-up)",
     "unset: no PostgreSQL projection"},
    {"NEBU_RETENTION_MAX_LIFETIME", "",
     "server default max lifetime of messages, e.g. 90d (purged by the retention job)",
     "unset: none (only rooms' m.room.retention)"},
    {"NEBU_RETENTION_INTERVAL", "1h", "how often the retention purge job runs (>= 1s)"},
    {"NEBU_DB_URL_MIGRATE", "", "PostgreSQL URL for migrations only (overrides NEBU_DB_URL)",
     "NEBU_DB_URL"},
    {"NEBU_ETCD_ENDPOINTS", "", "comma-separated etcd client URLs http(s)://HOST:PORT (cluster)",
     "unset: a single node, no etcd"},
    {"NEBU_ETCD_PREFIX", "/nebu", "the cluster's etcd key prefix (starts with /, no trailing /)"},
    {"NEBU_NODE_ID", "", "this node's ID, unique in the cluster ([A-Za-z0-9._-], 1 to 64)",
     "the host name"},
    {"NEBU_GRPC_ADDR", "127.0.0.1:9000", "listener of the node-to-node gRPC service (IP:PORT)"},
    {"NEBU_INTERNAL_SECRET", "",
     "pre-shared key of /internal/nodes and node-to-node calls (secret, 32+ chars)",
     "unset; required with NEBU_ETCD_ENDPOINTS"},
    {"NEBU_ETCD_USERNAME", "", "etcd user (with NEBU_ETCD_PASSWORD)", "unset: no etcd auth"},
    {"NEBU_ETCD_PASSWORD", "", "etcd password (secret; with NEBU_ETCD_USERNAME)", "unset"},
    {"NEBU_ETCD_CA_FILE", "", "PEM CA bundle that verifies etcd's certificates (https)",
     "the system's trust store"},
    {"NEBU_ETCD_CERT_FILE", "", "PEM client certificate for etcd (with NEBU_ETCD_KEY_FILE)",
     "unset: no client certificate"},
    {"NEBU_ETCD_KEY_FILE", "", "PEM private key of NEBU_ETCD_CERT_FILE", "unset"},
    {"NEBU_SUPPORT_ADMIN_MATRIX_ID", "", "/.well-known/matrix/support: the admin's Matrix ID",
     "unset"},
    {"NEBU_SUPPORT_ADMIN_EMAIL", "", "/.well-known/matrix/support: the admin's email address",
     "unset"},
    {"NEBU_SUPPORT_SECURITY_MATRIX_ID", "",
     "/.well-known/matrix/support: the security contact's Matrix ID", "unset"},
    {"NEBU_SUPPORT_SECURITY_EMAIL", "",
     "/.well-known/matrix/support: the security contact's email address", "unset"},
    {"NEBU_SUPPORT_PAGE", "", "/.well-known/matrix/support: the support page URL",
     "unset (no support information: 404)"},
    {"NEBU_OIDC_ISSUER", "", "OpenID Connect issuer URL for single sign-on (https://)",
     "unset: no single sign-on"},
    {"NEBU_OIDC_CLIENT_ID", "", "OpenID Connect client ID (with NEBU_OIDC_ISSUER)", "unset"},
    {"NEBU_OIDC_CLIENT_SECRET", "", "OpenID Connect client secret (secret; with NEBU_OIDC_ISSUER)",
     "unset"},
    {"NEBU_OIDC_SCOPES", "openid profile email", "scopes asked of the provider (with openid)"},
    {"NEBU_OIDC_DISPLAY_NAME", "Single sign-on", "the provider's name shown by clients"},
    {"NEBU_OIDC_LOCALPART_CLAIM", "preferred_username",
     "ID token claim new users' localparts come from (fallback: the email's local part)"},
    {"NEBU_SSO_CLIENT_WHITELIST", "", "comma-separated client URL prefixes SSO may return to",
     "unset: any client URL (after the confirmation page)"},
    {"NEBU_PASSWORD_LOGIN", "on", "on or off: password login and registration (off: SSO only)"},
    {"NEBU_MEDIA_BACKEND", "file",
     "file or s3: where media bytes live (file: under NEBU_DATA_DIR/media, per node)"},
    {"NEBU_MEDIA_MAX_UPLOAD_BYTES", "52428800", "largest media upload in bytes (413 above)"},
    {"NEBU_MEDIA_USER_QUOTA_BYTES", "0", "media bytes one user may store (403 above; 0: none)"},
    {"NEBU_MEDIA_LEGACY", "on",
     "on or off: the unauthenticated /_matrix/media/{v3,r0} download, thumbnail, config"},
    {"NEBU_MEDIA_ADDR", "", "an extra listener serving only the media routes (IP:PORT)",
     "unset: media on the client listener only"},
    {"NEBU_S3_ENDPOINT", "", "S3 media store: http(s)://HOST[:PORT] of the S3-compatible service",
     "unset (no S3)"},
    {"NEBU_S3_BUCKET", "", "S3 media store: the bucket (it must exist)", "unset"},
    {"NEBU_S3_REGION", "us-east-1", "S3 media store: the SigV4 signing region"},
    {"NEBU_S3_ACCESS_KEY_ID", "", "S3 media store: the access key ID", "unset"},
    {"NEBU_S3_SECRET_ACCESS_KEY_FILE", "",
     "S3 media store: a file holding the secret access key (never the key itself)", "unset"},
    {"NEBU_S3_PATH_STYLE", "on",
     "S3 media store: on (HOST/BUCKET/KEY, MinIO) or off (BUCKET.HOST/KEY)"},
    {"NEBU_S3_KEY_PREFIX", "", "S3 media store: prefix of every object key ([A-Za-z0-9._/-])",
     "none"},
    {"NEBU_MEDIA_CACHE_BYTES", "1073741824",
     "S3 media store: bound of the local read cache in bytes (least recently used go first)"},
    {"NEBU_REGISTRATION_SHARED_SECRET", "",
     "secret of /_synapse/admin/v1/register and `nebu admin create-user` (32+ characters)",
     "unset: shared-secret registration is off"},
    {"NEBU_SERVER_NOTICES_LOCALPART", "server",
     "localpart of the user /_synapse/admin/v1/send_server_notice sends as ([a-z0-9._=/-])"},
    {"NEBU_BACKUP_DIR", "",
     "scheduled backups: a directory or s3://BUCKET/PREFIX (`nebu backup`)",
     "unset: no scheduled backups"},
    {"NEBU_BACKUP_INTERVAL", "24h", "time between scheduled backups: N followed by s, m, h or d"},
    {"NEBU_BACKUP_KEEP", "7", "scheduled backups kept (older ones removed; 0: keep all)"},
};

std::string HostPort::ToString() const {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string EtcdEndpoint::ToString() const {
  bool v6 = host.find(':') != std::string::npos;
  return std::string(tls ? "https://" : "http://") + (v6 ? "[" + host + "]" : host) + ":" +
         std::to_string(port);
}

Result<std::vector<EtcdEndpoint>> ParseEtcdEndpoints(std::string_view text) {
  std::vector<EtcdEndpoint> endpoints;
  if (Trim(text).empty()) return endpoints;
  while (true) {
    size_t comma = text.find(',');
    std::string_view url = Trim(text.substr(0, comma));
    NEBU_ASSIGN_OR_RETURN(EtcdEndpoint endpoint, ParseEtcdEndpoint(url));
    if (!endpoints.empty() && endpoint.tls != endpoints.front().tls) {
      return Status::InvalidArgument("mixes http:// and https:// URLs; use one scheme");
    }
    if (std::find(endpoints.begin(), endpoints.end(), endpoint) != endpoints.end()) {
      return Status::InvalidArgument("names " + endpoint.ToString() + " twice");
    }
    endpoints.push_back(std::move(endpoint));
    if (endpoints.size() > kEtcdEndpointsMax) {
      return Status::InvalidArgument("more than " + std::to_string(kEtcdEndpointsMax) + " URLs");
    }
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return endpoints;
}

Environment ProcessEnvironment() {
  Environment env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view text(*entry);
    size_t eq = text.find('=');
    if (eq == std::string_view::npos || !text.starts_with(kPrefix)) continue;
    env.emplace(std::string(text.substr(0, eq)), std::string(text.substr(eq + 1)));
  }
  return env;
}

Result<HostPort> ParseHostPort(std::string_view text) {
  HostPort out;
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find("]:");
    if (close == std::string_view::npos) return Status::InvalidArgument("bad address");
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    if (!IsIp(host, AF_INET6)) return Status::InvalidArgument("bad address");
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return Status::InvalidArgument("bad address");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (!IsIp(host, AF_INET)) return Status::InvalidArgument("bad address");
  }
  NEBU_ASSIGN_OR_RETURN(out.port, ParsePort(port));
  out.host = std::string(host);
  return out;
}

// NEBU_SUPPORT_*: the contacts and page of /.well-known/matrix/support.
// http:// only to a loopback host (a provider on this machine, e.g. in tests).
bool IsAcceptableIssuer(std::string_view issuer) {
  if (issuer.starts_with("https://")) return issuer.size() > 8;
  if (!issuer.starts_with("http://")) return false;
  std::string_view rest = issuer.substr(7);
  for (std::string_view host : {"127.0.0.1", "localhost", "[::1]"}) {
    if (rest.starts_with(host) &&
        (rest.size() == host.size() || rest[host.size()] == ':' || rest[host.size()] == '/')) {
      return true;
    }
  }
  return false;
}

Status LoadSso(std::map<std::string_view, std::string>& values, Config& config) {
  NEBU_ASSIGN_OR_RETURN(config.password_login,
                        ParseSwitch("NEBU_PASSWORD_LOGIN", values["NEBU_PASSWORD_LOGIN"], "on",
                                    "off", true));
  api::SsoConfig& sso = config.sso;
  sso.public_base_url = config.public_base_url;
  std::string_view list = values["NEBU_SSO_CLIENT_WHITELIST"];
  while (!list.empty()) {
    const size_t comma = list.find(',');
    std::string_view entry = Trim(list.substr(0, comma));
    if (!entry.empty()) {
      if (entry.find(':') == std::string_view::npos) {
        return Invalid("NEBU_SSO_CLIENT_WHITELIST",
                       "each entry is a URL prefix with a scheme, got \"" + std::string(entry) + "\"");
      }
      sso.client_allow_list.emplace_back(entry);
    }
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  const std::string& issuer = values["NEBU_OIDC_ISSUER"];
  if (issuer.empty()) {
    if (!config.password_login) {
      config.warnings.push_back(
          "NEBU_PASSWORD_LOGIN=off without NEBU_OIDC_ISSUER: nobody can log in");
    }
    return Status::Ok();
  }
  if (!IsAcceptableIssuer(issuer)) {
    return Invalid("NEBU_OIDC_ISSUER",
                   "must be an https:// URL (http:// only to 127.0.0.1, [::1] or localhost)");
  }
  sso.oidc.issuer = issuer;
  sso.oidc.client_id = values["NEBU_OIDC_CLIENT_ID"];
  sso.oidc.client_secret = values["NEBU_OIDC_CLIENT_SECRET"];
  if (sso.oidc.client_id.empty()) return Invalid("NEBU_OIDC_CLIENT_ID", "required with NEBU_OIDC_ISSUER");
  if (sso.oidc.client_secret.empty()) {
    return Invalid("NEBU_OIDC_CLIENT_SECRET",
                   "required with NEBU_OIDC_ISSUER (or NEBU_OIDC_CLIENT_SECRET_FILE)");
  }
  sso.oidc.scopes = values["NEBU_OIDC_SCOPES"];
  if ((" " + sso.oidc.scopes + " ").find(" openid ") == std::string::npos) {
    return Invalid("NEBU_OIDC_SCOPES", "must include openid");
  }
  sso.oidc.display_name = values["NEBU_OIDC_DISPLAY_NAME"];
  sso.oidc.localpart_claim = values["NEBU_OIDC_LOCALPART_CLAIM"];
  if (sso.oidc.localpart_claim.empty()) {
    return Invalid("NEBU_OIDC_LOCALPART_CLAIM", "must name a claim");
  }
  return Status::Ok();
}

Status LoadSupport(std::map<std::string_view, std::string>& values, Config& config) {
  struct Role {
    std::string_view role, matrix_id_variable, email_variable;
  };
  for (Role r : {Role{"m.role.admin", "NEBU_SUPPORT_ADMIN_MATRIX_ID", "NEBU_SUPPORT_ADMIN_EMAIL"},
                 Role{"m.role.security", "NEBU_SUPPORT_SECURITY_MATRIX_ID",
                      "NEBU_SUPPORT_SECURITY_EMAIL"}}) {
    const std::string& matrix_id = values[r.matrix_id_variable];
    const std::string& email = values[r.email_variable];
    auto contact = api::MakeSupportContact(r.role, matrix_id, email);
    if (!contact.ok()) {
      const bool bad_id = !matrix_id.empty() && !api::MakeSupportContact(r.role, matrix_id, "").ok();
      return Invalid(bad_id ? r.matrix_id_variable : r.email_variable, contact.status().message());
    }
    if (*contact) config.support.contacts.push_back(std::move(**contact));
  }
  config.support.support_page = values["NEBU_SUPPORT_PAGE"];
  Status page = api::CheckSupportPage(config.support.support_page);
  if (!page.ok()) return Invalid("NEBU_SUPPORT_PAGE", page.message());
  return Status::Ok();
}

// NEBU_LOG_FORMAT, NEBU_DRAIN_TIMEOUT_MS, NEBU_TLS_CERT_FILE, NEBU_TLS_KEY_FILE.
Status LoadOps(std::map<std::string_view, std::string>& values, Config& config) {
  NEBU_ASSIGN_OR_RETURN(config.ops.log_json,
                        ParseSwitch("NEBU_LOG_FORMAT", values["NEBU_LOG_FORMAT"], "json", "text",
                                    false));
  const std::string& text = values["NEBU_DRAIN_TIMEOUT_MS"];
  int64_t ms = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
  if (ec != std::errc() || end != text.data() + text.size() || ms < kDrainTimeoutMsMin ||
      ms > kDrainTimeoutMsMax) {
    return Invalid("NEBU_DRAIN_TIMEOUT_MS",
                   "expected milliseconds from 0 to 600000, got \"" + text + "\"");
  }
  config.ops.drain_timeout_ms = ms;
  config.ops.tls_cert_file = values["NEBU_TLS_CERT_FILE"];
  config.ops.tls_key_file = values["NEBU_TLS_KEY_FILE"];
  if (config.ops.tls_cert_file.empty() != config.ops.tls_key_file.empty()) {
    return Invalid(config.ops.tls_cert_file.empty() ? "NEBU_TLS_CERT_FILE" : "NEBU_TLS_KEY_FILE",
                   "NEBU_TLS_CERT_FILE and NEBU_TLS_KEY_FILE go together; set both or neither");
  }
  NEBU_RETURN_IF_ERROR(CheckReadable("NEBU_TLS_CERT_FILE", config.ops.tls_cert_file));
  return CheckReadable("NEBU_TLS_KEY_FILE", config.ops.tls_key_file);
}

namespace {

Result<uint64_t> ParseBytes(std::string_view name, const std::string& text, uint64_t min,
                            uint64_t max) {
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || n < min || n > max) {
    return Invalid(name, "expected bytes from " + std::to_string(min) + " to " +
                             std::to_string(max) + ", got \"" + text + "\"");
  }
  return n;
}

// NEBU_RETENTION_MAX_LIFETIME and NEBU_RETENTION_INTERVAL (Config's comment).
Status LoadRetention(std::map<std::string_view, std::string>& values, Config& config) {
  if (const std::string& text = values["NEBU_RETENTION_MAX_LIFETIME"]; !text.empty()) {
    Result<int64_t> ms = ParseDurationMs(text);
    if (!ms.ok()) return Invalid("NEBU_RETENTION_MAX_LIFETIME", ms.status().message());
    config.retention_max_lifetime_ms = *ms;
  }
  Result<int64_t> interval = ParseDurationMs(values["NEBU_RETENTION_INTERVAL"]);
  if (!interval.ok()) return Invalid("NEBU_RETENTION_INTERVAL", interval.status().message());
  if (*interval < 1000) return Invalid("NEBU_RETENTION_INTERVAL", "must be at least 1s");
  config.retention_interval_ms = *interval;
  return Status::Ok();
}

Status LoadMedia(std::map<std::string_view, std::string>& values, Config& config) {
  constexpr uint64_t kUploadBytesCap = 1ull << 40;
  MediaConfig& media = config.media;
  media.backend = values["NEBU_MEDIA_BACKEND"];
  if (media.backend != "file" && media.backend != "s3") {
    return Invalid("NEBU_MEDIA_BACKEND", "expected file or s3, got \"" + media.backend + "\"");
  }
  NEBU_ASSIGN_OR_RETURN(media.upload_bytes_max,
                        ParseBytes("NEBU_MEDIA_MAX_UPLOAD_BYTES",
                                   values["NEBU_MEDIA_MAX_UPLOAD_BYTES"], 1, kUploadBytesCap));
  NEBU_ASSIGN_OR_RETURN(media.user_quota_bytes,
                        ParseBytes("NEBU_MEDIA_USER_QUOTA_BYTES",
                                   values["NEBU_MEDIA_USER_QUOTA_BYTES"], 0, UINT64_MAX / 2));
  NEBU_ASSIGN_OR_RETURN(media.legacy, ParseSwitch("NEBU_MEDIA_LEGACY", values["NEBU_MEDIA_LEGACY"],
                                                  "on", "off", true));
  const std::string& addr = values["NEBU_MEDIA_ADDR"];
  if (addr.empty()) return Status::Ok();
  Result<HostPort> parsed = ParseHostPort(addr);
  if (!parsed.ok()) return Invalid("NEBU_MEDIA_ADDR", "expected IP:PORT, got \"" + addr + "\"");
  for (const HostPort* other : {&config.client_addr, &config.ops_addr}) {
    if (parsed->port != 0 && parsed->port == other->port && parsed->host == other->host) {
      return Invalid("NEBU_MEDIA_ADDR", "must differ from NEBU_CLIENT_ADDR and NEBU_OPS_ADDR");
    }
  }
  media.addr = *parsed;
  return Status::Ok();
}

}  // namespace

// NEBU_S3_* and NEBU_MEDIA_CACHE_BYTES into config.s3 (when NEBU_S3_ENDPOINT is set).
Status LoadS3(const Environment& env, std::map<std::string_view, std::string>& values,
              Config& config) {
  if (auto direct = env.find("NEBU_S3_SECRET_ACCESS_KEY");
      direct != env.end() && !direct->second.empty()) {
    return Invalid("NEBU_S3_SECRET_ACCESS_KEY",
                   "the secret is read only from a file: set NEBU_S3_SECRET_ACCESS_KEY_FILE");
  }
  media::S3Config& s3 = config.s3;
  const std::string& cache = values["NEBU_MEDIA_CACHE_BYTES"];
  auto [end, ec] = std::from_chars(cache.data(), cache.data() + cache.size(), s3.cache_bytes);
  if (ec != std::errc() || end != cache.data() + cache.size() ||
      s3.cache_bytes < media::kMediaCacheBytesMin) {
    return Invalid("NEBU_MEDIA_CACHE_BYTES",
                   "expected a number of bytes of at least 1048576, got \"" + cache + "\"");
  }
  NEBU_ASSIGN_OR_RETURN(s3.path_style, ParseSwitch("NEBU_S3_PATH_STYLE",
                                                   values["NEBU_S3_PATH_STYLE"], "on", "off", true));
  s3.region = values["NEBU_S3_REGION"];
  s3.key_prefix = values["NEBU_S3_KEY_PREFIX"];
  s3.bucket = values["NEBU_S3_BUCKET"];
  s3.access_key_id = values["NEBU_S3_ACCESS_KEY_ID"];
  const std::string& secret_file = values["NEBU_S3_SECRET_ACCESS_KEY_FILE"];
  s3.endpoint = values["NEBU_S3_ENDPOINT"];
  if (s3.endpoint.empty()) {
    for (std::string_view name : {"NEBU_S3_BUCKET", "NEBU_S3_ACCESS_KEY_ID",
                                  "NEBU_S3_SECRET_ACCESS_KEY_FILE", "NEBU_S3_KEY_PREFIX"}) {
      if (!values[name].empty()) {
        config.warnings.push_back(std::string(name) + " ignored without NEBU_S3_ENDPOINT");
      }
    }
    return Status::Ok();
  }
  if (!s3.endpoint.starts_with("http://") && !s3.endpoint.starts_with("https://")) {
    return Invalid("NEBU_S3_ENDPOINT", "expected http(s)://HOST[:PORT], got \"" + s3.endpoint + "\"");
  }
  for (std::string_view name :
       {"NEBU_S3_BUCKET", "NEBU_S3_ACCESS_KEY_ID", "NEBU_S3_SECRET_ACCESS_KEY_FILE"}) {
    if (values[name].empty()) return Invalid(name, "required with NEBU_S3_ENDPOINT");
  }
  NEBU_ASSIGN_OR_RETURN(s3.secret_access_key,
                        ReadValueFile("NEBU_S3_SECRET_ACCESS_KEY_FILE", secret_file));
  if (s3.secret_access_key.empty()) {
    return Invalid("NEBU_S3_SECRET_ACCESS_KEY_FILE", "\"" + secret_file + "\" is empty");
  }
  return Status::Ok();
}

// NEBU_BACKUP_DIR, NEBU_BACKUP_INTERVAL, NEBU_BACKUP_KEEP into config.backup_*.
Status LoadBackup(std::map<std::string_view, std::string>& values, Config& config) {
  config.backup_dir = values["NEBU_BACKUP_DIR"];
  const std::string& interval = values["NEBU_BACKUP_INTERVAL"];
  int64_t n = 0;
  auto [end, ec] = std::from_chars(interval.data(), interval.data() + interval.size(), n);
  const std::string_view unit(end, interval.data() + interval.size());
  int64_t unit_ms = unit == "s" ? 1'000 : unit == "m" ? 60'000 : unit == "h" ? 3'600'000
                  : unit == "d" ? 86'400'000 : 0;
  if (ec != std::errc() || unit_ms == 0 || n <= 0 || n > kBackupIntervalMsMax / unit_ms ||
      n * unit_ms < kBackupIntervalMsMin || n * unit_ms > kBackupIntervalMsMax) {
    return Invalid("NEBU_BACKUP_INTERVAL",
                   "expected 1s to 365d as N followed by s, m, h or d, got \"" + interval + "\"");
  }
  config.backup_interval_ms = n * unit_ms;
  const std::string& keep = values["NEBU_BACKUP_KEEP"];
  uint64_t k = 0;
  auto [keep_end, keep_ec] = std::from_chars(keep.data(), keep.data() + keep.size(), k);
  if (keep_ec != std::errc() || keep_end != keep.data() + keep.size() || k > kBackupKeepMax) {
    return Invalid("NEBU_BACKUP_KEEP", "expected 0 to 10000, got \"" + keep + "\"");
  }
  config.backup_keep = k;
  return Status::Ok();
}

Result<Config> LoadConfig(const Environment& env) {
  std::map<std::string_view, std::string> values;
  for (const Variable& variable : kVariables) {
    NEBU_ASSIGN_OR_RETURN(values[variable.name], Lookup(env, variable));
  }
  Config config;
  config.data_dir = values["NEBU_DATA_DIR"];
  config.db_url = values["NEBU_DB_URL"];
  config.db_url_migrate = values["NEBU_DB_URL_MIGRATE"];
  if (config.data_dir.empty()) return Invalid("NEBU_DATA_DIR", "must not be empty");
  for (auto [name, field] : {std::pair{"NEBU_CLIENT_ADDR", &config.client_addr},
                             std::pair{"NEBU_OPS_ADDR", &config.ops_addr}}) {
    Result<HostPort> parsed = ParseHostPort(values[name]);
    if (!parsed.ok()) {
      return Invalid(name, "expected IP:PORT such as 127.0.0.1:8008 or [::1]:8008, got \"" +
                               values[name] + "\"");
    }
    *field = *parsed;
  }
  if (config.client_addr.port != 0 && config.client_addr.port == config.ops_addr.port &&
      config.client_addr.host == config.ops_addr.host) {
    return Invalid("NEBU_OPS_ADDR", "must differ from NEBU_CLIENT_ADDR");
  }
  config.server_name = values["NEBU_SERVER_NAME"];
  if (!IsServerName(config.server_name)) {
    return Invalid("NEBU_SERVER_NAME",
                   "not a server name (host[:port]), got \"" + config.server_name + "\"");
  }
  config.public_base_url = values["NEBU_PUBLIC_BASEURL"];
  if (config.public_base_url.empty()) config.public_base_url = DefaultPublicBaseUrl(config);
  if (!config.public_base_url.starts_with("http://") &&
      !config.public_base_url.starts_with("https://")) {
    return Invalid("NEBU_PUBLIC_BASEURL", "must start with http:// or https://");
  }
  config.log_level = values["NEBU_LOG_LEVEL"];
  if (std::find(kLogLevels.begin(), kLogLevels.end(), config.log_level) == kLogLevels.end()) {
    return Invalid("NEBU_LOG_LEVEL",
                   "expected trace, debug, info, warn, error, critical or off, got \"" +
                       config.log_level + "\"");
  }
  if (values["NEBU_REGISTRATION"] == "token") {
    config.registration_requires_token = true;
  } else {
    NEBU_ASSIGN_OR_RETURN(config.registration_open,
                          ParseSwitch("NEBU_REGISTRATION", values["NEBU_REGISTRATION"], "open",
                                      "closed", false));
  }
  {
    constexpr int64_t kLifetimeMsMin = 1'000;
    constexpr int64_t kLifetimeMsMax = 86'400'000;
    const std::string& text = values["NEBU_ACCESS_TOKEN_LIFETIME_MS"];
    int64_t ms = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
    if (ec != std::errc() || end != text.data() + text.size() || ms < kLifetimeMsMin ||
        ms > kLifetimeMsMax) {
      return Invalid("NEBU_ACCESS_TOKEN_LIFETIME_MS",
                     "expected milliseconds from 1000 to 86400000, got \"" + text + "\"");
    }
    config.access_token_lifetime_ms = ms;
  }
  NEBU_ASSIGN_OR_RETURN(config.rate_limit, ParseSwitch("NEBU_RATE_LIMIT", values["NEBU_RATE_LIMIT"],
                                                       "on", "off", true));
  NEBU_ASSIGN_OR_RETURN(config.push_private_gateways,
                        ParseSwitch("NEBU_PUSH_PRIVATE_GATEWAYS",
                                    values["NEBU_PUSH_PRIVATE_GATEWAYS"], "on", "off", false));
  Result<api::TrustedProxies> proxies = api::ParseTrustedProxies(values["NEBU_TRUSTED_PROXIES"]);
  if (!proxies.ok()) return Invalid("NEBU_TRUSTED_PROXIES", proxies.status().message());
  config.trusted_proxies = std::move(*proxies);
  NEBU_RETURN_IF_ERROR(LoadCluster(values, config));
  NEBU_RETURN_IF_ERROR(LoadSupport(values, config));
  NEBU_RETURN_IF_ERROR(LoadOps(values, config));
  NEBU_RETURN_IF_ERROR(LoadSso(values, config));
  NEBU_RETURN_IF_ERROR(LoadMedia(values, config));
  NEBU_RETURN_IF_ERROR(LoadS3(env, values, config));
  NEBU_RETURN_IF_ERROR(LoadRetention(values, config));
  for (const auto& [name, value] : env) {
    if (name.starts_with(kPrefix) && !IsKnown(name))
      config.warnings.push_back("unknown variable " + name + " ignored");
  }
  config.registration_shared_secret = values["NEBU_REGISTRATION_SHARED_SECRET"];
  if (!config.registration_shared_secret.empty() &&
      config.registration_shared_secret.size() < kInternalSecretBytesMin) {
    return Invalid("NEBU_REGISTRATION_SHARED_SECRET", "must be at least 32 characters");
  }
  config.server_notices_localpart = values["NEBU_SERVER_NOTICES_LOCALPART"];
  if (config.server_notices_localpart.empty() ||
      config.server_notices_localpart.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789._=/-") !=
          std::string::npos) {
    return Invalid("NEBU_SERVER_NOTICES_LOCALPART", "must be a localpart of [a-z0-9._=/-]");
  }
  NEBU_RETURN_IF_ERROR(LoadBackup(values, config));
  return config;
}

Result<int64_t> ParseDurationMs(std::string_view text) {
  const std::string shown = "expected a duration such as 90d, 12h, 30m, 45s or 250ms, got \"" +
                            std::string(text) + "\"";
  int64_t number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec != std::errc() || end == text.data() || number < 1) return Status::InvalidArgument(shown);
  const std::string_view unit(end, text.data() + text.size() - end);
  int64_t scale = 0;
  if (unit.empty() || unit == "ms") scale = 1;
  if (unit == "s") scale = 1000;
  if (unit == "m") scale = 60'000;
  if (unit == "h") scale = 3'600'000;
  if (unit == "d") scale = 86'400'000;
  if (scale == 0 || number > INT64_MAX / scale) return Status::InvalidArgument(shown);
  return number * scale;
}

}  // namespace nebu::app
