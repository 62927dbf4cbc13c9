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
//   NEBU_TRUSTED_PROXIES, NEBU_DB_URL, NEBU_DB_URL_MIGRATE (secrets: never logged)
// Any variable NEBU_X may instead be given as NEBU_X_FILE: a path whose contents,
// trimmed of surrounding whitespace, are the value (Docker/Kubernetes secrets). Setting
// both is an error. Unknown NEBU_* variables are not an error; they come back in
// Config::warnings so a typo is visible in the log.
//
// Thread-safety: pure functions, except ProcessEnvironment() which reads `environ`.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "api/forwarded.h"
#include "engine/common/status.h"

namespace nebu::app {

// A listening address: an IP literal and a port ("127.0.0.1:8008", "[::]:8008").
struct HostPort {
  std::string host;  // without brackets
  uint16_t port = 0;

  [[nodiscard]] std::string ToString() const;  // brackets an IPv6 host
};

struct Config {
  std::string data_dir;
  HostPort client_addr;         // Matrix Client-Server API
  HostPort ops_addr;            // /health, /ready, /metrics
  std::string server_name;      // the Matrix server name (user IDs end in ":server_name")
  std::string public_base_url;  // advertised in /.well-known/matrix/client
  std::string log_level;        // trace, debug, info, warn, error, critical, off
  // NEBU_REGISTRATION=open|closed: may anyone POST /register? Default closed, always:
  // open registration is the operator's explicit choice.
  bool registration_open = false;
  bool rate_limit = true;  // NEBU_RATE_LIMIT=on|off
  // NEBU_TRUSTED_PROXIES: comma-separated CIDRs whose X-Forwarded-For is believed
  // (api/forwarded.h); default none.
  api::TrustedProxies trusted_proxies;
  std::string db_url;                 // NEBU_DB_URL: the projection's PostgreSQL ("": none)
  std::string db_url_migrate;         // NEBU_DB_URL_MIGRATE: migrations only ("": db_url)
  std::vector<std::string> warnings;  // e.g. unknown NEBU_* variables
};

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

// Parses "IP:PORT" / "[IPv6]:PORT"; the IP must be a literal.
[[nodiscard]] Result<HostPort> ParseHostPort(std::string_view text);

}  // namespace nebu::app
