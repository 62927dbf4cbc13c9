#include "engine/event/event.h"

#include <array>
#include <boost/json/value.hpp>

#include "engine/common/crypto.h"
#include "engine/event/canonical_json.h"
#include "engine/event/identifiers.h"

namespace nebu::event {
namespace {

namespace bj = boost::json;
using Rule = KeyFilter::Rule;

std::string_view ViewOf(bj::string_view s) { return {s.data(), s.size()}; }

// ---------------------------------------------------------------------------
// Redaction rules (rooms/fragments/v9-redactions.md for v10,
// rooms/fragments/v11-redactions.md for v11).

constexpr Rule kMemberV10[] = {{"join_authorised_via_users_server"}, {"membership"}};
constexpr Rule kCreateV10[] = {{"creator"}};
constexpr Rule kJoinRules[] = {{"allow"}, {"join_rule"}};
constexpr Rule kPowerLevelsV10[] = {{"ban"},   {"events"},       {"events_default"},
                                    {"kick"},  {"redact"},       {"state_default"},
                                    {"users"}, {"users_default"}};
constexpr Rule kHistoryVisibility[] = {{"history_visibility"}};

constexpr Rule kSignedOnly[] = {{"signed"}};
constexpr KeyFilter kThirdPartyInviteV11{kSignedOnly};
constexpr Rule kMemberV11[] = {{"join_authorised_via_users_server"},
                               {"membership"},
                               {"third_party_invite", &kThirdPartyInviteV11}};
constexpr Rule kPowerLevelsV11[] = {{"ban"},           {"events"}, {"events_default"},
                                    {"invite"},        {"kick"},   {"redact"},
                                    {"state_default"}, {"users"},  {"users_default"}};
constexpr Rule kRedaction[] = {{"redacts"}};

constexpr KeyFilter kNoContent{};
constexpr KeyFilter kAllContent{{}, /*keep_all=*/true};

struct ContentRules {
  std::string_view type;
  KeyFilter v10;
  KeyFilter v11;
};
constexpr ContentRules kContentRules[] = {
    {"m.room.member", KeyFilter{kMemberV10}, KeyFilter{kMemberV11}},
    {"m.room.create", KeyFilter{kCreateV10}, kAllContent},
    {"m.room.join_rules", KeyFilter{kJoinRules}, KeyFilter{kJoinRules}},
    {"m.room.power_levels", KeyFilter{kPowerLevelsV10}, KeyFilter{kPowerLevelsV11}},
    {"m.room.history_visibility", KeyFilter{kHistoryVisibility}, KeyFilter{kHistoryVisibility}},
    {"m.room.redaction", kNoContent, KeyFilter{kRedaction}},
};

const KeyFilter& ContentFilter(const bj::object& event, RoomVersion version) {
  auto it = event.find("type");
  if (it == event.end() || !it->value().is_string()) return kNoContent;
  std::string_view type = ViewOf(it->value().get_string());
  for (const ContentRules& rules : kContentRules) {
    if (rules.type == type) return version == RoomVersion::kV10 ? rules.v10 : rules.v11;
  }
  return kNoContent;
}

constexpr std::string_view kTopLevelCommon[] = {"auth_events",      "depth",       "hashes",
                                                "origin_server_ts", "prev_events", "room_id",
                                                "sender",           "state_key",   "type"};
constexpr std::string_view kTopLevelV10Only[] = {"membership", "origin", "prev_state"};
// Top-level keys: common + content + (v10) the extras + (unless hashing) the two below.
constexpr std::string_view kTopLevelNotHashed[] = {"event_id", "signatures"};
constexpr size_t kTopLevelRulesMax =
    std::size(kTopLevelCommon) + 1 + std::size(kTopLevelV10Only) + std::size(kTopLevelNotHashed);

// The top-level redaction filter, built on the stack (content's rule depends on type).
class TopLevelFilter {
 public:
  TopLevelFilter(const bj::object& event, RoomVersion version, bool for_reference_hash) {
    for (std::string_view key : kTopLevelCommon) rules_[n_++] = {key};
    rules_[n_++] = {"content", &ContentFilter(event, version)};
    if (version == RoomVersion::kV10) {
      for (std::string_view key : kTopLevelV10Only) rules_[n_++] = {key};
    }
    if (!for_reference_hash) {
      for (std::string_view key : kTopLevelNotHashed) rules_[n_++] = {key};
    }
  }
  KeyFilter filter() const { return KeyFilter{std::span<const Rule>(rules_.data(), n_)}; }

 private:
  std::array<Rule, kTopLevelRulesMax> rules_{};
  size_t n_ = 0;
};

// ---------------------------------------------------------------------------
// PDU shape checks.

Status RequireString(const bj::object& event, std::string_view key,
                     bool (*valid)(std::string_view)) {
  auto it = event.find(key);
  if (it == event.end()) return Status::BadJson("missing '" + std::string(key) + "'");
  if (!it->value().is_string())
    return Status::BadJson("'" + std::string(key) + "' must be a string");
  if (!valid(ViewOf(it->value().get_string()))) {
    return Status::InvalidArgument("invalid '" + std::string(key) + "'");
  }
  return Status::Ok();
}

bool IsNonNegativeInteger(const bj::value& v) {
  return (v.is_int64() && v.get_int64() >= 0) || v.is_uint64();
}

Status RequireNonNegativeInteger(const bj::object& event, std::string_view key) {
  auto it = event.find(key);
  if (it == event.end()) return Status::BadJson("missing '" + std::string(key) + "'");
  if (!IsNonNegativeInteger(it->value())) {
    return Status::BadJson("'" + std::string(key) + "' must be a non-negative integer");
  }
  return Status::Ok();
}

Status RequireEventIdArray(const bj::object& event, std::string_view key) {
  auto it = event.find(key);
  if (it == event.end()) return Status::BadJson("missing '" + std::string(key) + "'");
  if (!it->value().is_array())
    return Status::BadJson("'" + std::string(key) + "' must be an array");
  for (const bj::value& id : it->value().get_array()) {
    if (!id.is_string()) return Status::BadJson("'" + std::string(key) + "' holds a non-string");
    if (!IsValidEventId(ViewOf(id.get_string()))) {
      return Status::InvalidArgument("'" + std::string(key) + "' holds an invalid event ID");
    }
  }
  return Status::Ok();
}

Status CheckOptionalKeys(const bj::object& event) {
  if (auto it = event.find("state_key"); it != event.end()) {
    if (!it->value().is_string()) return Status::BadJson("'state_key' must be a string");
    if (!IsValidStateKey(ViewOf(it->value().get_string()))) {
      return Status::InvalidArgument("'state_key' is too long");
    }
  }
  if (auto it = event.find("hashes"); it != event.end()) {
    const bj::object* hashes = it->value().if_object();
    if (hashes == nullptr) return Status::BadJson("'hashes' must be an object");
    auto sha = hashes->find("sha256");
    if (sha == hashes->end() || !sha->value().is_string()) {
      return Status::BadJson("'hashes.sha256' must be a string");
    }
  }
  for (std::string_view key : {"signatures", "unsigned"}) {
    auto it = event.find(key);
    if (it != event.end() && !it->value().is_object()) {
      return Status::BadJson("'" + std::string(key) + "' must be an object");
    }
  }
  if (event.contains("event_id")) return RequireString(event, "event_id", IsValidEventId);
  return Status::Ok();
}

}  // namespace

std::optional<RoomVersion> ParseRoomVersion(std::string_view name) {
  if (name == "10") return RoomVersion::kV10;
  if (name == "11") return RoomVersion::kV11;
  return std::nullopt;
}

std::string_view RoomVersionName(RoomVersion version) {
  switch (version) {
    case RoomVersion::kV10:
      return "10";
    case RoomVersion::kV11:
      return "11";
  }
  return "unknown";
}

boost::json::object Redact(const boost::json::object& event, RoomVersion version) {
  TopLevelFilter top(event, version, /*for_reference_hash=*/false);
  return FilterObject(event, top.filter());
}

Status AddContentHash(boost::json::object& event) {
  static constexpr std::string_view kNotHashed[] = {"hashes", "signatures", "unsigned"};
  static constexpr KeyFilter kContentHashFilter{{}, /*keep_all=*/true, kNotHashed};
  thread_local std::string buffer;
  buffer.clear();
  NEBU_RETURN_IF_ERROR(AppendCanonicalJsonFiltered(event, kContentHashFilter, &buffer));
  std::string hash = Base64Unpadded(Sha256(buffer));
  bj::value& hashes = event["hashes"];
  if (!hashes.is_object()) hashes = bj::object(event.storage());
  hashes.get_object()["sha256"] = bj::string(hash, event.storage());
  return Status::Ok();
}

Result<std::string> ComputeEventId(const boost::json::object& event, RoomVersion version) {
  TopLevelFilter top(event, version, /*for_reference_hash=*/true);
  thread_local std::string buffer;
  buffer.clear();
  NEBU_RETURN_IF_ERROR(AppendCanonicalJsonFiltered(event, top.filter(), &buffer));
  std::string id = "$";
  id += Base64UrlUnpadded(Sha256(buffer));
  return id;
}

Status ValidatePdu(const boost::json::object& event) {
  NEBU_RETURN_IF_ERROR(RequireString(event, "room_id", IsValidRoomId));
  NEBU_RETURN_IF_ERROR(RequireString(event, "sender", IsValidUserId));
  NEBU_RETURN_IF_ERROR(RequireString(event, "type", IsValidEventType));
  auto content = event.find("content");
  if (content == event.end()) return Status::BadJson("missing 'content'");
  if (!content->value().is_object()) return Status::BadJson("'content' must be an object");
  NEBU_RETURN_IF_ERROR(RequireNonNegativeInteger(event, "origin_server_ts"));
  NEBU_RETURN_IF_ERROR(RequireNonNegativeInteger(event, "depth"));
  NEBU_RETURN_IF_ERROR(RequireEventIdArray(event, "prev_events"));
  NEBU_RETURN_IF_ERROR(RequireEventIdArray(event, "auth_events"));
  NEBU_RETURN_IF_ERROR(CheckOptionalKeys(event));
  thread_local std::string buffer;
  buffer.clear();
  NEBU_RETURN_IF_ERROR(AppendCanonicalJson(event, &buffer));
  if (buffer.size() > kEventBytesMax) {
    return Status::TooLarge("event is larger than " + std::to_string(kEventBytesMax) + " bytes");
  }
  return Status::Ok();
}

}  // namespace nebu::event
