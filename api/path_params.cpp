#include "api/path_params.h"

#include <array>

#include "engine/event/identifiers.h"

namespace nebu::api {
namespace {

// One row of the table in path_params.h. `grammar` (optional) runs after the
// generic checks (UTF-8, no U+0000, cap, non-empty).
struct Rule {
  std::string_view name;
  size_t bytes_max;
  bool non_empty;
  bool (*grammar)(std::string_view);
  std::string_view expected;  // for the error message: "a room ID"
};

bool IsEventIdShape(std::string_view v) { return v.size() > 1 && v.front() == '$'; }
bool IsRoomIdOrAlias(std::string_view v) {
  return event::IsValidRoomId(v) || event::IsValidRoomAlias(v);
}

constexpr std::array kRules = {
    Rule{"roomId", kPathIdBytesMax, true, event::IsValidRoomId, "a room ID"},
    Rule{"userId", kPathIdBytesMax, true, event::IsValidUserId, "a user ID"},
    Rule{"roomAlias", kPathIdBytesMax, true, event::IsValidRoomAlias, "a room alias"},
    Rule{"roomIdOrAlias", kPathIdBytesMax, true, IsRoomIdOrAlias, "a room ID or alias"},
    Rule{"eventId", kPathIdBytesMax, true, IsEventIdShape, "an event ID"},
    Rule{"eventType", event::kEventTypeBytesMax, true, event::IsValidEventType, "an event type"},
    Rule{"stateKey", event::kStateKeyBytesMax, false, event::IsValidStateKey, "a state key"},
    Rule{"type", kPathIdBytesMax, true, nullptr, "an account data type"},
    Rule{"txnId", kTxnIdBytesMax, true, nullptr, "a transaction ID"},
    Rule{"deviceId", kPathIdBytesMax, true, nullptr, "a device ID"},
    Rule{"tag", kPathIdBytesMax, true, nullptr, "a tag"},
    Rule{"filterId", kPathIdBytesMax, true, nullptr, "a filter ID"},
    Rule{"kind", kPathIdBytesMax, true, nullptr, "a push rule kind"},
    Rule{"ruleId", kPathIdBytesMax, true, nullptr, "a push rule ID"},
    Rule{"receiptType", kPathIdBytesMax, true, nullptr, "a receipt type"},
    Rule{"relType", kPathIdBytesMax, true, nullptr, "a relation type"},
    Rule{"version", kPathIdBytesMax, true, nullptr, "a backup version"},
};

constexpr Rule kDefaultRule{"", kPathParamBytesMaxDefault, false, nullptr, "text"};

const Rule& RuleFor(std::string_view name) {
  for (const Rule& rule : kRules) {
    if (rule.name == name) return rule;
  }
  return kDefaultRule;
}

bool IsText(std::string_view value) {
  return value.find('\0') == std::string_view::npos && event::IsValidUtf8(value);
}

}  // namespace

std::optional<std::string> PathParamError(std::string_view name, std::string_view value) {
  const Rule& rule = RuleFor(name);
  std::string prefix = "Path parameter " + std::string(name);
  if (!IsText(value)) return prefix + " is not UTF-8 text without U+0000";
  if (value.size() > rule.bytes_max) {
    return prefix + " is longer than " + std::to_string(rule.bytes_max) + " bytes";
  }
  if (rule.non_empty && value.empty()) return prefix + " is empty";
  if (rule.grammar != nullptr && !rule.grammar(value)) {
    return prefix + " is not " + std::string(rule.expected);
  }
  return std::nullopt;
}

std::optional<std::string> QueryParamError(std::string_view name, std::string_view value) {
  if (!IsText(name)) return std::string("A query parameter name is not UTF-8 text");
  if (!IsText(value)) {
    return "Query parameter " + std::string(name) + " is not UTF-8 text without U+0000";
  }
  return std::nullopt;
}

std::optional<std::string> QueryError(
    const std::vector<std::pair<std::string, std::string>>& query) {
  for (const auto& [name, value] : query) {
    if (auto error = QueryParamError(name, value)) return error;
  }
  return std::nullopt;
}

}  // namespace nebu::api
