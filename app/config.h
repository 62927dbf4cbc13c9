// Config: the nebu binary's configuration, read only from NEBU_* environment variables,
// each with an embedded default, so `nebu` with no variables at all runs one node on
// 127.0.0.1 with its data in ./nebu-data.
//
//   Result<Config> config = LoadConfig(ProcessEnvironment());
//   if (!config.ok()) { fprintf(stderr, "nebu: %s\n", config.status().message().c_str()); exit(2);
//   }
//
// Variables (see kVariables for the defaults; README.md has the table):
//   NEBU_DATA_DIR, NEBU_CLIENT_ADDR, NEBU_OPS_ADDR, NEBU_SERVER_NAME,
//   NEBU_PUBLIC_BASEURL, NEBU_LOG_LEVEL, NEBU_REGISTRATION, NEBU_RATE_LIMIT,
//   NEBU_PUSH_PRIVATE_GATEWAYS,
//   NEBU_TRUSTED_PROXIES, NEBU_DB_URL, NEBU_DB_URL_MIGRATE (secrets: never logged),
//   NEBU_SUPPORT_ADMIN_MATRIX_ID, NEBU_SUPPORT_ADMIN_EMAIL,
//   NEBU_SUPPORT_SECURITY_MATRIX_ID, NEBU_SUPPORT_SECURITY_EMAIL, NEBU_SUPPORT_PAGE
//   (/.well-known/matrix/support: an m.role.admin and an m.role.security contact, each
//   present when one of its two variables is set, and the support page URL),
//   and the cluster's (ClusterConfig below): NEBU_ETCD_ENDPOINTS, NEBU_ETCD_PREFIX,
//   NEBU_NODE_ID, NEBU_GRPC_ADDR, NEBU_INTERNAL_SECRET, NEBU_ETCD_USERNAME,
//   NEBU_ETCD_PASSWORD, NEBU_ETCD_CA_FILE, NEBU_ETCD_CERT_FILE, NEBU_ETCD_KEY_FILE,
//   and the S3 media store's (media/s3_config.h): NEBU_S3_ENDPOINT, NEBU_S3_BUCKET,
//   NEBU_S3_REGION, NEBU_S3_ACCESS_KEY_ID, NEBU_S3_SECRET_ACCESS_KEY_FILE,
//   NEBU_S3_PATH_STYLE, NEBU_S3_KEY_PREFIX, NEBU_MEDIA_CACHE_BYTES.
// Any variable NEBU_X may instead be given as NEBU_X_FILE: a path whose contents,
// trimmed of surrounding whitespace, are the value (Docker/Kubernetes secrets). Setting
// both is an error. Unknown NEBU_* variables are not an error; they come back in
// Config::warnings so a typo is visible in the log.
//
// Thread-safety: pure functions, except ProcessEnvironment() which reads `environ`.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/discovery.h"
#include "api/forwarded.h"
#include "api/sso/sso_routes.h"
#include "engine/common/status.h"
#include "media/s3_config.h"

namespace nebu::app {

// A listening address: an IP literal and a port ("127.0.0.1:8008", "[::]:8008").
struct HostPort {
  std::string host;  // without brackets
  uint16_t port = 0;

  [[nodiscard]] std::string ToString() const;  // brackets an IPv6 host
};

// Limits of the cluster variables.
inline constexpr size_t kEtcdEndpointsMax = 16;      // URLs in NEBU_ETCD_ENDPOINTS
inline constexpr size_t kEtcdPrefixBytesMax = 128;   // NEBU_ETCD_PREFIX
inline constexpr size_t kNodeIdBytesMax = 64;        // NEBU_NODE_ID
inline constexpr size_t kInternalSecretBytesMin = 32;  // NEBU_INTERNAL_SECRET

// One etcd member's client URL, "http(s)://host:port" (host: a DNS name, an IPv4
// literal or a bracketed IPv6 literal; the port is required; no path).
struct EtcdEndpoint {
  bool tls = false;  // https://
  std::string host;  // without brackets
  uint16_t port = 0;

  [[nodiscard]] std::string ToString() const;  // the URL, normalized
  bool operator==(const EtcdEndpoint&) const = default;
};

// The cluster variables (ISSUE 8; docs/architecture.md, Cluster). Without
// NEBU_ETCD_ENDPOINTS the node runs alone and only node_id and grpc_addr matter (their
// defaults are always filled in); with it, internal_secret is required.
//   NEBU_ETCD_ENDPOINTS  comma-separated http(s)://host:port URLs, one scheme for all,
//                        at most kEtcdEndpointsMax; empty: a single node (no etcd)
//   NEBU_ETCD_PREFIX     the cluster's key prefix, default "/nebu": starts with '/', does
//                        not end with '/', printable ASCII without spaces, at most
//                        kEtcdPrefixBytesMax bytes
//   NEBU_NODE_ID         unique per node, default the host name: [A-Za-z0-9._-], 1 to
//                        kNodeIdBytesMax characters
//   NEBU_GRPC_ADDR       node-to-node gRPC listener (IP:PORT), default 127.0.0.1:9000;
//                        in a cluster it must differ from the client and ops listeners
//   NEBU_INTERNAL_SECRET the pre-shared key of /internal/nodes and node-to-node calls (a
//                        secret: never logged; use NEBU_INTERNAL_SECRET_FILE); at least
//                        kInternalSecretBytesMin bytes; required with NEBU_ETCD_ENDPOINTS
//   NEBU_ETCD_USERNAME, NEBU_ETCD_PASSWORD (secret; NEBU_ETCD_PASSWORD_FILE): etcd
//                        authentication, both or neither
//   NEBU_ETCD_CA_FILE    PEM CA bundle that verifies etcd's server certificates
//   NEBU_ETCD_CERT_FILE, NEBU_ETCD_KEY_FILE: PEM client certificate and key for etcd
//                        (mutual TLS), both or neither
// The three paths must name readable files; they and the credentials are only
// meaningful with https:// endpoints (TLS) or any endpoints (auth): set without
// NEBU_ETCD_ENDPOINTS they are ignored with a warning, and TLS files with http://
// endpoints are an error.
struct ClusterConfig {
  std::vector<EtcdEndpoint> etcd_endpoints;  // empty: a single node
  std::string etcd_prefix;
  std::string node_id;
  HostPort grpc_addr;
  std::string internal_secret;  // secret: never logged
  std::string etcd_username;
  std::string etcd_password;  // secret: never logged
  std::string etcd_ca_file, etcd_cert_file, etcd_key_file;

  [[nodiscard]] bool enabled() const { return !etcd_endpoints.empty(); }
};

// NEBU_MEDIA_*: the media repository (api/media/media_routes.h).
struct MediaConfig {
  std::string backend = "file";  // NEBU_MEDIA_BACKEND=file|s3
  uint64_t upload_bytes_max = 50ull * 1024 * 1024;  // NEBU_MEDIA_MAX_UPLOAD_BYTES (1..2^40)
  uint64_t user_quota_bytes = 0;  // NEBU_MEDIA_USER_QUOTA_BYTES; 0: no quota
  bool legacy = true;             // NEBU_MEDIA_LEGACY=on|off: unauthenticated /_matrix/media/*
  std::optional<HostPort> addr;   // NEBU_MEDIA_ADDR: a listener of the media routes only
};

// Operating the node (issue 13):
//   NEBU_LOG_FORMAT        text (default) or json: one JSON object per line with ts,
//                          level, logger, msg (app/logging.h)
//   NEBU_DRAIN_TIMEOUT_MS  on SIGTERM/SIGINT, how long in-flight requests may take to
//                          finish before their connections are cut (ms; default
//                          kDrainTimeoutMsDefault, kDrainTimeoutMsMin..kDrainTimeoutMsMax)
//   NEBU_TLS_CERT_FILE, NEBU_TLS_KEY_FILE: PEM certificate chain and private key; both
//                          set: the client, ops and media listeners speak TLS 1.3 only
//                          (reloaded on SIGHUP); both unset: plain HTTP; one alone is an
//                          error, and so is an unreadable file.
inline constexpr int64_t kDrainTimeoutMsDefault = 10'000;
inline constexpr int64_t kDrainTimeoutMsMin = 0;
inline constexpr int64_t kDrainTimeoutMsMax = 600'000;
struct OpsConfig {
  bool log_json = false;
  int64_t drain_timeout_ms = kDrainTimeoutMsDefault;
  std::string tls_cert_file;  // empty: plain HTTP
  std::string tls_key_file;
  [[nodiscard]] bool tls() const { return !tls_cert_file.empty(); }
};

struct Config {
  std::string data_dir;
  HostPort client_addr;         // Matrix Client-Server API
  HostPort ops_addr;            // /health, /ready, /metrics
  std::string server_name;      // the Matrix server name (user IDs end in ":server_name")
  std::string public_base_url;  // advertised in /.well-known/matrix/client
  std::string log_level;        // trace, debug, info, warn, error, critical, off
  OpsConfig ops;                // NEBU_LOG_FORMAT, NEBU_DRAIN_TIMEOUT_MS, NEBU_TLS_*
  // NEBU_REGISTRATION=open|closed|token: may anyone POST /register? Default closed,
  // always: open registration is the operator's explicit choice. token: only with a
  // valid registration token (UIA stage m.login.registration_token).
  bool registration_open = false;
  bool registration_requires_token = false;  // NEBU_REGISTRATION=token
  // NEBU_ACCESS_TOKEN_LIFETIME_MS: how long an access token issued with a refresh token
  // (refresh_token: true on /login, /register; /refresh) is accepted, in ms; default
  // 300000 (5 min, as Synapse), 1000..86400000. Tokens without a refresh token never
  // expire.
  int64_t access_token_lifetime_ms = 300000;
  bool rate_limit = true;  // NEBU_RATE_LIMIT=on|off
  // NEBU_PUSH_PRIVATE_GATEWAYS=on|off: pushers may reach loopback/private addresses
  // (api/push/pusher_delivery.h § MakeHttpPushGateway). Default off.
  bool push_private_gateways = false;
  // NEBU_TRUSTED_PROXIES: comma-separated CIDRs whose X-Forwarded-For is believed
  // (api/forwarded.h); default none.
  api::TrustedProxies trusted_proxies;
  std::string db_url;                 // NEBU_DB_URL: the projection's PostgreSQL ("": none)
  std::string db_url_migrate;         // NEBU_DB_URL_MIGRATE: migrations only ("": db_url)
  ClusterConfig cluster;              // NEBU_ETCD_* and friends (see ClusterConfig)
  api::SupportInfo support;           // NEBU_SUPPORT_* (empty: none)
  // Single sign-on with OpenID Connect (api/sso/sso_routes.h), off while
  // NEBU_OIDC_ISSUER is unset:
  //   NEBU_OIDC_ISSUER          the provider's issuer URL: https://, or http:// to a
  //                             loopback host (127.0.0.1, [::1], localhost) only
  //   NEBU_OIDC_CLIENT_ID       required with the issuer
  //   NEBU_OIDC_CLIENT_SECRET   required with the issuer (secret, never logged; use
  //                             NEBU_OIDC_CLIENT_SECRET_FILE)
  //   NEBU_OIDC_SCOPES          space-separated, must include openid; default
  //                             "openid profile email"
  //   NEBU_OIDC_DISPLAY_NAME    the provider's name in GET /login; default "Single sign-on"
  //   NEBU_OIDC_LOCALPART_CLAIM the claim new users' localparts come from; default
  //                             preferred_username (then the email's local part)
  //   NEBU_SSO_CLIENT_WHITELIST comma-separated client URL prefixes a redirectUrl must
  //                             start with; unset: any (the confirmation page still shows)
  api::SsoConfig sso;
  // NEBU_PASSWORD_LOGIN=on|off: off hides m.login.password and refuses password login,
  // registration and password changes (an OIDC-only deployment). Default on.
  bool password_login = true;
  MediaConfig media;                  // NEBU_MEDIA_*
  // NEBU_S3_* and NEBU_MEDIA_CACHE_BYTES (media/s3_config.h): filled when
  // NEBU_S3_ENDPOINT is set (then NEBU_S3_BUCKET, NEBU_S3_ACCESS_KEY_ID and
  // NEBU_S3_SECRET_ACCESS_KEY_FILE are required); s3.endpoint is "" otherwise. The secret
  // comes only from the file NEBU_S3_SECRET_ACCESS_KEY_FILE names: NEBU_S3_SECRET_ACCESS_KEY
  // itself is an error. The rest (bucket name, prefix) is checked by MakeS3ContentStore.
  media::S3Config s3;
  std::vector<std::string> warnings;  // e.g. unknown NEBU_* variables
  // NEBU_REGISTRATION_SHARED_SECRET: Synapse's shared-secret registration
  // (/_synapse/admin/v1/register, `nebu admin create-user`); empty: the route is off.
  std::string registration_shared_secret;
  // NEBU_SERVER_NOTICES_LOCALPART: the user server notices come from ([a-z0-9._=/-]+).
  std::string server_notices_localpart = "server";
  // Retention (api/compliance/retention.h): NEBU_RETENTION_MAX_LIFETIME, the server's
  // default max lifetime of messages ("90d", "12h", "30m", "45s" or milliseconds; unset:
  // none, only rooms' m.room.retention apply), and NEBU_RETENTION_INTERVAL, how often the
  // purge job runs (same syntax, at least 1 s; default 1h).
  std::optional<int64_t> retention_max_lifetime_ms;
  int64_t retention_interval_ms = 3'600'000;
  // Scheduled backups inside the node (app/backup_service.h): NEBU_BACKUP_DIR (a
  // directory or s3://BUCKET/PREFIX; "": none), every NEBU_BACKUP_INTERVAL ("24h": N
  // with s, m, h or d, kBackupIntervalMsMin..kBackupIntervalMsMax), keeping the newest
  // NEBU_BACKUP_KEEP (default 7, 0: all, at most kBackupKeepMax).
  std::string backup_dir;
  int64_t backup_interval_ms = 86'400'000;
  size_t backup_keep = 7;
};
// "90d" / "12h" / "30m" / "45s" / "250ms" / "250" (ms) -> milliseconds >= 1; kInvalidArgument
// otherwise (or over ~292 years).
Result<int64_t> ParseDurationMs(std::string_view text);

// 1 second: a scheduled run that finds a backup running is skipped, so a short interval
// means back-to-back backups, never piled-up ones (tests run the schedule with "1s").
inline constexpr int64_t kBackupIntervalMsMin = 1'000;
inline constexpr int64_t kBackupIntervalMsMax = 365LL * 86'400'000;  // 1 year
inline constexpr size_t kBackupKeepMax = 10'000;

struct Variable {
  std::string_view name;
  std::string_view default_value;  // empty: derived, see derived_default
  std::string_view meaning;
  std::string_view derived_default = {};  // how an empty default_value is derived
};

// Every variable LoadConfig reads, in help/README order.
extern const std::vector<Variable> kVariables;

using Environment = std::map<std::string, std::string, std::less<>>;

// The process environment's NEBU_* variables.
[[nodiscard]] Environment ProcessEnvironment();

// Reads and validates every variable. Errors are kInvalidArgument with a one-line
// message that names the variable, e.g.
//   "NEBU_CLIENT_ADDR: expected IP:PORT such as 127.0.0.1:8008, got \"localhost\"".
[[nodiscard]] Result<Config> LoadConfig(const Environment& environment);

// Parses NEBU_ETCD_ENDPOINTS ("" gives none); kInvalidArgument naming the bad URL.
[[nodiscard]] Result<std::vector<EtcdEndpoint>> ParseEtcdEndpoints(std::string_view text);

// Parses "IP:PORT" / "[IPv6]:PORT"; the IP must be a literal.
[[nodiscard]] Result<HostPort> ParseHostPort(std::string_view text);

}  // namespace nebu::app
