#include "app/backup_restore.h"

#include <chrono>
#include <filesystem>

#include "app/backup_create.h"
#include "engine/common/crypto.h"
#include "engine/core/engine.h"
#include "engine/core/state_digest.h"
#include "engine/storage/checkpoint.h"
#include "engine/storage/envelope.h"
#include "engine/storage/keys.h"

namespace nebu::app {

namespace fs = std::filesystem;

namespace {

int64_t SystemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double SecondsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

Status CheckEmpty(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return Status::Ok();
  if (!fs::is_directory(dir, ec)) {
    return Status::AlreadyExists(dir.string() + " exists and is not a directory");
  }
  if (!fs::is_empty(dir, ec)) {
    return Status::AlreadyExists(dir.string() +
                                 " is not empty: restore only into a new or empty directory");
  }
  return Status::Ok();
}

Status FetchFiles(BackupTarget& target, const BackupManifest& m, const fs::path& dir) {
  std::error_code ec;
  for (const char* sub : {"db", "log"}) {
    fs::create_directories(dir / sub, ec);
    if (ec) return Status::IoError("cannot create " + (dir / sub).string() + ": " + ec.message());
  }
  for (const BackupFile& f : m.files) {
    NEBU_RETURN_IF_ERROR(target.GetObject(f.sha256, f.size, dir / f.path));
  }
  NEBU_RETURN_IF_ERROR(SyncPath(dir / "db"));
  NEBU_RETURN_IF_ERROR(SyncPath(dir / "log"));
  return SyncPath(dir);
}

Status SetEpoch(const fs::path& db_dir, uint64_t epoch) {
  NEBU_ASSIGN_OR_RETURN(auto store, storage::Store::Open({.path = db_dir.string(),
                                                          .create_if_missing = false,
                                                          .block_cache_bytes = 8u << 20,
                                                          .write_buffer_bytes = 1u << 20}));
  return storage::WriteSyncEpoch(*store, epoch);
}

Result<RestoreSummary> RestoreInto(BackupTarget& target, const BackupManifest& m,
                                   const fs::path& dir, const RestoreOptions& options) {
  auto started = std::chrono::steady_clock::now();
  NEBU_RETURN_IF_ERROR(FetchFiles(target, m, dir));
  if (!m.cluster_id.empty()) {
    NEBU_RETURN_IF_ERROR(WriteFileAtomically(dir / "cluster_id", m.cluster_id));
  }
  RestoreSummary summary{.manifest = m, .sync_epoch = m.sync_epoch, .bytes = m.bytes()};
  if (options.set_epoch && m.cluster_id.empty()) {
    const int64_t now = options.now_ms != 0 ? options.now_ms : SystemNowMs();
    summary.sync_epoch = std::max<uint64_t>(static_cast<uint64_t>(now), m.sync_epoch + 1);
    NEBU_RETURN_IF_ERROR(SetEpoch(dir / "db", summary.sync_epoch));
  }
  summary.seconds = SecondsSince(started);
  return summary;
}

// Every envelope of every room log, verified and placed; counts into the report.
Status CheckEnvelopes(storage::Store& store, VerifyReport* report) {
  rocksdb::ReadOptions options;
  options.total_order_seek = true;
  auto it = store.NewIterator(storage::Cf::kEvents, options);
  storage::RoomNumber last_room = 0;
  storage::Sequence last_seq = 0;
  std::string scratch;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto key = storage::DecodeEventKey(it->key().ToStringView());
    if (!key) {
      report->problems.push_back("room logs: a malformed key " + HexEncode(it->key().ToStringView()));
      continue;
    }
    auto [room, seq] = *key;
    auto view = storage::ViewEnvelope(
        storage::AlignedEnvelopeBytes(it->value().ToStringView(), &scratch));
    std::string where = "room " + std::to_string(room) + " seq " + std::to_string(seq);
    if (!view.ok()) {
      report->problems.push_back(where + ": " + view.status().ToString());
    } else if (view->room != room || view->sequence != seq) {
      report->problems.push_back(where + ": the envelope is placed under another key");
    }
    if (room == last_room && seq != last_seq + 1) {
      report->problems.push_back(where + ": a gap after seq " + std::to_string(last_seq));
    }
    if (room != last_room) ++report->rooms_checked;
    last_room = room;
    last_seq = seq;
    ++report->events_checked;
  }
  return storage::FromRocks(it->status());
}

Status CompareDigests(storage::Store& store, VerifyReport* report) {
  const BackupManifest& m = report->manifest;
  NEBU_ASSIGN_OR_RETURN(std::string overall, core::StateDigest(store));
  if (overall != m.state_digest) {
    report->problems.push_back("state digest " + overall + " != the manifest's " + m.state_digest);
  }
  NEBU_ASSIGN_OR_RETURN(auto rooms, core::RoomLogDigests(store));
  for (const auto& [room, digest] : m.room_digests) {
    auto got = rooms.find(room);
    if (got == rooms.end()) {
      report->problems.push_back("room " + std::to_string(room) + ": its log is missing");
    } else if (got->second != digest) {
      report->problems.push_back("room " + std::to_string(room) + ": log digest differs");
    }
  }
  for (const auto& [room, digest] : rooms) {
    if (!m.room_digests.contains(room)) {
      report->problems.push_back("room " + std::to_string(room) + ": not in the manifest");
    }
  }
  if (report->events_checked != m.events) {
    report->problems.push_back(std::to_string(report->events_checked) + " events, the manifest says " +
                               std::to_string(m.events));
  }
  return Status::Ok();
}

// Fetches every file into dir/<path>, checking each; every failure is a problem.
void FetchChecked(BackupTarget& target, const BackupManifest& m, const fs::path& dir,
                  VerifyReport* report) {
  std::error_code ec;
  for (const char* sub : {"db", "log"}) fs::create_directories(dir / sub, ec);
  for (const BackupFile& f : m.files) {
    if (Status s = target.GetObject(f.sha256, f.size, dir / f.path); !s.ok()) {
      report->problems.push_back(f.path + ": " + s.ToString());
    }
  }
}

// Opens the fetched copy as a node would and checks what it holds.
void TrialOpen(const fs::path& dir, VerifyReport* report) {
  auto engine = core::Engine::Open(
      {.data_dir = dir.string(), .server_name = report->manifest.server_name});
  if (!engine.ok()) {
    report->problems.push_back("the restored node does not open: " + engine.status().ToString());
    return;
  }
  if (Status s = CheckEnvelopes((*engine)->store(), report); !s.ok()) {
    report->problems.push_back("reading the room logs: " + s.ToString());
  }
  if (Status s = CompareDigests((*engine)->store(), report); !s.ok()) {
    report->problems.push_back("digests: " + s.ToString());
  }
}

}  // namespace

Result<RestoreSummary> RestoreBackup(BackupTarget& target, const std::string& id,
                                     const std::string& data_dir, const RestoreOptions& options) {
  const fs::path dir = fs::absolute(data_dir);
  NEBU_RETURN_IF_ERROR(CheckEmpty(dir));
  NEBU_ASSIGN_OR_RETURN(BackupManifest m, LoadManifest(target, id));
  std::error_code ec;
  const bool existed = fs::exists(dir, ec);
  fs::create_directories(dir, ec);
  if (ec) return Status::IoError("cannot create " + dir.string() + ": " + ec.message());
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  Result<RestoreSummary> restored = RestoreInto(target, m, dir, options);
  if (!restored.ok()) {
    // Leave the directory as it was: empty (or absent).
    for (const auto& entry : fs::directory_iterator(dir, ec)) fs::remove_all(entry.path(), ec);
    if (!existed) fs::remove(dir, ec);
  }
  return restored;
}

Result<VerifyReport> VerifyBackup(BackupTarget& target, const std::string& id,
                                  const std::string& temp_parent) {
  auto started = std::chrono::steady_clock::now();
  VerifyReport report;
  NEBU_ASSIGN_OR_RETURN(report.manifest, LoadManifest(target, id));
  const fs::path scratch = fs::path(temp_parent) / ("nebu-backup-verify-" + RandomAlnum(12));
  std::error_code ec;
  fs::create_directories(scratch, ec);
  if (ec) return Status::IoError("cannot create " + scratch.string() + ": " + ec.message());
  fs::permissions(scratch, fs::perms::owner_all, fs::perm_options::replace, ec);
  FetchChecked(target, report.manifest, scratch / "data", &report);
  if (report.problems.empty()) TrialOpen(scratch / "data", &report);
  fs::remove_all(scratch, ec);
  report.seconds = SecondsSince(started);
  return report;
}

}  // namespace nebu::app
