#include "media/s3_store.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <system_error>
#include <vector>

namespace nebu::media {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kTmpDir = "tmp";
constexpr std::string_view kPartSuffix = ".part";
constexpr size_t kBucketBytesMax = 63;

bool IsBucketName(std::string_view bucket) {
  return bucket.size() >= 3 && bucket.size() <= kBucketBytesMax &&
         std::all_of(bucket.begin(), bucket.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
         });
}

bool IsKeyPrefix(std::string_view prefix) {
  if (prefix.size() > kS3KeyPrefixBytesMax) return false;
  if (prefix.starts_with('/') || prefix.find("//") != std::string_view::npos) return false;
  return std::all_of(prefix.begin(), prefix.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' ||
           c == '/';
  });
}

Status CheckConfig(const S3Config& config) {
  if (!IsBucketName(config.bucket)) {
    return Status::InvalidArgument("NEBU_S3_BUCKET: expected a bucket name (3 to 63 of a-z 0-9 . -), got \"" +
                                   config.bucket + "\"");
  }
  if (config.region.empty()) return Status::InvalidArgument("NEBU_S3_REGION: must not be empty");
  if (config.access_key_id.empty()) {
    return Status::InvalidArgument("NEBU_S3_ACCESS_KEY_ID: required");
  }
  if (config.secret_access_key.empty()) {
    return Status::InvalidArgument("NEBU_S3_SECRET_ACCESS_KEY_FILE: required (a file holding the secret)");
  }
  if (!IsKeyPrefix(config.key_prefix)) {
    return Status::InvalidArgument(
        "NEBU_S3_KEY_PREFIX: expected [A-Za-z0-9._/-], no leading '/', no '//', at most " +
        std::to_string(kS3KeyPrefixBytesMax) + " bytes");
  }
  if (config.cache_bytes < kMediaCacheBytesMin) {
    return Status::InvalidArgument("NEBU_MEDIA_CACHE_BYTES: at least 1048576");
  }
  return Status::Ok();
}

std::string ErrorText(const S3Reply& reply) {
  std::string text = "HTTP " + std::to_string(reply.status);
  if (!reply.code.empty()) text += " " + reply.code;
  if (!reply.message.empty()) text += " (" + reply.message + ")";
  return text;
}

}  // namespace

Result<std::unique_ptr<S3ContentStore>> S3ContentStore::Open(const S3Config& config,
                                                             const fs::path& cache_dir) {
  Result<S3Endpoint> endpoint = ParseS3Endpoint(config.endpoint);
  if (!endpoint.ok()) {
    return Status::InvalidArgument("NEBU_S3_ENDPOINT: " + endpoint.status().message());
  }
  NEBU_RETURN_IF_ERROR(CheckConfig(config));
  std::unique_ptr<S3ContentStore> store(new S3ContentStore(config, *endpoint, cache_dir));
  NEBU_RETURN_IF_ERROR(store->IndexCache());
  return store;
}

S3ContentStore::S3ContentStore(const S3Config& config, S3Endpoint endpoint, fs::path cache_dir)
    : config_(config),
      client_(std::move(endpoint), config),
      cache_dir_(std::move(cache_dir)),
      tmp_dir_(cache_dir_ / kTmpDir) {}

Status S3ContentStore::IndexCache() {
  std::error_code ec;
  fs::create_directories(tmp_dir_, ec);
  if (ec) return Status::IoError("cannot create " + tmp_dir_.string() + ": " + ec.message());
  for (const fs::directory_entry& part : fs::directory_iterator(tmp_dir_, ec)) {
    std::error_code ignored;
    fs::remove(part.path(), ignored);
  }
  struct Found {
    std::string hash;
    uint64_t bytes;
    fs::file_time_type time;
  };
  std::vector<Found> found;
  for (const fs::directory_entry& file : fs::directory_iterator(cache_dir_, ec)) {
    std::string name = file.path().filename().string();
    std::error_code stat_ec;
    if (!IsSha256Hex(name) || !file.is_regular_file(stat_ec)) continue;
    found.push_back({name, file.file_size(stat_ec), file.last_write_time(stat_ec)});
  }
  if (ec) return Status::IoError("cannot list " + cache_dir_.string() + ": " + ec.message());
  std::sort(found.begin(), found.end(),
            [](const Found& a, const Found& b) { return a.time < b.time; });
  std::lock_guard lock(mu_);
  for (const Found& f : found) {
    entries_[f.hash] = Entry{.bytes = f.bytes, .last_use = ++use_clock_};
    total_bytes_ += f.bytes;
  }
  return Status::Ok();
}

std::string S3ContentStore::ObjectKey(std::string_view sha256_hex) const {
  std::string key = config_.key_prefix;
  if (!key.empty() && !key.ends_with('/')) key += '/';
  key += std::string(sha256_hex.substr(0, 2)) + "/" + std::string(sha256_hex.substr(2, 2)) + "/" +
         std::string(sha256_hex);
  return key;
}

Status S3ContentStore::Failure(std::string_view call, std::string_view sha256_hex,
                               const S3Reply& reply) const {
  std::string text = "S3 " + std::string(call) + " " + ObjectKey(sha256_hex) + " at " +
                     client_.where() + ": " + ErrorText(reply);
  if (reply.status == 403) {
    text += "; forbidden: check NEBU_S3_ACCESS_KEY_ID, the secret file, NEBU_S3_REGION and the "
            "bucket policy (s3:GetObject, s3:PutObject)";
  }
  return Status::Unavailable(std::move(text));
}

std::optional<fs::path> S3ContentStore::Cached(std::string_view sha256_hex) {
  fs::path path = cache_dir_ / std::string(sha256_hex);
  std::lock_guard lock(mu_);
  auto it = entries_.find(sha256_hex);
  if (it == entries_.end()) return std::nullopt;
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {  // removed behind our back
    total_bytes_ -= it->second.bytes;
    entries_.erase(it);
    return std::nullopt;
  }
  it->second.last_use = ++use_clock_;
  return path;
}

void S3ContentStore::Admit(const std::string& sha256_hex, uint64_t bytes) {
  std::lock_guard lock(mu_);
  auto [it, inserted] = entries_.try_emplace(sha256_hex);
  if (!inserted) total_bytes_ -= it->second.bytes;
  it->second = Entry{.bytes = bytes, .last_use = ++use_clock_};
  total_bytes_ += bytes;
  if (total_bytes_ <= config_.cache_bytes) return;
  std::vector<std::pair<uint64_t, std::string>> by_age;
  by_age.reserve(entries_.size());
  for (const auto& [hash, entry] : entries_) {
    if (hash != sha256_hex) by_age.emplace_back(entry.last_use, hash);
  }
  std::sort(by_age.begin(), by_age.end());
  for (const auto& [age, hash] : by_age) {
    if (total_bytes_ <= config_.cache_bytes) break;
    std::error_code ec;
    fs::remove(cache_dir_ / hash, ec);  // a failure only leaves the file on disk
    auto victim = entries_.find(hash);
    total_bytes_ -= victim->second.bytes;
    entries_.erase(victim);
    evictions_.fetch_add(1, std::memory_order_relaxed);
  }
}

fs::path S3ContentStore::PartPath(std::string_view sha256_hex) {
  uint64_t n = part_counter_.fetch_add(1, std::memory_order_relaxed);
  return tmp_dir_ / (std::string(sha256_hex) + "." + std::to_string(n) + std::string(kPartSuffix));
}

void S3ContentStore::LinkIntoCache(const std::string& sha256_hex, const fs::path& spooled,
                                   uint64_t size) {
  if (Cached(sha256_hex)) return;
  fs::path part = PartPath(sha256_hex);
  std::error_code ec;
  fs::create_hard_link(spooled, part, ec);  // another file system: no link, no cache
  if (ec) return;
  fs::rename(part, cache_dir_ / sha256_hex, ec);
  if (ec) {
    fs::remove(part, ec);
    return;
  }
  Admit(sha256_hex, size);
}

Status S3ContentStore::Put(std::string_view sha256_hex, const fs::path& spooled, uint64_t size) {
  if (!IsSha256Hex(sha256_hex)) return Status::InvalidArgument("not a SHA-256 hex digest");
  std::string hash(sha256_hex);
  heads_.fetch_add(1, std::memory_order_relaxed);
  NEBU_ASSIGN_OR_RETURN(S3Reply head, client_.Head(ObjectKey(hash)));
  if (head.status == 200) {
    puts_skipped_.fetch_add(1, std::memory_order_relaxed);
    return Status::Ok();
  }
  // 404, or 403 for a missing object under a policy without s3:ListBucket: upload; a
  // real permission problem shows in the PUT's answer.
  if (head.status != 404 && head.status != 403) return Failure("HEAD", hash, head);
  puts_.fetch_add(1, std::memory_order_relaxed);
  NEBU_ASSIGN_OR_RETURN(S3Reply put, client_.Put(ObjectKey(hash), spooled, size, hash));
  if (put.status != 200) return Failure("PUT", hash, put);
  LinkIntoCache(hash, spooled, size);
  return Status::Ok();
}

Result<fs::path> S3ContentStore::Fetch(std::string_view sha256_hex) {
  if (!IsSha256Hex(sha256_hex)) return Status::InvalidArgument("not a SHA-256 hex digest");
  if (std::optional<fs::path> cached = Cached(sha256_hex)) {
    cache_hits_.fetch_add(1, std::memory_order_relaxed);
    return *cached;
  }
  std::string hash(sha256_hex);
  fs::path part = PartPath(hash);
  gets_.fetch_add(1, std::memory_order_relaxed);
  Result<S3Reply> got = client_.Get(ObjectKey(hash), part);
  std::error_code ec;
  if (!got.ok() || got->status != 200) {
    fs::remove(part, ec);
    if (!got.ok()) return got.status();
    if (got->status == 404) {
      return Status::NotFound("S3 has no object " + ObjectKey(hash) + " (" + ErrorText(*got) + ")");
    }
    return Failure("GET", hash, *got);
  }
  uint64_t bytes = fs::file_size(part, ec);
  fs::path final_path = cache_dir_ / hash;
  if (!ec) fs::rename(part, final_path, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(part, ignored);
    return Status::IoError("cannot store " + final_path.string() + ": " + ec.message());
  }
  Admit(hash, bytes);
  return final_path;
}

Result<bool> S3ContentStore::Exists(std::string_view sha256_hex) {
  if (!IsSha256Hex(sha256_hex)) return Status::InvalidArgument("not a SHA-256 hex digest");
  if (Cached(sha256_hex)) {
    cache_hits_.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  heads_.fetch_add(1, std::memory_order_relaxed);
  NEBU_ASSIGN_OR_RETURN(S3Reply head, client_.Head(ObjectKey(sha256_hex)));
  if (head.status == 200) return true;
  if (head.status == 404) return false;
  S3Reply shown = head;
  if (head.status == 403) {
    shown.message = "a missing object also answers 403 when the policy lacks s3:ListBucket";
  }
  return Failure("HEAD", sha256_hex, shown);
}

S3ContentStore::Stats S3ContentStore::stats() const {
  return Stats{.heads = heads_.load(),
               .puts = puts_.load(),
               .gets = gets_.load(),
               .puts_skipped = puts_skipped_.load(),
               .cache_hits = cache_hits_.load(),
               .evictions = evictions_.load()};
}

uint64_t S3ContentStore::cached_bytes() const {
  std::lock_guard lock(mu_);
  return total_bytes_;
}

Result<std::unique_ptr<ContentStore>> MakeS3ContentStore(const S3Config& config,
                                                         const fs::path& cache_dir) {
  NEBU_ASSIGN_OR_RETURN(std::unique_ptr<S3ContentStore> store,
                        S3ContentStore::Open(config, cache_dir));
  return std::unique_ptr<ContentStore>(std::move(store));
}

}  // namespace nebu::media
