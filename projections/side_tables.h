// Side tables of the PostgreSQL projection: the rows a StreamBatch carries besides
// room events and account data rows. BatchWriter::Write calls WriteSideTables inside
// the batch's transaction, just before it moves the checkpoint, so these rows are
// exactly-once like the rest of the batch.
//
//   pqxx::work tx(conn);
//   ...                               // events, state, memberships, account data
//   WriteSideTables(tx, batch);       // receipts, device keys, push rules
//   tx.exec_prepared("set_checkpoint", ...);
//
// What it writes (docs/compliance.md § receipts, keys and push rules):
//   receipts      one row per (room, user, receipt type, thread): an upsert that only
//                 moves forward (stream_position grows), so replaying an older batch
//                 or a racing projector never moves a receipt back. Private receipts
//                 (m.read.private) are projected too: compliance sees them, clients
//                 never read this table.
//   device_keys, device_key_material, cross_signing_keys
//                 per user named by a device-key entry, the user's rows are replaced
//                 by the keys the batch carries (delete + insert): metadata (algorithms,
//                 key IDs) in device_keys, the published JSON in device_key_material,
//                 the master / self_signing / user_signing key JSON in
//                 cross_signing_keys. One-time and fallback keys are not projected.
//   push_rules    per user whose global m.push_rules account data is in the batch (the
//                 last one wins), the user's global rows are replaced by the stored
//                 rule set: kind, rule_id, priority (index in the kind's list),
//                 conditions ('[]' when absent), actions, enabled (default true) and,
//                 for content rules, pattern. Absent content (deleted) removes the rows.
//                 Only what the user stored is here: the server-default rules are code
//                 (api/accounts/push_rules.cpp); a default rule the user switched off or gave
//                 new actions is stored, so it appears with its '.m.rule.*' ID.
//
// Each table takes one statement per batch (receipts) or per user (the others): the
// rows travel as one jsonb parameter expanded by jsonb_to_recordset.
//
// Errors: libpqxx exceptions propagate to the caller, which runs inside pg::Run (so a
// lost connection stays kUnavailable and the transaction rolls back). Malformed push
// rules content (not the shape the push-rule routes write) is skipped rule by rule,
// never an error: account data is user input.
//
// Thread-safety: uses only the caller's transaction.
#pragma once

#include <pqxx/pqxx>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "projections/stream_reader.h"

namespace nebu::projections {

inline constexpr const char* kPushRulesType = "m.push_rules";
inline constexpr const char* kPushRuleScopeGlobal = "global";

// One push rule row (pure part of the push_rules mapping, tested alone).
struct PushRuleRow {
  std::string kind;  // override, content, room, sender, underride
  std::string rule_id;
  int priority = 0;        // index in the kind's stored list
  std::string conditions;  // JSON array text
  std::string actions;     // JSON array text
  bool enabled = true;
  std::optional<std::string> pattern;  // content rules
};

// The rows of a stored m.push_rules content ({"global": {kind: [rule, ...]}}); rules
// without a string rule_id, kinds that are not the five spec kinds and repeated
// (kind, rule_id) pairs (the first stays) are left out.
[[nodiscard]] std::vector<PushRuleRow> PushRuleRows(std::string_view content);

// Writes the batch's receipts, device keys and push rules (see above).
void WriteSideTables(pqxx::work& tx, const StreamBatch& batch);

}  // namespace nebu::projections
