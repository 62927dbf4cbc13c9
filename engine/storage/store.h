// Store: the node's one RocksDB, with one column family per concern.
//
// The engine owns all durable state through this class. Column families separate
// concerns so each can be tuned, iterated and compacted alone; keys inside them are
// big-endian binary (engine/storage/keys.h) so iteration order is log order. The
// layout is documented in docs/storage-format.md.
//
//   NEBU_ASSIGN_OR_RETURN(auto store, Store::Open({.path = "./nebu-data/db"}));
//   rocksdb::WriteBatch batch;
//   batch.Put(store->handle(Cf::kMeta), "k", "v");
//   NEBU_RETURN_IF_ERROR(store->Write(batch, /*sync=*/true));
//
// Thread-safety: all methods are safe from any thread (RocksDB's guarantees).
// Ownership: Store owns the DB and the handles; close by destroying it.
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/status.h"

namespace nebu::storage {

// One column family per concern. The numeric values are stable: never reorder.
enum class Cf : uint8_t {
  kMeta = 0,        // node-wide counters: applied index, stream position, next room number
  kCommitLog,       // committed commands not yet known to be applied, by log index
  kRooms,           // room id <-> room number, and per-room metadata
  kEvents,          // the per-room logs: [room][sequence] -> envelope
  kEventIds,        // event id -> [room][sequence]
  kStream,          // [stream position] -> [room][sequence]
  kStateCurrent,    // [room][type][state_key] -> sequence of the current state event
  kStateHistory,    // [room][type][state_key][sequence] -> "" (state as of any sequence)
  kMembership,      // 'u'[user][room] and 'r'[room][user] -> membership record
  kTxnIds,          // [user][device][txn id] -> event id
  kUsers,           // accounts
  kDevices,
  kTokens,          // SHA-256(access token) -> (user, device)
  kAccountData,
  kReceipts,
  kDeviceKeys,      // e2ee: [user][device] -> device keys (engine/e2ee)
  kOneTimeKeys,     // e2ee: one-time keys, their counts, fallback keys
  kCrossSigning,    // e2ee: cross-signing keys and uploaded signatures
  kToDevice,        // e2ee: queued to-device messages, their counts, txn ids
  kRedactions,      // event id -> the event id of its first redaction (engine/core)
  kRelations,       // [room][parent event id][child seq] -> rel_type, child type (engine/core)
  kUserDirectory,   // search token + user, and user -> its tokens (engine/accounts)
  // Issue 9 (the rest of the client API): one family per module, laid out by its owner
  // (docs/storage-format.md).
  kNotifications,       // push evaluation: notifications, unread counts, cursor (engine/push)
  kPushers,             // pushers per user and app id/pushkey (engine/push)
  kKeyBackup,           // server-side key backup versions and session keys (engine/e2ee)
  kSearch,              // the full-text index of room events (engine/search)
  kThreads,             // thread roots per room by latest activity (engine/core)
  kReports,             // content and user reports for the admin API (engine/reports)
  kRegistrationTokens,  // registration tokens and their uses (engine/accounts)
  // Issues 10 (media) and 11 (single sign-on).
  kMedia,        // media metadata by media id, per-user usage (engine/media)
  kExternalIds,  // (identity provider, subject) <-> user id (engine/accounts)
  // Issue 12 (admin and compliance).
  kAdmin,  // roles, the audit log, legal holds, room blocks (engine/admin)
  kCount,
};

std::string_view CfName(Cf cf);

// The layout version written under kMetaFormatVersion (8 bytes big-endian) when a DB
// is created; Open refuses a DB whose version it does not know.
inline constexpr uint64_t kStorageFormatVersion = 1;

// File descriptors one Store may hold: RocksDB keeps at most open_files_max table
// files open (its table cache closes the least recently used beyond that), plus a few
// of its own (WAL, MANIFEST, info LOG, LOCK, directories) counted by
// kStoreOtherFilesMax. The process's fd budget (app/main.cpp) reserves both.
inline constexpr int kStateDbOpenFilesMax = 512;    // the state DB (<data>/db)
inline constexpr int kCommitLogOpenFilesMax = 64;   // the commit log (<data>/log): trimmed, small
inline constexpr int kStoreOtherFilesMax = 16;

struct StoreOptions {
  std::string path;                              // directory of the RocksDB
  bool create_if_missing = true;
  size_t block_cache_bytes = 64u << 20;          // shared LRU block cache
  size_t write_buffer_bytes = 32u << 20;         // per column family memtable
  int open_files_max = kStateDbOpenFilesMax;     // RocksDB max_open_files (table cache)
};

// A test hook consulted before every Write: a non-OK Status fails the write as if
// RocksDB had (nothing is written). See Store::SetWriteFaultForTesting.
using WriteFault = std::function<Status(bool sync)>;

class Store {
 public:
  // Opens (or creates) the DB with every column family (missing ones are created).
  // kIoError when RocksDB fails (the message says why: "data directory is in use by
  // another process" when the LOCK is held, "disk full" on ENOSPC); kCorruption when
  // the files or the stored format version are damaged or unknown.
  static Result<std::unique_ptr<Store>> Open(const StoreOptions& options);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  rocksdb::DB* db() { return db_.get(); }
  rocksdb::ColumnFamilyHandle* handle(Cf cf) { return handles_[static_cast<size_t>(cf)]; }

  // Writes the batch atomically; sync=true returns only after the WAL is fsynced.
  // kNoSpace when the disk is full, kIoError for other failures. After a failed
  // write RocksDB may have stopped the DB (a background error): the next Write first
  // asks it to resume (DB::Resume), so writes work again once the cause is gone, and
  // returns Resume's error while it is not.
  Status Write(rocksdb::WriteBatch& batch, bool sync);
  // Bytes available to this process on the DB's file system (statvfs f_bavail).
  Result<uint64_t> FreeBytes() const;
  // Tests only: every later Write first calls `fault` and fails with its Status when
  // that is not OK. nullptr removes the hook. Safe from any thread.
  void SetWriteFaultForTesting(WriteFault fault);
  // nullopt when the key is absent.
  Result<std::optional<std::string>> Get(Cf cf, std::string_view key);
  // kEvents, kStateCurrent and kStateHistory have an 8-byte [room] prefix extractor.
  // Iterators from here see the whole column family in order (total order seek)
  // unless options.prefix_same_as_start is set, which confines one to the seek key's
  // room and lets RocksDB skip files by prefix bloom filter. Iterators made directly
  // on db() over those families must set total_order_seek to cross rooms.
  std::unique_ptr<rocksdb::Iterator> NewIterator(Cf cf,
                                                 const rocksdb::ReadOptions& options = {});

 private:
  Store() = default;
  Status InjectedFault(bool sync);

  std::string path_;
  std::unique_ptr<rocksdb::DB> db_;
  std::atomic<bool> resume_needed_{false};  // the last write failed
  std::atomic<bool> has_fault_{false};
  std::mutex fault_mu_;
  WriteFault fault_;  // guarded by fault_mu_
  std::array<rocksdb::ColumnFamilyHandle*, static_cast<size_t>(Cf::kCount)> handles_{};
  // "default" and any family this version does not know; opened because RocksDB
  // requires it, never used.
  std::vector<rocksdb::ColumnFamilyHandle*> other_handles_;
};

// Converts a RocksDB status to ours: NotFound -> kNotFound, Corruption -> kCorruption,
// ShutdownInProgress -> kUnavailable, NoSpace (ENOSPC) -> kNoSpace ("disk full: ..."),
// everything else -> kIoError (a held LOCK says "data directory is in use by another
// process").
Status FromRocks(const rocksdb::Status& s);

}  // namespace nebu::storage
