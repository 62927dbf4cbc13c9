#include "app/admin_commands.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <termios.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>

#include "app/config.h"
#include "app/http_get.h"
#include "engine/common/crypto.h"

namespace nebu::app {
namespace {

namespace json = boost::json;

int AdminUsage() {
  std::fprintf(stderr,
               "usage: nebu admin create-user NAME [--admin] [--auditor] "
               "[--password-file FILE]\n");
  return 2;
}

// A line from the terminal without echo; nullopt when there is no terminal.
std::optional<std::string> ReadHidden(const char* prompt) {
  if (::isatty(STDIN_FILENO) == 0) return std::nullopt;
  termios old{};
  ::tcgetattr(STDIN_FILENO, &old);
  termios silent = old;
  silent.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  std::fprintf(stderr, "%s", prompt);
  ::tcsetattr(STDIN_FILENO, TCSANOW, &silent);
  std::string line;
  std::getline(std::cin, line);
  ::tcsetattr(STDIN_FILENO, TCSANOW, &old);
  std::fprintf(stderr, "\n");
  return line;
}

std::optional<std::string> ReadPassword(const std::optional<std::string>& file) {
  std::string password;
  if (file) {
    std::ifstream in(*file);
    if (!in || !std::getline(in, password)) {
      std::fprintf(stderr, "nebu admin: cannot read %s\n", file->c_str());
      return std::nullopt;
    }
  } else if (auto first = ReadHidden("Password: ")) {
    auto again = ReadHidden("Confirm password: ");
    if (!again || *again != *first) {
      std::fprintf(stderr, "nebu admin: the passwords differ\n");
      return std::nullopt;
    }
    password = *first;
  } else if (!std::getline(std::cin, password)) {
    std::fprintf(stderr, "nebu admin: no password on standard input\n");
    return std::nullopt;
  }
  if (!password.empty() && password.back() == '\r') password.pop_back();
  if (password.empty()) {
    std::fprintf(stderr, "nebu admin: empty password\n");
    return std::nullopt;
  }
  return password;
}

std::string HmacSha1Hex(std::string_view key, std::string_view message) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha1(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), out, &length);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(out), length));
}

// The client listener's address as reachable from this machine.
std::string LocalAddress(const HostPort& addr) {
  std::string host = addr.host;
  if (host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  return host.find(':') != std::string::npos
             ? "[" + host + "]:" + std::to_string(addr.port)
             : host + ":" + std::to_string(addr.port);
}

std::string ErrorOf(const HttpGetReply& reply) {
  boost::system::error_code ec;
  json::value v = json::parse(reply.body, ec);
  if (!ec && v.is_object()) {
    if (const json::value* e = v.as_object().if_contains("error"); e && e->is_string()) {
      return std::string(e->as_string());
    }
  }
  return "HTTP " + std::to_string(reply.status);
}

int CreateUser(const std::string& name, bool is_admin, bool is_auditor,
               const std::optional<std::string>& password_file) {
  Result<Config> config = LoadConfig(ProcessEnvironment());
  if (!config.ok()) {
    std::fprintf(stderr, "nebu admin: %s\n", config.status().ToString().c_str());
    return 2;
  }
  if (config->registration_shared_secret.empty()) {
    std::fprintf(stderr,
                 "nebu admin: NEBU_REGISTRATION_SHARED_SECRET is not set (the node needs the "
                 "same secret)\n");
    return 2;
  }
  std::optional<std::string> password = ReadPassword(password_file);
  if (!password) return 1;
  const std::string address = LocalAddress(config->client_addr);
  const std::string path = "/_synapse/admin/v1/register";
  Result<HttpGetReply> nonce_reply = HttpGet(address, path, {}, kAdminCommandTimeoutMs);
  if (!nonce_reply.ok() || nonce_reply->status != 200) {
    std::fprintf(stderr, "nebu admin: no nonce from %s: %s\n", address.c_str(),
                 nonce_reply.ok() ? ErrorOf(*nonce_reply).c_str()
                                  : nonce_reply.status().ToString().c_str());
    return 1;
  }
  boost::system::error_code ec;
  json::value nonce_json = json::parse(nonce_reply->body, ec);
  const json::value* nonce =
      !ec && nonce_json.is_object() ? nonce_json.as_object().if_contains("nonce") : nullptr;
  if (nonce == nullptr || !nonce->is_string()) {
    std::fprintf(stderr, "nebu admin: the node answered no nonce\n");
    return 1;
  }
  std::string message = std::string(nonce->as_string()) + '\0' + name + '\0' + *password + '\0' +
                        (is_admin ? "admin" : "notadmin");
  if (is_auditor) message += std::string(1, '\0') + "auditor";
  json::object body{{"nonce", nonce->as_string()},
                    {"username", name},
                    {"password", *password},
                    {"admin", is_admin},
                    {"mac", HmacSha1Hex(config->registration_shared_secret, message)}};
  if (is_auditor) body["auditor"] = true;
  Result<HttpGetReply> reply =
      HttpCall("POST", address, path, {}, json::serialize(body), kAdminCommandTimeoutMs);
  if (!reply.ok() || reply->status != 200) {
    std::fprintf(stderr, "nebu admin: registration refused: %s\n",
                 reply.ok() ? ErrorOf(*reply).c_str() : reply.status().ToString().c_str());
    return 1;
  }
  json::value answer = json::parse(reply->body, ec);
  const json::value* user_id =
      !ec && answer.is_object() ? answer.as_object().if_contains("user_id") : nullptr;
  std::printf("%s\n", user_id != nullptr && user_id->is_string()
                          ? std::string(user_id->as_string()).c_str()
                          : name.c_str());
  return 0;
}

}  // namespace

int RunAdminCommand(const std::vector<std::string_view>& args) {
  if (args.size() < 3 || args[1] != "create-user") return AdminUsage();
  const std::string name(args[2]);
  bool is_admin = false;
  bool is_auditor = false;
  std::optional<std::string> password_file;
  for (size_t i = 3; i < args.size(); ++i) {
    if (args[i] == "--admin") {
      is_admin = true;
    } else if (args[i] == "--auditor") {
      is_auditor = true;
    } else if (args[i] == "--password-file" && i + 1 < args.size()) {
      password_file = std::string(args[++i]);
    } else {
      return AdminUsage();
    }
  }
  return CreateUser(name, is_admin, is_auditor, password_file);
}

}  // namespace nebu::app
