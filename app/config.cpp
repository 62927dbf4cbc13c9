#include "app/config.h"

#include <arpa/inet.h>

#include <algorithm>
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

}  // namespace

const std::vector<Variable> kVariables = {
    {"NEBU_DATA_DIR", "./nebu-data", "directory of the node's data (RocksDB)"},
    {"NEBU_CLIENT_ADDR", "127.0.0.1:8008", "listener of the Matrix Client-Server API (IP:PORT)"},
    {"NEBU_OPS_ADDR", "127.0.0.1:8080", "listener of /health, /ready, /metrics (IP:PORT)"},
    {"NEBU_SERVER_NAME", "localhost", "the Matrix server name (user IDs end in :NAME)"},
    {"NEBU_PUBLIC_BASEURL", "", "base URL advertised in /.well-known/matrix/client",
     "https://NAME, or http://localhost:CLIENT_PORT when NAME is localhost"},
    {"NEBU_LOG_LEVEL", "info", "trace, debug, info, warn, error, critical or off"},
    {"NEBU_REGISTRATION", "closed", "open or closed: may anyone register an account"},
    {"NEBU_RATE_LIMIT", "on", "on or off: every rate limit (per IP and per user)"},
    {"NEBU_TRUSTED_PROXIES", "", "CIDRs of reverse proxies whose X-Forwarded-For is believed",
     "none: X-Forwarded-For is ignored"},
    {"NEBU_DB_URL", "", "PostgreSQL URL of the projection (migrated and fed at start-up)",
     "unset: no PostgreSQL projection"},
    {"NEBU_DB_URL_MIGRATE", "", "PostgreSQL URL for migrations only (overrides NEBU_DB_URL)",
     "NEBU_DB_URL"},
};

std::string HostPort::ToString() const {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
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
  NEBU_ASSIGN_OR_RETURN(config.registration_open,
                        ParseSwitch("NEBU_REGISTRATION", values["NEBU_REGISTRATION"], "open",
                                    "closed", false));
  NEBU_ASSIGN_OR_RETURN(config.rate_limit, ParseSwitch("NEBU_RATE_LIMIT", values["NEBU_RATE_LIMIT"],
                                                       "on", "off", true));
  Result<api::TrustedProxies> proxies = api::ParseTrustedProxies(values["NEBU_TRUSTED_PROXIES"]);
  if (!proxies.ok()) return Invalid("NEBU_TRUSTED_PROXIES", proxies.status().message());
  config.trusted_proxies = std::move(*proxies);
  for (const auto& [name, value] : env) {
    if (name.starts_with(kPrefix) && !IsKnown(name))
      config.warnings.push_back("unknown variable " + name + " ignored");
  }
  return config;
}

}  // namespace nebu::app
