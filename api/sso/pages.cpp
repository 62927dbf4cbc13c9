// api/sso/pages.h.
#include "api/sso/pages.h"

#include "api/sso/http_client.h"
#include "api/sso/sso_util.h"

namespace nebu::api::sso {
namespace {

Response HtmlPage(int status, std::string_view title, const std::string& body_html,
                  bool allow_done_script = false) {
  Response response;
  response.status = status;
  response.headers.Set("Content-Type", "text/html; charset=utf-8");
  response.headers.Set("Cache-Control", "no-store");
  response.headers.Set("Content-Security-Policy",
                       allow_done_script ? "default-src 'none'; script-src 'unsafe-inline'"
                                         : "default-src 'none'");
  response.headers.Set("X-Frame-Options", allow_done_script ? "SAMEORIGIN" : "DENY");
  response.body = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" +
                  HtmlEscape(title) + "</title></head>\n<body>\n<h1>" + HtmlEscape(title) +
                  "</h1>\n" + body_html + "\n</body></html>\n";
  return response;
}

// "https://app.example.org" of a URL (scheme and authority), for the user to read.
std::string_view Origin(std::string_view url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return url.substr(0, url.find(':') + 1);
  const size_t end = url.find_first_of("/?#", scheme + 3);
  return url.substr(0, end);
}

}  // namespace

Response ConfirmPage(std::string_view user_id, std::string_view redirect_url,
                     std::string_view continue_url) {
  std::string body = "<p>You are signed in as <b id=\"user-id\">" + HtmlEscape(user_id) +
                     "</b>.</p>\n<p>Continue to <b>" + HtmlEscape(Origin(redirect_url)) +
                     "</b>? Only continue if you started this login there.</p>\n" +
                     "<p><a id=\"continue\" href=\"" + HtmlEscape(continue_url) +
                     "\">Continue</a></p>";
  return HtmlPage(200, "Continue to your account", body);
}

Response ErrorPage(int status, std::string_view errcode, std::string_view message) {
  std::string body = "<p id=\"message\">" + HtmlEscape(message) + "</p>\n<p>Error code: <code " +
                     "id=\"errcode\">" + HtmlEscape(errcode) + "</code></p>";
  return HtmlPage(status, "Single sign-on failed", body);
}

Response UiaStartPage(const std::string& session) {
  std::string body = "<p>Confirm your identity with your identity provider to continue.</p>\n"
                     "<p><a id=\"start\" href=\"/_nebu/sso/uia?session=" +
                     HtmlEscape(FormEncode(session)) + "\">Continue with single sign-on</a></p>";
  return HtmlPage(200, "Confirm your identity", body);
}

Response UiaDonePage() {
  std::string body =
      "<p>Thank you. You may now close this window and return to the application.</p>\n"
      "<script>if (window.onAuthDone) window.onAuthDone();"
      " else if (window.opener && window.opener.postMessage)"
      " window.opener.postMessage(\"authDone\", \"*\");</script>";
  return HtmlPage(200, "Identity confirmed", body, true);
}

}  // namespace nebu::api::sso
