#include "engine/storage/store.h"

#include <rocksdb/cache.h>
#include <rocksdb/convenience.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>

#include <sys/statvfs.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "engine/storage/keys.h"

namespace nebu::storage {
namespace {

constexpr size_t kCfCount = static_cast<size_t>(Cf::kCount);
constexpr std::array<std::string_view, kCfCount> kCfNames = {
    "meta",   "commit_log",    "rooms",         "events",       "event_ids",
    "stream", "state_current", "state_history", "membership",   "txn_ids",
    "users",  "devices",       "tokens",        "account_data", "receipts",
    "device_keys", "one_time_keys", "cross_signing", "to_device", "redactions",
    "relations", "user_directory", "notifications", "pushers", "key_backup", "search",
    "threads", "reports", "registration_tokens", "media", "external_ids", "admin",
};

constexpr int kBackgroundJobsMax = 2;
constexpr int kBloomBitsPerKey = 10;
constexpr size_t kRoomPrefixBytes = 8;
constexpr size_t kEventsBlockBytes = 16u << 10;
constexpr uint64_t kMetadataBlockBytes = 4u << 10;
constexpr double kCacheHighPriorityRatio = 0.5;  // share for index and filter blocks
constexpr uint64_t kBytesPerSyncBytes = 1u << 20;
constexpr size_t kInfoLogFilesMax = 4;
constexpr double kMemtablePrefixBloomRatio = 0.02;

bool HasPointLookups(Cf cf) {
  switch (cf) {
    case Cf::kMeta:
    case Cf::kRooms:
    case Cf::kEvents:
    case Cf::kEventIds:
    case Cf::kStateCurrent:
    case Cf::kMembership:
    case Cf::kTxnIds:
    case Cf::kUsers:
    case Cf::kDevices:
    case Cf::kTokens:
    case Cf::kAccountData:
    case Cf::kReceipts:
    case Cf::kDeviceKeys:
    case Cf::kOneTimeKeys:
    case Cf::kCrossSigning:
    case Cf::kToDevice:
    case Cf::kRedactions:
    case Cf::kUserDirectory:
    case Cf::kSearch:  // the query's other words are point reads of (word, room, position)
      return true;
    default:
      return false;  // kCommitLog, kStream, kStateHistory, kRelations: range scans only
  }
}

bool HasRoomPrefix(Cf cf) {
  return cf == Cf::kEvents || cf == Cf::kStateCurrent || cf == Cf::kStateHistory;
}

rocksdb::CompressionType PickCompression(rocksdb::CompressionType wanted) {
  const auto supported = rocksdb::GetSupportedCompressions();
  if (std::find(supported.begin(), supported.end(), wanted) != supported.end()) return wanted;
  return rocksdb::kNoCompression;
}

rocksdb::ColumnFamilyOptions CfOptions(Cf cf, const StoreOptions& options,
                                       const std::shared_ptr<rocksdb::Cache>& cache) {
  rocksdb::ColumnFamilyOptions o;
  o.write_buffer_size = options.write_buffer_bytes;
  o.compaction_style = rocksdb::kCompactionStyleLevel;
  o.level_compaction_dynamic_level_bytes = true;
  o.compression = PickCompression(rocksdb::kLZ4Compression);
  o.bottommost_compression = PickCompression(rocksdb::kZSTD);

  rocksdb::BlockBasedTableOptions t;
  t.block_cache = cache;
  // Index and filters are partitioned and live in the (bounded) block cache at high
  // priority: a lookup loads one small partition, never a whole file's filter.
  t.index_type = rocksdb::BlockBasedTableOptions::kTwoLevelIndexSearch;
  t.partition_filters = true;
  t.metadata_block_size = kMetadataBlockBytes;
  t.cache_index_and_filter_blocks = true;
  t.cache_index_and_filter_blocks_with_high_priority = true;
  t.pin_top_level_index_and_filter = true;
  t.pin_l0_filter_and_index_blocks_in_cache = true;
  t.format_version = 5;
  if (cf == Cf::kEvents) t.block_size = kEventsBlockBytes;  // scans dominate
  if (HasPointLookups(cf) || HasRoomPrefix(cf)) {
    t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(kBloomBitsPerKey));
    t.whole_key_filtering = HasPointLookups(cf);
  }
  if (HasRoomPrefix(cf)) {
    o.prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(kRoomPrefixBytes));
    o.memtable_prefix_bloom_size_ratio = kMemtablePrefixBloomRatio;
  }
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  return o;
}

rocksdb::DBOptions DbOptions(const StoreOptions& options) {
  rocksdb::DBOptions o;
  o.create_if_missing = options.create_if_missing;
  o.create_missing_column_families = true;
  o.max_background_jobs = kBackgroundJobsMax;
  o.bytes_per_sync = kBytesPerSyncBytes;
  o.keep_log_file_num = kInfoLogFilesMax;
  o.max_open_files = options.open_files_max;
  // Appends must become visible atomically and in write order.
  o.enable_pipelined_write = false;
  o.unordered_write = false;
  // Bound memtables and WAL across all families, so quiet families are flushed.
  o.db_write_buffer_size = 4 * options.write_buffer_bytes;
  o.max_total_wal_size = 4 * options.write_buffer_bytes;
  return o;
}

bool Contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

}  // namespace

std::string_view CfName(Cf cf) {
  const auto i = static_cast<size_t>(cf);
  NEBU_CHECK(i < kCfCount, "CfName of an out-of-range column family");
  return kCfNames[i];
}

Status FromRocks(const rocksdb::Status& s) {
  if (s.ok()) return Status::Ok();
  const std::string text = s.ToString();
  if (s.IsNotFound()) return Status::NotFound(text);
  if (s.IsCorruption()) return Status::Corruption(text);
  if (s.IsShutdownInProgress()) return Status::Unavailable(text);
  if (s.IsNoSpace() || Contains(text, "No space left")) {
    return Status::NoSpace("disk full: " + text);
  }
  if (s.IsIOError() && Contains(text, "LOCK") &&
      (Contains(text, "lock hold") || Contains(text, "Resource temporarily unavailable") ||
       Contains(text, "lock file"))) {
    return Status::IoError("data directory is in use by another process: " + text);
  }
  return Status::IoError(text);
}

namespace {

// Writes the format version into a new DB, or checks the one already there.
Status CheckFormatVersion(Store& store) {
  NEBU_ASSIGN_OR_RETURN(auto stored, store.Get(Cf::kMeta, kMetaFormatVersion));
  if (!stored) {
    std::string value;
    PutU64(&value, kStorageFormatVersion);
    rocksdb::WriteBatch batch;
    auto s = batch.Put(store.handle(Cf::kMeta), kMetaFormatVersion, value);
    if (!s.ok()) return FromRocks(s);
    return store.Write(batch, /*sync=*/true);
  }
  if (stored->size() != 8) return Status::Corruption("meta format_version is not 8 bytes");
  const uint64_t version = GetU64(stored->data());
  if (version != kStorageFormatVersion) {
    return Status::Corruption("unknown storage format version " + std::to_string(version) +
                              " (this build reads " + std::to_string(kStorageFormatVersion) + ")");
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<Store>> Store::Open(const StoreOptions& options) {
  const rocksdb::DBOptions db_options = DbOptions(options);
  auto cache = rocksdb::NewLRUCache(options.block_cache_bytes, /*num_shard_bits=*/-1,
                                    /*strict_capacity_limit=*/false, kCacheHighPriorityRatio);

  std::vector<std::string> existing;
  // Fails when the DB does not exist yet; then only our families are opened.
  (void)rocksdb::DB::ListColumnFamilies(db_options, options.path, &existing);

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (size_t i = 0; i < kCfCount; ++i) {
    const Cf cf = static_cast<Cf>(i);
    descriptors.emplace_back(std::string(CfName(cf)), CfOptions(cf, options, cache));
  }
  existing.push_back(rocksdb::kDefaultColumnFamilyName);
  for (const std::string& name : existing) {
    const bool known = std::any_of(descriptors.begin(), descriptors.end(),
                                   [&](const auto& d) { return d.name == name; });
    if (!known) descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  }

  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  const rocksdb::Status s =
      rocksdb::DB::Open(db_options, options.path, descriptors, &handles, &raw);
  if (!s.ok()) return FromRocks(s);

  std::unique_ptr<Store> store(new Store());
  store->path_ = options.path;
  store->db_.reset(raw);
  for (size_t i = 0; i < handles.size(); ++i) {
    if (i < kCfCount) {
      store->handles_[i] = handles[i];
    } else {
      store->other_handles_.push_back(handles[i]);
    }
  }
  NEBU_RETURN_IF_ERROR(CheckFormatVersion(*store));
  return store;
}

Store::~Store() {
  if (!db_) return;
  for (auto* h : handles_) {
    if (h != nullptr) db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  }
  for (auto* h : other_handles_) db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  // Close flushes nothing (the WAL is durable); an error here has no one to report to.
  db_->Close().PermitUncheckedError();
  db_.reset();
}

Status Store::Write(rocksdb::WriteBatch& batch, bool sync) {
  if (has_fault_.load()) NEBU_RETURN_IF_ERROR(InjectedFault(sync));
  if (resume_needed_.load()) {
    // Clears a background error (e.g. NoSpace) once its cause is gone; OK at once
    // when the DB is not stopped.
    NEBU_RETURN_IF_ERROR(FromRocks(db_->Resume()));
    resume_needed_ = false;
  }
  rocksdb::WriteOptions options;
  options.sync = sync;
  Status s = FromRocks(db_->Write(options, &batch));
  if (!s.ok()) resume_needed_ = true;
  return s;
}

Result<uint64_t> Store::FreeBytes() const {
  struct statvfs fs {};
  if (::statvfs(path_.c_str(), &fs) != 0) {
    return Status::IoError("statvfs " + path_ + ": " + std::strerror(errno));
  }
  return static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
}

void Store::SetWriteFaultForTesting(WriteFault fault) {
  std::lock_guard lock(fault_mu_);
  has_fault_ = fault != nullptr;
  fault_ = std::move(fault);
}

Status Store::InjectedFault(bool sync) {
  std::lock_guard lock(fault_mu_);
  return fault_ ? fault_(sync) : Status::Ok();
}

Result<std::optional<std::string>> Store::Get(Cf cf, std::string_view key) {
  rocksdb::PinnableSlice value;
  const rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), handle(cf), key, &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return FromRocks(s);
  return std::optional<std::string>(value.ToString());
}

std::unique_ptr<rocksdb::Iterator> Store::NewIterator(Cf cf, const rocksdb::ReadOptions& options) {
  rocksdb::ReadOptions o = options;
  if (HasRoomPrefix(cf) && !o.prefix_same_as_start) o.total_order_seek = true;
  return std::unique_ptr<rocksdb::Iterator>(db_->NewIterator(o, handle(cf)));
}

}  // namespace nebu::storage
