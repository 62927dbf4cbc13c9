#include "projections/side_tables.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include "projections/batch_writer.h"

namespace nebu::projections {
namespace {

namespace json = boost::json;

constexpr std::string_view kPushRuleKinds[] = {"override", "content", "room", "sender",
                                               "underride"};

// The rows as one jsonb parameter; escaped U+0000 (which jsonb refuses) becomes U+FFFD.
std::string JsonbParam(const json::value& rows) {
  bool lossy = false;
  return ReplaceNulEscapes(json::serialize(rows), &lossy);
}

json::value ParsedOr(std::string_view text, json::value fallback) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  return ec ? fallback : v;
}

json::array Strings(const std::vector<std::string>& values) {
  json::array out;
  for (const std::string& v : values) out.emplace_back(v);
  return out;
}

void WriteReceipts(pqxx::work& tx, const StreamBatch& batch) {
  if (batch.receipts.empty()) return;
  // One row per key in a statement (ON CONFLICT may touch a row once): the newest.
  std::map<std::tuple<std::string_view, std::string_view, std::string_view, std::string_view>,
           const ReceiptItem*>
      newest;
  for (const ReceiptItem& r : batch.receipts) {
    const ReceiptItem*& slot = newest[{r.room_id, r.user_id, r.receipt_type, r.thread_id}];
    if (!slot || slot->position < r.position) slot = &r;
  }
  json::array rows;
  for (const auto& [key, r] : newest) {
    rows.push_back(json::object{{"room_id", r->room_id},           {"user_id", r->user_id},
                                {"receipt_type", r->receipt_type}, {"thread_id", r->thread_id},
                                {"event_id", r->event_id},         {"ts", r->ts},
                                {"stream_position", r->position}});
  }
  tx.exec_params(
      "INSERT INTO receipts (room_id, user_id, receipt_type, thread_id, event_id, ts, "
      "stream_position) SELECT r.room_id, r.user_id, r.receipt_type, r.thread_id, r.event_id, "
      "r.ts, r.stream_position FROM jsonb_to_recordset($1::jsonb) AS r(room_id text, user_id "
      "text, receipt_type text, thread_id text, event_id text, ts bigint, stream_position bigint) "
      "ON CONFLICT (room_id, user_id, receipt_type, thread_id) DO UPDATE SET "
      "event_id = EXCLUDED.event_id, ts = EXCLUDED.ts, stream_position = EXCLUDED.stream_position "
      "WHERE receipts.stream_position < EXCLUDED.stream_position",
      JsonbParam(rows));
}

void WriteDeviceKeys(pqxx::work& tx, const StreamBatch& batch) {
  if (batch.device_keys.empty()) return;
  json::array users, devices, signing;
  for (const DeviceKeysItem& item : batch.device_keys) {
    users.emplace_back(item.user_id);
    for (const DeviceKeysItem::Device& d : item.devices) {
      devices.push_back(json::object{{"user_id", item.user_id},
                                     {"device_id", d.device_id},
                                     {"algorithms", Strings(d.algorithms)},
                                     {"key_ids", Strings(d.key_ids)},
                                     {"key_json", ParsedOr(d.json, json::object{})}});
    }
    for (const auto& [usage, key] : item.cross_signing) {
      signing.push_back(json::object{{"user_id", item.user_id},
                                     {"key_type", usage},
                                     {"key_json", ParsedOr(key, json::object{})}});
    }
  }
  const std::string users_param = JsonbParam(users);
  for (const char* table : {"device_keys", "device_key_material", "cross_signing_keys"}) {
    tx.exec_params(std::string("DELETE FROM ") + table +
                       " WHERE user_id IN (SELECT jsonb_array_elements_text($1::jsonb))",
                   users_param);
  }
  if (!devices.empty()) {
    const std::string devices_param = JsonbParam(devices);
    tx.exec_params(
        "INSERT INTO device_keys (user_id, device_id, algorithms, key_ids) "
        "SELECT d.user_id, d.device_id, "
        "ARRAY(SELECT a FROM jsonb_array_elements_text(d.algorithms) WITH ORDINALITY AS x(a, i) "
        "ORDER BY i), "
        "ARRAY(SELECT k FROM jsonb_array_elements_text(d.key_ids) WITH ORDINALITY AS y(k, i) "
        "ORDER BY i) "
        "FROM jsonb_to_recordset($1::jsonb) AS d(user_id text, device_id text, algorithms jsonb, "
        "key_ids jsonb)",
        devices_param);
    tx.exec_params(
        "INSERT INTO device_key_material (user_id, device_id, key_json) "
        "SELECT d.user_id, d.device_id, d.key_json "
        "FROM jsonb_to_recordset($1::jsonb) AS d(user_id text, device_id text, key_json jsonb)",
        devices_param);
  }
  if (!signing.empty()) {
    tx.exec_params(
        "INSERT INTO cross_signing_keys (user_id, key_type, key_json) "
        "SELECT k.user_id, k.key_type, k.key_json "
        "FROM jsonb_to_recordset($1::jsonb) AS k(user_id text, key_type text, key_json jsonb)",
        JsonbParam(signing));
  }
}

void WritePushRules(pqxx::work& tx, const StreamBatch& batch) {
  std::map<std::string_view, const AccountDataItem*> last;  // user -> their last m.push_rules
  for (const AccountDataItem& item : batch.account_data) {
    if (item.room_id.empty() && item.type == kPushRulesType) last[item.user_id] = &item;
  }
  if (last.empty()) return;
  json::array users, rows;
  for (const auto& [user, item] : last) {
    users.emplace_back(item->user_id);
    if (!item->content) continue;  // deleted: the rows go, none come
    for (PushRuleRow& r : PushRuleRows(*item->content)) {
      json::object row{{"user_id", item->user_id},
                       {"kind", r.kind},
                       {"rule_id", r.rule_id},
                       {"priority", r.priority},
                       {"conditions", ParsedOr(r.conditions, json::array{})},
                       {"actions", ParsedOr(r.actions, json::array{})},
                       {"enabled", r.enabled}};
      if (r.pattern) row["pattern"] = *r.pattern;
      rows.push_back(std::move(row));
    }
  }
  tx.exec_params(
      "DELETE FROM push_rules WHERE scope = $2 AND user_id IN "
      "(SELECT jsonb_array_elements_text($1::jsonb))",
      JsonbParam(users), kPushRuleScopeGlobal);
  if (rows.empty()) return;
  tx.exec_params(
      "INSERT INTO push_rules (user_id, scope, kind, rule_id, priority, conditions, actions, "
      "enabled, pattern) SELECT r.user_id, $2, r.kind, r.rule_id, r.priority, r.conditions, "
      "r.actions, r.enabled, r.pattern FROM jsonb_to_recordset($1::jsonb) AS r(user_id text, "
      "kind text, rule_id text, priority integer, conditions jsonb, actions jsonb, enabled "
      "boolean, pattern text)",
      JsonbParam(rows), kPushRuleScopeGlobal);
}

}  // namespace

std::vector<PushRuleRow> PushRuleRows(std::string_view content) {
  std::vector<PushRuleRow> out;
  boost::system::error_code ec;
  json::value parsed = json::parse(content, ec);
  const json::object* root = ec ? nullptr : parsed.if_object();
  const json::value* global = root ? root->if_contains(kPushRuleScopeGlobal) : nullptr;
  if (!global || !global->is_object()) return out;
  for (std::string_view kind : kPushRuleKinds) {
    const json::value* list = global->as_object().if_contains(kind);
    if (!list || !list->is_array()) continue;
    std::set<std::string_view> seen;
    const json::array& rules = list->as_array();
    for (size_t i = 0; i < rules.size(); ++i) {
      const json::object* rule = rules[i].if_object();
      const json::value* id = rule ? rule->if_contains("rule_id") : nullptr;
      if (!id || !id->is_string() || !seen.insert(id->as_string()).second) continue;
      PushRuleRow row{std::string(kind), std::string(id->as_string()), static_cast<int>(i), "[]",
                      "[]", true, std::nullopt};
      if (const json::value* c = rule->if_contains("conditions"); c && c->is_array()) {
        row.conditions = json::serialize(*c);
      }
      if (const json::value* a = rule->if_contains("actions"); a && a->is_array()) {
        row.actions = json::serialize(*a);
      }
      if (const json::value* e = rule->if_contains("enabled"); e && e->is_bool()) {
        row.enabled = e->as_bool();
      }
      if (const json::value* p = rule->if_contains("pattern"); p && p->is_string()) {
        row.pattern = std::string(p->as_string());
      }
      out.push_back(std::move(row));
    }
  }
  return out;
}

void WriteSideTables(pqxx::work& tx, const StreamBatch& batch) {
  WriteReceipts(tx, batch);
  WriteDeviceKeys(tx, batch);
  WritePushRules(tx, batch);
}

}  // namespace nebu::projections
