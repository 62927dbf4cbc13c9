#include "api/http.h"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <algorithm>
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
    // access_token; also the registration token of .../registration_token/validity,
    // the OIDC callback's authorization code and an m.login.token (loginToken).
    const std::string name = PercentDecode(key).value_or(std::string(key));
    if (name == "access_token" || name == "token" || name == "code" || name == "loginToken") {
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

namespace {

// A decimal number of at most 19 digits, or nullopt.
std::optional<uint64_t> ParseDecimal(std::string_view text) {
  if (text.empty() || text.size() > 19) return std::nullopt;
  uint64_t n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

}  // namespace

RangeOutcome ParseByteRange(std::string_view value, uint64_t size) {
  value = Trim(value);
  constexpr std::string_view kUnit = "bytes=";
  if (value.size() < kUnit.size()) return {};
  for (size_t i = 0; i < kUnit.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(value[i])) != kUnit[i]) return {};
  }
  const std::string_view spec = Trim(value.substr(kUnit.size()));
  const size_t dash = spec.find('-');
  if (dash == std::string_view::npos || spec.find(',') != std::string_view::npos) return {};
  const std::string_view first_text = Trim(spec.substr(0, dash));
  const std::string_view last_text = Trim(spec.substr(dash + 1));
  if (first_text.empty()) {  // suffix: the last n bytes
    auto n = ParseDecimal(last_text);
    if (!n) return {};
    if (*n == 0 || size == 0) return {.kind = RangeOutcome::kUnsatisfiable};
    const uint64_t length = std::min(*n, size);
    return {.kind = RangeOutcome::kPartial, .range = {size - length, length}};
  }
  auto first = ParseDecimal(first_text);
  if (!first) return {};
  uint64_t last = size == 0 ? 0 : size - 1;
  if (!last_text.empty()) {
    auto parsed = ParseDecimal(last_text);
    if (!parsed || *parsed < *first) return {};
    last = std::min(*parsed, last);
  }
  if (*first >= size) return {.kind = RangeOutcome::kUnsatisfiable};
  return {.kind = RangeOutcome::kPartial, .range = {*first, last - *first + 1}};
}

}  // namespace nebu::api
