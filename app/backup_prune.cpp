#include "app/backup_prune.h"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <set>

#include "app/backup_create.h"
#include "app/backup_format.h"

namespace nebu::app {

namespace json = boost::json;

namespace {

Result<PendingBackup> DecodePending(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  const json::object* o = ec ? nullptr : v.if_object();
  const json::value* id = o ? o->if_contains("id") : nullptr;
  const json::value* previous = o ? o->if_contains("previous") : nullptr;
  const json::value* started = o ? o->if_contains("started_ms") : nullptr;
  if (id == nullptr || !id->is_string() || previous == nullptr || !previous->is_string() ||
      started == nullptr || !started->is_int64()) {
    return Status::Corruption("a pending marker is not {id, previous, started_ms}");
  }
  PendingBackup p{.id = std::string(id->as_string()),
                  .previous = std::string(previous->as_string()),
                  .started_ms = started->as_int64()};
  if (!IsBackupId(p.id) || (!p.previous.empty() && !IsBackupId(p.previous))) {
    return Status::Corruption("a pending marker names a bad backup id");
  }
  return p;
}

// The ids to keep: the newest `keep`, and the parents of live pending backups.
std::set<std::string> KeptIds(const std::vector<std::string>& ids, size_t keep,
                              const std::vector<PendingBackup>& live) {
  std::set<std::string> kept;
  for (size_t i = ids.size() > keep ? ids.size() - keep : 0; i < ids.size(); ++i) {
    kept.insert(ids[i]);
  }
  for (const PendingBackup& p : live) {
    if (!p.previous.empty()) kept.insert(p.previous);
  }
  return kept;
}

// Removes the objects no kept manifest names.
Status CollectObjects(BackupTarget& target, const std::vector<std::string>& kept,
                      PruneResult* result) {
  std::set<std::string> named;
  for (const std::string& id : kept) {
    NEBU_ASSIGN_OR_RETURN(BackupManifest m, LoadManifest(target, id));
    for (const BackupFile& f : m.files) named.insert(f.sha256);
  }
  NEBU_ASSIGN_OR_RETURN(std::vector<std::string> objects, target.ListObjects());
  for (const std::string& sha : objects) {
    if (named.contains(sha)) continue;
    NEBU_RETURN_IF_ERROR(target.Remove(ObjectName(sha)));
    ++result->objects_removed;
  }
  return Status::Ok();
}

}  // namespace

std::string PendingName(std::string_view id) { return "pending/" + std::string(id) + ".json"; }

Status MarkPending(BackupTarget& target, const PendingBackup& p) {
  json::object o{{"id", p.id}, {"previous", p.previous}, {"started_ms", p.started_ms}};
  return target.Write(PendingName(p.id), json::serialize(o));
}

Status UnmarkPending(BackupTarget& target, const std::string& id) {
  return target.Remove(PendingName(id));
}

Result<std::vector<PendingBackup>> ListPending(BackupTarget& target) {
  NEBU_ASSIGN_OR_RETURN(std::vector<std::string> names, target.List("pending"));
  std::vector<PendingBackup> out;
  for (const std::string& name : names) {
    if (!name.ends_with(".json")) continue;
    NEBU_ASSIGN_OR_RETURN(std::optional<std::string> text, target.Read(name));
    if (!text) continue;  // finished meanwhile
    Result<PendingBackup> p = DecodePending(*text);
    if (!p.ok() || PendingName(p->id) != name) {
      spdlog::warn("backup: {}: unreadable pending marker {} skipped", target.where(), name);
      continue;
    }
    out.push_back(std::move(*p));
  }
  return out;
}

Result<PruneResult> PruneBackups(BackupTarget& target, std::vector<std::string> ids, size_t keep,
                                 const std::string& self, int64_t now_ms) {
  PruneResult result;
  if (keep == 0 || ids.size() <= keep) return result;
  NEBU_ASSIGN_OR_RETURN(std::vector<PendingBackup> pending, ListPending(target));
  std::vector<PendingBackup> live;
  for (const PendingBackup& p : pending) {
    if (p.id == self) continue;
    if (now_ms - p.started_ms < kBackupPendingStaleMs) {
      live.push_back(p);
    } else {
      spdlog::warn("backup: {}: backup {} started {} s ago and never finished: its marker "
                   "is removed", target.where(), p.id, (now_ms - p.started_ms) / 1000);
      NEBU_RETURN_IF_ERROR(UnmarkPending(target, p.id));
    }
  }
  const std::set<std::string> keep_ids = KeptIds(ids, keep, live);
  std::vector<std::string> kept, dropped;
  for (std::string& id : ids) (keep_ids.contains(id) ? kept : dropped).push_back(std::move(id));
  if (!dropped.empty()) {
    NEBU_RETURN_IF_ERROR(target.Write(std::string(kIndexName), EncodeIndex(kept)));
    for (const std::string& id : dropped) {
      NEBU_RETURN_IF_ERROR(target.Remove(ManifestName(id)));
      ++result.backups_removed;
    }
  }
  if (!live.empty()) {
    result.objects_deferred = true;
    spdlog::info("backup: {}: {} other backup(s) being written: unused objects are removed "
                 "by a later backup", target.where(), live.size());
    return result;
  }
  NEBU_RETURN_IF_ERROR(CollectObjects(target, kept, &result));
  return result;
}

}  // namespace nebu::app
