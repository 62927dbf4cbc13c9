#include "app/backup_create.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "app/backup_prune.h"
#include "engine/common/crypto.h"
#include "engine/core/state_digest.h"
#include "engine/storage/checkpoint.h"

namespace nebu::app {

namespace fs = std::filesystem;

namespace {

constexpr size_t kStagedCacheBytes = 8u << 20;  // block cache of a staged DB opened to read
constexpr size_t kLineageBytes = 16;

std::string NewBackupId() {
  std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &utc);
  return std::string(stamp) + "-" + RandomAlnum(6);
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<std::unique_ptr<storage::Store>> OpenStaged(const fs::path& dir) {
  return storage::Store::Open({.path = dir.string(),
                               .create_if_missing = false,
                               .block_cache_bytes = kStagedCacheBytes,
                               .write_buffer_bytes = 1u << 20});
}

// The staged state's position, epoch and digests into the manifest.
Status DescribeState(const fs::path& db_dir, BackupManifest* m) {
  NEBU_ASSIGN_OR_RETURN(auto store, OpenStaged(db_dir));
  NEBU_ASSIGN_OR_RETURN(storage::CheckpointPosition at, storage::ReadPosition(*store));
  m->applied_index = at.applied_index;
  m->stream_position = at.stream_position;
  m->group_revision = at.group_revision;
  NEBU_ASSIGN_OR_RETURN(m->sync_epoch, storage::ReadSyncEpoch(*store));
  NEBU_ASSIGN_OR_RETURN(core::StateDigests digests, core::DigestState(*store));
  m->state_digest = digests.overall;
  m->events = digests.entries[static_cast<size_t>(storage::Cf::kEvents)];
  NEBU_ASSIGN_OR_RETURN(auto rooms, core::RoomLogDigests(*store));
  for (auto& [room, digest] : rooms) m->room_digests[room] = std::move(digest);
  return Status::Ok();
}

Result<std::string> Lineage(const std::string& data_dir) {
  fs::path path = fs::path(data_dir) / "backup.lineage";
  std::error_code ec;
  if (fs::exists(path, ec)) {
    std::ifstream in(path);
    std::string id;
    in >> id;
    if (IsBackupId(id)) return id;
  }
  std::string id = HexEncode(RandomBytes(kLineageBytes));
  NEBU_RETURN_IF_ERROR(WriteFileAtomically(path, id));
  return id;
}

bool IsBackedUpFile(const std::string& name) {
  return name != "LOCK" && name != "LOG" && !name.starts_with("LOG.old") &&
         !name.ends_with(".part");
}

// The staged files, "db/<name>" and "log/<name>", with their sizes.
Result<std::vector<BackupFile>> ListStaged(const fs::path& staging) {
  std::vector<BackupFile> files;
  for (const char* sub : {"db", "log"}) {
    std::error_code ec;
    for (fs::directory_iterator it(staging / sub, ec), end; !ec && it != end; it.increment(ec)) {
      std::string name = it->path().filename().string();
      if (!it->is_regular_file() || !IsBackedUpFile(name)) continue;
      files.push_back({.path = std::string(sub) + "/" + name, .size = it->file_size()});
    }
    if (ec) return Status::IoError("cannot list " + (staging / sub).string() + ": " + ec.message());
  }
  return files;
}

// Hashes (or reuses) and stores every staged file.
Status CopyFiles(const fs::path& staging, const BackupManifest* previous, BackupTarget& target,
                 BackupManifest* m, BackupSummary* summary, BackupProgress* progress) {
  std::map<std::pair<std::string, uint64_t>, std::string> reusable;
  if (previous != nullptr && previous->lineage == m->lineage) {
    for (const BackupFile& f : previous->files) {
      if (f.linked) reusable[{f.path, f.size}] = f.sha256;
    }
  }
  auto find = [&](const BackupFile& f) {
    return f.linked ? reusable.find({f.path, f.size}) : reusable.end();
  };
  uint64_t to_read = 0;
  for (const BackupFile& f : m->files) {
    if (find(f) == reusable.end()) to_read += f.size;
  }
  progress->files_total = m->files.size();
  progress->bytes_total = to_read;
  progress->phase = BackupProgress::kCopy;
  for (BackupFile& f : m->files) {
    auto reused = find(f);
    if (reused != reusable.end()) {
      f.sha256 = reused->second;
      ++summary->files_reused;
    } else {
      NEBU_ASSIGN_OR_RETURN(f.sha256, HashFile(staging / f.path, [progress](uint64_t n) {
                              progress->bytes_done += n;
                            }));
    }
    NEBU_ASSIGN_OR_RETURN(bool stored, target.HasObject(f.sha256));
    if (!stored) {
      NEBU_RETURN_IF_ERROR(target.PutObject(f.sha256, staging / f.path, f.size));
      ++summary->objects_written;
      summary->bytes_written += f.size;
    }
    ++progress->files_done;
  }
  return Status::Ok();
}

Result<BackupSummary> CreateIn(core::Engine& engine, BackupTarget& target,
                               const BackupOptions& options, const fs::path& staging,
                               BackupManifest m, BackupProgress* progress) {
  auto started = std::chrono::steady_clock::now();
  BackupSummary summary;
  progress->phase = BackupProgress::kCheckpoint;
  // The commit log first, then the state (see the header).
  NEBU_RETURN_IF_ERROR(storage::CreateCheckpoint(engine.commit_log_store(), (staging / "log").string()));
  NEBU_RETURN_IF_ERROR(storage::CreateCheckpoint(engine.store(), (staging / "db").string()));
  // The checkpoint's own table files, before the staged copies are opened: opening one
  // may flush or compact into new files numbered like the live DB's next ones.
  std::set<std::string> linked;
  {
    NEBU_ASSIGN_OR_RETURN(std::vector<BackupFile> checkpointed, ListStaged(staging));
    for (const BackupFile& f : checkpointed) {
      if (f.path.ends_with(".sst")) linked.insert(f.path);
    }
  }
  progress->phase = BackupProgress::kDigest;
  NEBU_RETURN_IF_ERROR(DescribeState(staging / "db", &m));
  {
    NEBU_ASSIGN_OR_RETURN(auto log, OpenStaged(staging / "log"));
    NEBU_RETURN_IF_ERROR(storage::TruncateCommitLogAbove(*log, m.applied_index));
  }
  NEBU_ASSIGN_OR_RETURN(std::vector<std::string> ids, ListBackups(target));
  std::optional<BackupManifest> previous;
  if (!ids.empty()) {
    auto loaded = LoadManifest(target, ids.back());
    if (loaded.ok()) {
      previous = std::move(*loaded);
      m.previous = previous->id;
    } else {
      spdlog::warn("backup: the previous backup {} is unreadable ({}): a full backup",
                   ids.back(), loaded.status().ToString());
    }
  }
  NEBU_ASSIGN_OR_RETURN(m.files, ListStaged(staging));
  for (BackupFile& f : m.files) f.linked = linked.contains(f.path);
  // Before the first object: a prune elsewhere keeps the parent and this backup's objects.
  NEBU_RETURN_IF_ERROR(MarkPending(target, {.id = m.id, .previous = m.previous,
                                            .started_ms = m.created_ms}));
  NEBU_RETURN_IF_ERROR(
      CopyFiles(staging, previous ? &*previous : nullptr, target, &m, &summary, progress));
  NEBU_RETURN_IF_ERROR(target.Write(ManifestName(m.id), EncodeManifest(m)));
  ids.push_back(m.id);
  NEBU_RETURN_IF_ERROR(target.Write(std::string(kIndexName), EncodeIndex(ids)));
  if (Status unmarked = UnmarkPending(target, m.id); !unmarked.ok()) {
    spdlog::warn("backup: {} done, its pending marker stays: {}", m.id, unmarked.ToString());
  }
  progress->phase = BackupProgress::kPrune;
  Result<PruneResult> pruned = PruneBackups(target, ids, options.keep, m.id, NowMs());
  if (pruned.ok()) {
    summary.backups_removed = pruned->backups_removed;
    summary.objects_removed = pruned->objects_removed;
  } else {
    spdlog::warn("backup: {} done, removing old backups failed: {}", m.id,
                 pruned.status().ToString());
  }
  summary.manifest = std::move(m);
  summary.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  progress->phase = BackupProgress::kDone;
  return summary;
}

}  // namespace

const char* PhaseName(int phase) {
  switch (phase) {
    case BackupProgress::kCheckpoint: return "checkpoint";
    case BackupProgress::kDigest: return "digest";
    case BackupProgress::kCopy: return "copy";
    case BackupProgress::kPrune: return "prune";
    default: return "done";
  }
}

Result<BackupSummary> CreateBackup(core::Engine& engine, BackupTarget& target,
                                   const BackupOptions& options, BackupProgress* progress) {
  BackupProgress ignored;
  if (progress == nullptr) progress = &ignored;
  BackupManifest m;
  m.id = NewBackupId();
  m.nebu_version = options.nebu_version;
  m.server_name = engine.server_name();
  m.cluster_id = options.cluster_id;
  m.created_ms = NowMs();
  NEBU_ASSIGN_OR_RETURN(m.lineage, Lineage(options.data_dir));
  const fs::path staging = fs::path(options.data_dir) / "backup-staging" / m.id;
  std::error_code ec;
  fs::create_directories(staging, ec);
  if (ec) return Status::IoError("cannot create " + staging.string() + ": " + ec.message());
  const std::string id = m.id;
  Result<BackupSummary> result = CreateIn(engine, target, options, staging, std::move(m), progress);
  if (!result.ok()) {
    if (Status unmarked = UnmarkPending(target, id); !unmarked.ok()) {
      spdlog::warn("backup: {} failed and its pending marker stays: {}", id, unmarked.ToString());
    }
  }
  fs::remove_all(staging, ec);
  return result;
}

Result<std::vector<std::string>> ListBackups(BackupTarget& target) {
  NEBU_ASSIGN_OR_RETURN(std::optional<std::string> index, target.Read(std::string(kIndexName)));
  if (!index) return std::vector<std::string>();
  return DecodeIndex(*index);
}

Result<BackupManifest> LoadManifest(BackupTarget& target, const std::string& id) {
  std::string which = id;
  if (which.empty()) {
    NEBU_ASSIGN_OR_RETURN(std::vector<std::string> ids, ListBackups(target));
    if (ids.empty()) return Status::NotFound("no backup in " + target.where());
    which = ids.back();
  }
  if (!IsBackupId(which)) return Status::InvalidArgument("bad backup id: " + which);
  NEBU_ASSIGN_OR_RETURN(std::optional<std::string> text, target.Read(ManifestName(which)));
  if (!text) return Status::NotFound("no backup " + which + " in " + target.where());
  NEBU_ASSIGN_OR_RETURN(BackupManifest m, DecodeManifest(*text));
  if (m.id != which) return Status::Corruption("manifest " + which + " names backup " + m.id);
  return m;
}

std::string SummaryLine(const BackupSummary& s) {
  const BackupManifest& m = s.manifest;
  double mb = static_cast<double>(m.bytes()) / 1e6;
  char line[512];
  std::snprintf(line, sizeof(line),
                "backup %s: %llu events at applied index %llu, stream position %llu; %zu files, "
                "%.1f MB (%.1f MB new, %llu files reused) in %.2f s (%.1f MB/s)",
                m.id.c_str(), static_cast<unsigned long long>(m.events),
                static_cast<unsigned long long>(m.applied_index),
                static_cast<unsigned long long>(m.stream_position), m.files.size(), mb,
                static_cast<double>(s.bytes_written) / 1e6,
                static_cast<unsigned long long>(s.files_reused), s.seconds,
                s.seconds > 0 ? mb / s.seconds : 0.0);
  return line;
}

}  // namespace nebu::app
