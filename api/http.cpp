#include "api/http.h"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cctype>

namespace nebu::api {
namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

constexpr std::string_view kBearerPrefix = "Bearer ";

}  // namespace

std::optional<std::string_view> Headers::Get(std::string_view name) const {
  for (const auto& [field, value] : fields_) {
    if (EqualsIgnoreCase(field, name)) return std::string_view(value);
  }
  return std::nullopt;
}

void Headers::Set(std::string_view name, std::string_view value) {
  std::erase_if(fields_, [&](const auto& f) { return EqualsIgnoreCase(f.first, name); });
  Add(name, value);
}

void Headers::Add(std::string_view name, std::string_view value) {
  fields_.emplace_back(std::string(name), std::string(value));
}

std::optional<std::string_view> Request::Query(std::string_view name) const {
  for (const auto& [key, value] : query) {
    if (key == name) return std::string_view(value);
  }
  return std::nullopt;
}

std::optional<std::string_view> Request::AccessToken() const {
  if (auto auth = headers.Get("Authorization")) {
    if (auth->size() > kBearerPrefix.size() &&
        EqualsIgnoreCase(auth->substr(0, kBearerPrefix.size()), kBearerPrefix)) {
      return auth->substr(kBearerPrefix.size());
    }
  }
  return Query("access_token");
}

Response JsonResponse(int status, const boost::json::value& body) {
  Response response;
  response.status = status;
  response.headers.Set("Content-Type", "application/json");
  response.body = boost::json::serialize(body);
  return response;
}

Request MakeRequest(std::string method, std::string target, std::string body) {
  Request request;
  request.method = std::move(method);
  request.target = std::move(target);
  std::string_view view = request.target;
  size_t question = view.find('?');
  request.path = std::string(view.substr(0, question));
  if (question != std::string_view::npos) request.query = ParseQuery(view.substr(question + 1));
  request.body = std::move(body);
  return request;
}

std::optional<std::string> PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;  // needs two hex digits after '%'
    int hi = HexValue(text[i + 1]);
    int lo = HexValue(text[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> ParseQuery(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (part.empty()) continue;
    size_t eq = part.find('=');
    std::string_view key = part.substr(0, eq);
    std::string_view value =
        eq == std::string_view::npos ? std::string_view{} : part.substr(eq + 1);
    out.emplace_back(PercentDecode(key).value_or(std::string(key)),
                     PercentDecode(value).value_or(std::string(value)));
  }
  return out;
}

std::string RedactTarget(std::string_view target) {
  size_t question = target.find('?');
  if (question == std::string_view::npos) return std::string(target);
  std::string out(target.substr(0, question + 1));
  std::string_view query = target.substr(question + 1);
  bool first = true;
  while (true) {
    size_t amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    if (!first) out.push_back('&');
    first = false;
    size_t eq = part.find('=');
    std::string_view key = part.substr(0, eq);
    if (PercentDecode(key).value_or(std::string(key)) == "access_token") {
      out.append(key).append("=<redacted>");
    } else {
      out.append(part);
    }
    if (amp == std::string_view::npos) break;
    query = query.substr(amp + 1);
  }
  return out;
}

void AddCorsHeaders(Response& response) {
  response.headers.Set("Access-Control-Allow-Origin", "*");
  response.headers.Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS");
  response.headers.Set("Access-Control-Allow-Headers",
                       "X-Requested-With, Content-Type, Authorization");
}

}  // namespace nebu::api
