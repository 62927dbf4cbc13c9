#include "projections/pg.h"

#include <string>
#include <vector>

namespace nebu::projections::pg {

namespace {

std::string WithConnectTimeout(const std::string& url) {
  if (url.find("connect_timeout") != std::string::npos) return url;
  std::string timeout = std::to_string(kConnectTimeoutSeconds);
  if (url.starts_with("postgres://") || url.starts_with("postgresql://")) {
    return url + (url.find('?') == std::string::npos ? "?" : "&") + "connect_timeout=" + timeout;
  }
  return url + " connect_timeout=" + timeout;
}

// libpq messages end in a newline; one-line log messages read better.
std::string OneLine(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  for (char& c : text) {
    if (c == '\n') c = ' ';
  }
  return text;
}

}  // namespace

// libpq may quote parts of a malformed URL in its messages: never let the password
// (or the whole URL) reach a log.
Status Scrubbed(const Status& status, const std::string& url) {
  std::string message = status.message();
  std::vector<std::string> secrets = {url};
  size_t scheme = url.find("://");
  size_t at = url.find('@');
  if (scheme != std::string::npos && at != std::string::npos && at > scheme) {
    std::string userinfo = url.substr(scheme + 3, at - scheme - 3);
    size_t colon = userinfo.find(':');
    if (colon != std::string::npos && colon + 1 < userinfo.size()) secrets.push_back(userinfo.substr(colon + 1));
  }
  for (size_t p = url.find("password="); p != std::string::npos; p = url.find("password=", p + 1)) {
    size_t end = url.find_first_of("& ", p);
    secrets.push_back(url.substr(p + 9, end == std::string::npos ? std::string::npos : end - p - 9));
  }
  for (const std::string& secret : secrets) {
    if (secret.empty()) continue;
    for (size_t p = message.find(secret); p != std::string::npos; p = message.find(secret, p)) {
      message.replace(p, secret.size(), "***");
    }
  }
  return Status(status.code(), message);
}

Result<std::unique_ptr<pqxx::connection>> Connect(const std::string& url) {
  std::unique_ptr<pqxx::connection> conn;
  Status status = Run("connect", [&] { conn = std::make_unique<pqxx::connection>(WithConnectTimeout(url)); });
  if (!status.ok()) return Scrubbed(status, url);
  return conn;
}

Result<std::unique_ptr<pqxx::connection>> ConnectProjector(const std::string& url) {
  NEBU_ASSIGN_OR_RETURN(auto conn, Connect(url));
  NEBU_RETURN_IF_ERROR(Run("session settings", [&] {
    pqxx::nontransaction(*conn).exec("SET synchronous_commit TO off");
  }));
  return conn;
}

Status FromCurrentException(std::string_view what) {
  std::string prefix = std::string(what) + ": ";
  try {
    throw;
  } catch (const pqxx::broken_connection& e) {
    return Status::Unavailable(prefix + "PostgreSQL connection lost or refused: " + OneLine(e.what()));
  } catch (const pqxx::in_doubt_error& e) {
    return Status::Unavailable(prefix + "commit outcome unknown: " + OneLine(e.what()));
  } catch (const pqxx::sql_error& e) {
    std::string state = e.sqlstate();
    // 57P01 admin shutdown, 57P02/57P03 crash/cannot connect now, 08xxx connection.
    if (state.starts_with("57P") || state.starts_with("08")) {
      return Status::Unavailable(prefix + OneLine(e.what()));
    }
    return Status::IoError(prefix + OneLine(e.what()) + (state.empty() ? "" : " (SQLSTATE " + state + ")"));
  } catch (const std::exception& e) {
    return Status::Internal(prefix + OneLine(e.what()));
  } catch (...) {
    return Status::Internal(prefix + "unknown exception");
  }
}

}  // namespace nebu::projections::pg
