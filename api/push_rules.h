// Push rules: the spec's server-default rule set, per user (read-only for now).
//
//   AddPushRuleRoutes(router, *engine);   // GET /pushrules/, /pushrules/global/,
//                                         // /pushrules/global/{kind}/{ruleId}[/enabled|/actions]
//
// Every route needs an access token. Changing rules (PUT/DELETE, enabled, actions) is
// not implemented yet: the router answers 405 M_UNRECOGNIZED for those methods.
//
// Thread-safety: the routes keep no state; safe from any thread.
#pragma once

#include <boost/json/object.hpp>
#include <string_view>

#include "api/router.h"

namespace nebu::core {
class Engine;
}

namespace nebu::api {

// {"override": [...], "content": [], "room": [], "sender": [], "underride": [...]} with
// user_id in the rules that name the user.
boost::json::object DefaultPushRuleset(std::string_view user_id);

void AddPushRuleRoutes(Router& router, core::Engine& engine);

}  // namespace nebu::api
