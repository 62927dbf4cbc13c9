// The backup format: what `nebu backup create` writes to a destination, and the
// manifest that describes one backup. A destination (a directory, or an S3 bucket and
// key prefix: app/backup_target.h) holds
//
//   objects/<aa>/<sha256>     file contents, addressed by their SHA-256 (shared by every
//                             backup that holds the same bytes: incremental backups)
//   manifests/<id>.json       one backup's manifest (below), written after its objects
//   index.json                {"format":1,"backups":["<id>",...]} oldest first, written
//                             last: a backup exists once the index names it
//
// A manifest names the nebu version, server name, cluster ID ("" for a single node),
// the applied position (applied index, stream position, replicated group revision),
// the sync-token epoch, the state digest and per-room log digests of the backed-up
// state (engine/core/state_digest.h), the number of events, and every file of the two
// RocksDB checkpoints ("db/<name>", "log/<name>") with its size and SHA-256.
//
//   BackupManifest m = ...;
//   std::string text = EncodeManifest(m);
//   NEBU_ASSIGN_OR_RETURN(BackupManifest back, DecodeManifest(text));
//
// Errors: DecodeManifest and DecodeIndex answer kCorruption naming the bad field.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/status.h"

namespace nebu::app {

inline constexpr int kBackupFormatVersion = 1;
// A manifest or index larger than this is refused as damaged (a 1M-event node's
// manifest with 10,000 rooms is about 1 MB).
inline constexpr size_t kBackupManifestBytesMax = 64u << 20;
// Files are hashed and copied in chunks of this size.
inline constexpr size_t kBackupChunkBytes = 1u << 20;

struct BackupFile {
  std::string path;  // "db/000012.sst", "log/CURRENT", ...
  uint64_t size = 0;
  std::string sha256;  // lower-case hex
  // A table file of the node's own checkpoint (a hard link of a live file), not one
  // made while the staged copy was opened to read it: only such files are matched by
  // name with the next backup's (app/backup_create.h).
  bool linked = false;
  bool operator==(const BackupFile&) const = default;
};

struct BackupManifest {
  int format = kBackupFormatVersion;
  std::string id;        // "20261206T192501Z-ab12": UTC time of the backup, a random tail
  std::string previous;  // the backup this one was incremental against ("" none)
  std::string nebu_version;
  std::string server_name;
  std::string cluster_id;  // "" for a single node
  int64_t created_ms = 0;
  uint64_t applied_index = 0;
  uint64_t stream_position = 0;
  uint64_t group_revision = 0;  // a cluster node's applied etcd revision (0: single node)
  uint64_t sync_epoch = 0;
  std::string lineage;  // which node history the SST names belong to (backup_create.h)
  uint64_t events = 0;  // entries of the room logs
  std::string state_digest;                       // DigestState(...).overall
  std::map<uint64_t, std::string> room_digests;   // RoomLogDigests, by room number
  std::vector<BackupFile> files;
  [[nodiscard]] uint64_t bytes() const;
};

[[nodiscard]] std::string EncodeManifest(const BackupManifest& manifest);
[[nodiscard]] Result<BackupManifest> DecodeManifest(std::string_view text);

// index.json: the ids of the complete backups, oldest first.
[[nodiscard]] std::string EncodeIndex(const std::vector<std::string>& ids);
[[nodiscard]] Result<std::vector<std::string>> DecodeIndex(std::string_view text);

// "objects/ab/abcdef..." for a hex SHA-256; "manifests/<id>.json".
[[nodiscard]] std::string ObjectName(std::string_view sha256);
[[nodiscard]] std::string ManifestName(std::string_view id);
inline constexpr std::string_view kIndexName = "index.json";

// True for a lower-case hex SHA-256, and for an id of [0-9A-Za-z-] of 1..64 characters:
// names built from a manifest must never leave the destination.
[[nodiscard]] bool IsSha256Hex(std::string_view text);
[[nodiscard]] bool IsBackupId(std::string_view text);
// True for "db/<name>" or "log/<name>" with a plain file name (no '/', not . or ..).
[[nodiscard]] bool IsBackupFilePath(std::string_view path);

// The hex SHA-256 of a file, read in kBackupChunkBytes chunks; `on_bytes` (may be
// empty) is called after each chunk with its size. kIoError when it cannot be read.
using BytesCallback = std::function<void(uint64_t)>;
[[nodiscard]] Result<std::string> HashFile(const std::filesystem::path& file,
                                           const BytesCallback& on_bytes = {});

}  // namespace nebu::app
