// HTTP fuzz target: one input is one Client-Server request, answered by the real
// Router of api::ClientApi (every route nebu serves) over a real core::Engine on a
// temp dir. The engine, a registered user, a room and one event in it are set up
// once per process, so authenticated routes run past authentication; state grows
// across inputs as the fuzzer's requests change it, like a live server's.
//
// Input framing (text, '\n' or "\r\n" line ends):
//   METHOD TARGET                       e.g. "PUT /_matrix/client/v3/rooms/..."
//   Name: value                         zero or more header lines
//                                       an empty line
//   body                                everything after it, as is
// Placeholders anywhere in the input are replaced before parsing:
//   {{token}}  the user's access token     {{user}}   the user ID (@fuzz:localhost)
//   {{room}}   the room ID                 {{event}}  the event ID of a message in it
//   {{device}} the user's device ID
//
// Checked for every input: the request is answered (never a crash, an abort or an
// exception out of the router), the status is in 100..599 and not 500 (a handler
// that threw or an assertion turned error), and a body labelled application/json is
// JSON; an error status (>= 400) carries an {"errcode": "..."} object (or, for a 401
// of user-interactive auth, its "flows").
//
// HTTP_FUZZ_VERBOSE=1 prints each answer's status and the start of its body (to
// check that seeds reach their handlers).
//
// Long-polls are cut short: a `timeout` query parameter is answered as 0, so a
// /sync never waits. Seeds: fuzz/corpus/http/.
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/client_api.h"
#include "api/http.h"
#include "api/router.h"
#include "engine/accounts/accounts.h"
#include "engine/common/clock.h"
#include "engine/core/engine.h"
#include "engine/testing/temp_dir.h"

namespace {

using nebu::api::Request;
using nebu::api::Response;

constexpr size_t kInputBytesMax = 64 * 1024;  // bigger inputs only slow the fuzzer
constexpr std::string_view kV3 = "/_matrix/client/v3";

[[noreturn]] void Fail(const std::string& what, const Request& request, const Response& response) {
  std::fprintf(stderr, "http_fuzz: %s\n  %s %s\n  -> %d %s\n", what.c_str(),
               request.method.c_str(), request.target.c_str(), response.status,
               response.body.substr(0, 500).c_str());
  std::abort();
}

void ReplaceAll(std::string& text, std::string_view from, std::string_view to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
}

// The engine and the API of this process, with one user and one room.
class Harness {
 public:
  Harness() {
    auto opened = nebu::core::Engine::Open({.data_dir = dir_.path(), .server_name = "localhost"});
    if (!opened.ok()) Die("engine: " + opened.status().ToString());
    engine_ = std::move(opened).value();
    api_ = std::make_unique<nebu::api::ClientApi>(
        *engine_, nebu::api::ClientApiOptions{.public_base_url = "http://localhost",
                                              .registration_open = true,
                                              .rate_limit = false});
    Register();
    room_ = Field(Call("POST", std::string(kV3) + "/createRoom", R"({"preset":"public_chat"})"),
                  "room_id");
    event_ = Field(Call("PUT", std::string(kV3) + "/rooms/" + room_ + "/send/m.room.message/seed",
                        R"({"msgtype":"m.text","body":"seed"})"),
                   "event_id");
  }

  // Substitutes the placeholders of the framing above.
  std::string Expand(std::string text) const {
    ReplaceAll(text, "{{token}}", token_);
    ReplaceAll(text, "{{user}}", user_);
    ReplaceAll(text, "{{room}}", room_);
    ReplaceAll(text, "{{event}}", event_);
    ReplaceAll(text, "{{device}}", device_);
    return text;
  }

  [[nodiscard]] const nebu::api::Router& router() const { return api_->router(); }

 private:
  [[noreturn]] static void Die(const std::string& what) {
    std::fprintf(stderr, "http_fuzz setup: %s\n", what.c_str());
    std::abort();
  }

  void Register() {
    user_ = "@fuzz:localhost";
    device_ = "FUZZDEVICE";
    nebu::SystemClock clock;
    auto prepared = nebu::accounts::PrepareRegistration(
        {.user_id = user_, .device_id = device_}, clock.NowUnixMs());
    if (!prepared.ok()) Die("register: " + prepared.status().ToString());
    auto applied = engine_->Submit(
        nebu::core::Command{nebu::core::CommandKind::kAccount, prepared->payload});
    if (!applied.ok()) Die("register: " + applied.status().ToString());
    token_ = *prepared->access_token;
  }

  Response Call(std::string method, std::string target, std::string body) {
    Request request = nebu::api::MakeRequest(std::move(method), std::move(target), std::move(body));
    request.headers.Set("Authorization", "Bearer " + token_);
    Response response = api_->router().Handle(request);
    if (response.status != 200) Die(request.target + ": " + response.body);
    return response;
  }

  static std::string Field(const Response& response, std::string_view name) {
    return std::string(boost::json::parse(response.body).at(name).as_string());
  }

  nebu::testing::TempDir dir_{nebu::testing::TempDir::kTmpfs};
  std::unique_ptr<nebu::core::Engine> engine_;
  std::unique_ptr<nebu::api::ClientApi> api_;  // goes before the engine
  std::string user_, token_, device_, room_, event_;
};

// Splits the framing above; false when there is no request line.
bool ParseInput(std::string_view text, Request* request) {
  auto next_line = [&text]() {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line;
  };
  std::string_view first = next_line();
  size_t space = first.find(' ');
  if (space == std::string_view::npos || space == 0) return false;
  std::vector<std::pair<std::string, std::string>> headers;
  while (!text.empty()) {
    std::string_view line = next_line();
    if (line.empty()) break;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    headers.emplace_back(line.substr(0, colon), value);
  }
  *request = nebu::api::MakeRequest(std::string(first.substr(0, space)),
                                    std::string(first.substr(space + 1)), std::string(text));
  for (auto& [name, value] : headers) request->headers.Add(name, value);
  for (auto& [name, value] : request->query) {
    if (name == "timeout") value = "0";
  }
  request->remote_address = "127.0.0.1:1";
  return true;
}

void CheckResponse(const Request& request, const Response& response) {
  if (response.status < 100 || response.status > 599) Fail("status out of range", request, response);
  if (response.status == 500) Fail("internal error", request, response);
  const bool json_body = response.headers.Get("Content-Type") == "application/json";
  boost::system::error_code ec;
  boost::json::value body;
  if (json_body) {
    body = boost::json::parse(response.body, ec);
    if (ec) Fail("Content-Type application/json but the body is not JSON", request, response);
  }
  if (response.status >= 400) {
    const boost::json::object* error = body.if_object();
    // User-interactive auth answers 401 with its flows and no errcode (spec § UIA).
    if (response.status == 401 && error && error->contains("flows")) return;
    const boost::json::value* errcode = error ? error->if_contains("errcode") : nullptr;
    if (!json_body || !errcode || !errcode->is_string()) {
      Fail("error without an errcode", request, response);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Once per process; deleted at exit (stops the engine, removes the temp dir).
  static Harness* harness = [] {
    auto* made = new Harness();
    std::atexit([] { delete harness; });
    return made;
  }();
  if (size > kInputBytesMax) return -1;
  std::string text = harness->Expand(std::string(reinterpret_cast<const char*>(data), size));
  Request request;
  if (!ParseInput(text, &request)) return -1;
  Response response = harness->router().Handle(request);
  CheckResponse(request, response);
  static const bool verbose = std::getenv("HTTP_FUZZ_VERBOSE") != nullptr;
  if (verbose) {
    std::fprintf(stderr, "%d %s %s %s\n", response.status, request.method.c_str(),
                 request.target.c_str(), response.body.substr(0, 160).c_str());
  }
  return 0;
}
