// The HTML pages of single sign-on: small static documents, every value escaped
// (sso_util.h HtmlEscape), served with Content-Security-Policy default-src 'none'
// (no script, no frames) and Cache-Control no-store.
#pragma once

#include <string>
#include <string_view>

#include "api/http.h"

namespace nebu::api::sso {

// 200: "Continue to <redirect host> as <user_id>?" with the link (the client's
// redirectUrl plus loginToken): the user sees where the login goes (login-CSRF).
Response ConfirmPage(std::string_view user_id, std::string_view redirect_url,
                     std::string_view continue_url);
// `status`: the message and the Matrix errcode.
Response ErrorPage(int status, std::string_view errcode, std::string_view message);
// 200: the UIA fallback's first page: a link that goes through the provider.
Response UiaStartPage(const std::string& session);
// 200: the UIA fallback's last page (calls window.onAuthDone per the spec, when the
// client opened it in a frame or popup; the only script, inline and fixed).
Response UiaDonePage();

}  // namespace nebu::api::sso
