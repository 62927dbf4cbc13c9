#include "engine/media/media.h"

#include <boost/json.hpp>

#include "engine/common/crypto.h"
#include "engine/event/canonical_json.h"
#include "engine/event/identifiers.h"
#include "engine/storage/keys.h"

namespace nebu::media {
namespace {

namespace json = boost::json;
using storage::Cf;

constexpr char kRecordTag = 'm';
constexpr char kUserTag = 'u';
constexpr char kPendingTag = 'p';
constexpr char kUsageTag = 's';

std::string RecordKey(std::string_view media_id) {
  std::string key(1, kRecordTag);
  key += media_id;
  return key;
}

std::string UserPrefix(char tag, std::string_view user_id) {
  std::string key(1, tag);
  key += user_id;
  key.push_back('\0');
  return key;
}

std::string UserKey(char tag, std::string_view user_id, std::string_view media_id) {
  return UserPrefix(tag, user_id) + std::string(media_id);
}

std::string UsageKey(std::string_view user_id) {
  std::string key(1, kUsageTag);
  key += user_id;
  return key;
}

std::string_view OpName(MediaOp op) {
  switch (op) {
    case MediaOp::kUpload: return "upload";
    case MediaOp::kCreate: return "create";
    case MediaOp::kFill: return "fill";
    case MediaOp::kQuarantine: return "quarantine";
    case MediaOp::kDelete: return "delete";
  }
  return "upload";
}

std::optional<MediaOp> ParseOp(std::string_view name) {
  for (MediaOp op : {MediaOp::kUpload, MediaOp::kCreate, MediaOp::kFill, MediaOp::kQuarantine,
                     MediaOp::kDelete}) {
    if (OpName(op) == name) return op;
  }
  return std::nullopt;
}

std::string StringOr(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

int64_t IntOr(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_int64() ? v->as_int64() : 0;
}

bool BoolOr(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_bool() && v->as_bool();
}

json::object RecordToJson(const MediaRecord& r) {
  json::object o;
  o["media_id"] = r.media_id;
  o["user_id"] = r.user_id;
  o["pending"] = r.pending;
  o["expires_ts"] = r.expires_ts;
  o["size"] = static_cast<int64_t>(r.size);
  o["content_type"] = r.content_type;
  o["file_name"] = r.file_name;
  o["sha256"] = r.sha256;
  o["created_ts"] = r.created_ts;
  o["quarantined"] = r.quarantined;
  o["deleted"] = r.deleted;
  return o;
}

Result<MediaRecord> RecordFromJson(std::string_view text) {
  auto parsed = event::ParseJson(text);
  if (!parsed.ok() || !parsed->is_object()) return Status::Corruption("bad media record");
  const json::object& o = parsed->as_object();
  MediaRecord r{.media_id = StringOr(o, "media_id"),
                .user_id = StringOr(o, "user_id"),
                .pending = BoolOr(o, "pending"),
                .expires_ts = IntOr(o, "expires_ts"),
                .size = static_cast<uint64_t>(IntOr(o, "size")),
                .content_type = StringOr(o, "content_type"),
                .file_name = StringOr(o, "file_name"),
                .sha256 = StringOr(o, "sha256"),
                .created_ts = IntOr(o, "created_ts"),
                .quarantined = BoolOr(o, "quarantined"),
                .deleted = BoolOr(o, "deleted")};
  if (!IsValidMediaId(r.media_id)) return Status::Corruption("bad media record id");
  return r;
}

json::object CommandToJson(const MediaCommand& c) {
  json::object o;
  o["op"] = OpName(c.op);
  o["media_id"] = c.media_id;
  switch (c.op) {
    case MediaOp::kUpload:
    case MediaOp::kFill:
      o["user_id"] = c.user_id;
      o["size"] = static_cast<int64_t>(c.size);
      o["content_type"] = c.content_type;
      o["file_name"] = c.file_name;
      o["sha256"] = c.sha256;
      o["ts"] = c.ts;
      o["quota_bytes"] = static_cast<int64_t>(c.quota_bytes);
      break;
    case MediaOp::kCreate:
      o["user_id"] = c.user_id;
      o["ts"] = c.ts;
      o["expires_ts"] = c.expires_ts;
      o["pending_max"] = static_cast<int64_t>(c.pending_max);
      break;
    case MediaOp::kQuarantine:
      o["value"] = c.value;
      break;
    case MediaOp::kDelete:
      break;
  }
  return o;
}

bool IsSha256HexText(std::string_view text) {
  if (text.size() != 64) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Status Validate(const MediaCommand& c) {
  if (!IsValidMediaId(c.media_id)) return Status::InvalidArgument("invalid media ID");
  if (c.op == MediaOp::kQuarantine || c.op == MediaOp::kDelete) return Status::Ok();
  if (!event::IsValidUserId(c.user_id)) return Status::InvalidArgument("invalid user ID");
  if (c.op == MediaOp::kCreate) return Status::Ok();
  if (!IsValidFileName(c.file_name)) return Status::InvalidArgument("invalid file name");
  if (!IsValidContentType(c.content_type)) return Status::InvalidArgument("invalid content type");
  if (!IsSha256HexText(c.sha256)) return Status::InvalidArgument("invalid SHA-256");
  if (c.size > static_cast<uint64_t>(INT64_MAX) || c.quota_bytes > static_cast<uint64_t>(INT64_MAX)) {
    return Status::InvalidArgument("size out of range");
  }
  return Status::Ok();
}

Result<MediaCommand> CommandFromJson(std::string_view payload) {
  auto parsed = event::ParseJson(payload);
  if (!parsed.ok() || !parsed->is_object()) return Status::BadJson("media command is not an object");
  const json::object& o = parsed->as_object();
  auto op = ParseOp(StringOr(o, "op"));
  if (!op) return Status::BadJson("media command has no valid op");
  MediaCommand c{.op = *op,
                 .media_id = StringOr(o, "media_id"),
                 .user_id = StringOr(o, "user_id"),
                 .size = static_cast<uint64_t>(IntOr(o, "size")),
                 .content_type = StringOr(o, "content_type"),
                 .file_name = StringOr(o, "file_name"),
                 .sha256 = StringOr(o, "sha256"),
                 .ts = IntOr(o, "ts"),
                 .expires_ts = IntOr(o, "expires_ts"),
                 .quota_bytes = static_cast<uint64_t>(IntOr(o, "quota_bytes")),
                 .pending_max = static_cast<uint64_t>(IntOr(o, "pending_max")),
                 .value = BoolOr(o, "value")};
  if (!Validate(c).ok()) return Status::BadJson("media command fails validation");
  return c;
}

// ---- apply helpers ----

Result<std::optional<MediaRecord>> LoadRecord(storage::Store& store, std::string_view media_id) {
  NEBU_ASSIGN_OR_RETURN(auto bytes, store.Get(Cf::kMedia, RecordKey(media_id)));
  if (!bytes) return std::optional<MediaRecord>();
  NEBU_ASSIGN_OR_RETURN(MediaRecord r, RecordFromJson(*bytes));
  return std::optional<MediaRecord>(std::move(r));
}

Result<MediaUsage> DecodeUsage(const std::optional<std::string>& bytes) {
  if (!bytes) return MediaUsage{};
  if (bytes->size() != 16) return Status::Corruption("bad media usage record");
  return MediaUsage{storage::GetU64(bytes->data()), storage::GetU64(bytes->data() + 8)};
}

Status PutRecord(storage::Store& store, rocksdb::WriteBatch& batch, const MediaRecord& r) {
  NEBU_ASSIGN_OR_RETURN(std::string bytes, event::CanonicalJson(RecordToJson(r)));
  batch.Put(store.handle(Cf::kMedia), RecordKey(r.media_id), bytes);
  return Status::Ok();
}

void PutUsage(storage::Store& store, rocksdb::WriteBatch& batch, std::string_view user_id,
              const MediaUsage& usage) {
  std::string value;
  storage::PutU64(&value, usage.bytes);
  storage::PutU64(&value, usage.count);
  batch.Put(store.handle(Cf::kMedia), UsageKey(user_id), value);
}

// The user's usage after adding `size` bytes; kForbidden over a non-zero quota.
Result<MediaUsage> ChargeUsage(storage::Store& store, std::string_view user_id, uint64_t size,
                               uint64_t quota_bytes) {
  NEBU_ASSIGN_OR_RETURN(auto bytes, store.Get(Cf::kMedia, UsageKey(user_id)));
  NEBU_ASSIGN_OR_RETURN(MediaUsage usage, DecodeUsage(bytes));
  if (quota_bytes > 0 && (size > quota_bytes || usage.bytes > quota_bytes - size)) {
    return Status::Forbidden("quota: the upload would exceed the user's media quota of " +
                             std::to_string(quota_bytes) + " bytes");
  }
  return MediaUsage{usage.bytes + size, usage.count + 1};
}

std::string Outcome(std::string_view media_id) {
  return R"({"media_id":")" + std::string(media_id) + "\"}";
}

void FillFrom(MediaRecord& r, const MediaCommand& c) {
  r.size = c.size;
  r.content_type = c.content_type;
  r.file_name = c.file_name;
  r.sha256 = c.sha256;
}

Result<std::string> ApplyUpload(storage::Store& store, rocksdb::WriteBatch& batch,
                                const MediaCommand& c) {
  NEBU_ASSIGN_OR_RETURN(auto existing, LoadRecord(store, c.media_id));
  if (existing) return Status::AlreadyExists("media ID in use");
  NEBU_ASSIGN_OR_RETURN(MediaUsage usage, ChargeUsage(store, c.user_id, c.size, c.quota_bytes));
  MediaRecord r{.media_id = c.media_id, .user_id = c.user_id, .created_ts = c.ts};
  FillFrom(r, c);
  NEBU_RETURN_IF_ERROR(PutRecord(store, batch, r));
  batch.Put(store.handle(Cf::kMedia), UserKey(kUserTag, c.user_id, c.media_id), "");
  PutUsage(store, batch, c.user_id, usage);
  return Outcome(c.media_id);
}

// Drops the user's pending IDs expired at now_ms; returns how many stay.
Result<uint64_t> SweepPending(storage::Store& store, rocksdb::WriteBatch& batch,
                              std::string_view user_id, int64_t now_ms) {
  const std::string prefix = UserPrefix(kPendingTag, user_id);
  auto it = store.NewIterator(Cf::kMedia);
  uint64_t live = 0;
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    const std::string media_id(it->key().ToStringView().substr(prefix.size()));
    NEBU_ASSIGN_OR_RETURN(auto record, LoadRecord(store, media_id));
    if (record && !record->ExpiredAt(now_ms)) {
      ++live;
      continue;
    }
    batch.Delete(store.handle(Cf::kMedia), it->key());
    batch.Delete(store.handle(Cf::kMedia), UserKey(kUserTag, user_id, media_id));
    batch.Delete(store.handle(Cf::kMedia), RecordKey(media_id));
  }
  NEBU_RETURN_IF_ERROR(storage::FromRocks(it->status()));
  return live;
}

Result<std::string> ApplyCreate(storage::Store& store, rocksdb::WriteBatch& batch,
                                const MediaCommand& c) {
  NEBU_ASSIGN_OR_RETURN(auto existing, LoadRecord(store, c.media_id));
  if (existing) return Status::AlreadyExists("media ID in use");
  NEBU_ASSIGN_OR_RETURN(uint64_t live, SweepPending(store, batch, c.user_id, c.ts));
  if (live >= c.pending_max) {
    return Status::ResourceExhausted("too many media IDs waiting for their upload (at most " +
                                     std::to_string(c.pending_max) + ")");
  }
  MediaRecord r{.media_id = c.media_id, .user_id = c.user_id, .pending = true,
                .expires_ts = c.expires_ts, .created_ts = c.ts};
  NEBU_RETURN_IF_ERROR(PutRecord(store, batch, r));
  batch.Put(store.handle(Cf::kMedia), UserKey(kUserTag, c.user_id, c.media_id), "");
  batch.Put(store.handle(Cf::kMedia), UserKey(kPendingTag, c.user_id, c.media_id), "");
  return Outcome(c.media_id);
}

Result<std::string> ApplyFill(storage::Store& store, rocksdb::WriteBatch& batch,
                              const MediaCommand& c) {
  NEBU_ASSIGN_OR_RETURN(auto existing, LoadRecord(store, c.media_id));
  if (!existing || existing->ExpiredAt(c.ts)) return Status::NotFound("unknown media ID");
  MediaRecord r = std::move(*existing);
  if (r.user_id != c.user_id) return Status::Forbidden("the media ID was created by another user");
  if (!r.pending) return Status::AlreadyExists("media already uploaded");
  NEBU_ASSIGN_OR_RETURN(MediaUsage usage, ChargeUsage(store, c.user_id, c.size, c.quota_bytes));
  r.pending = false;
  r.expires_ts = 0;
  FillFrom(r, c);
  NEBU_RETURN_IF_ERROR(PutRecord(store, batch, r));
  batch.Delete(store.handle(Cf::kMedia), UserKey(kPendingTag, c.user_id, c.media_id));
  PutUsage(store, batch, c.user_id, usage);
  return Outcome(c.media_id);
}

Result<std::string> ApplyMark(storage::Store& store, rocksdb::WriteBatch& batch,
                              const MediaCommand& c) {
  NEBU_ASSIGN_OR_RETURN(auto existing, LoadRecord(store, c.media_id));
  if (!existing || existing->pending) return Status::NotFound("unknown media ID");
  MediaRecord r = std::move(*existing);
  if (c.op == MediaOp::kQuarantine) {
    r.quarantined = c.value;
  } else if (!r.deleted) {
    r.deleted = true;
    NEBU_ASSIGN_OR_RETURN(auto bytes, store.Get(Cf::kMedia, UsageKey(r.user_id)));
    NEBU_ASSIGN_OR_RETURN(MediaUsage usage, DecodeUsage(bytes));
    if (usage.bytes < r.size || usage.count == 0) return Status::Corruption("media usage underflow");
    PutUsage(store, batch, r.user_id, {usage.bytes - r.size, usage.count - 1});
  }
  NEBU_RETURN_IF_ERROR(PutRecord(store, batch, r));
  return Outcome(c.media_id);
}

}  // namespace

std::string NewMediaId() { return RandomAlnum(kMediaIdChars); }

bool IsValidMediaId(std::string_view id) {
  if (id.empty() || id.size() > kMediaIdBytesMax) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool IsValidFileName(std::string_view name) {
  if (name.size() > kMediaFileNameBytesMax) return false;
  if (!event::IsValidUtf8(name)) return false;
  for (char c : name) {
    if (c == '\0' || c == '/' || c == '\\' || static_cast<unsigned char>(c) < 0x20) return false;
  }
  return true;
}

bool IsValidContentType(std::string_view type) {
  if (type.size() > kMediaContentTypeBytesMax) return false;
  for (char c : type) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

Result<std::string> EncodeMediaCommand(const MediaCommand& command) {
  NEBU_RETURN_IF_ERROR(Validate(command));
  return event::CanonicalJson(CommandToJson(command));
}

Result<std::string> ApplyMediaCommand(storage::Store& store, rocksdb::WriteBatch& batch,
                                      std::string_view payload) {
  NEBU_ASSIGN_OR_RETURN(MediaCommand c, CommandFromJson(payload));
  switch (c.op) {
    case MediaOp::kUpload: return ApplyUpload(store, batch, c);
    case MediaOp::kCreate: return ApplyCreate(store, batch, c);
    case MediaOp::kFill: return ApplyFill(store, batch, c);
    case MediaOp::kQuarantine:
    case MediaOp::kDelete: return ApplyMark(store, batch, c);
  }
  return Status::BadJson("unknown media op");
}

Result<std::optional<MediaRecord>> GetMedia(const storage::ReadView& view,
                                            std::string_view media_id) {
  if (!IsValidMediaId(media_id)) return std::optional<MediaRecord>();
  NEBU_ASSIGN_OR_RETURN(auto bytes, view.Get(Cf::kMedia, RecordKey(media_id)));
  if (!bytes) return std::optional<MediaRecord>();
  NEBU_ASSIGN_OR_RETURN(MediaRecord r, RecordFromJson(*bytes));
  return std::optional<MediaRecord>(std::move(r));
}

Status ForEachUserMedia(const storage::ReadView& view, std::string_view user_id,
                        std::string_view after_media_id, size_t limit, const MediaVisitor& visit) {
  const std::string prefix = UserPrefix(kUserTag, user_id);
  std::string start = prefix + std::string(after_media_id);
  if (!after_media_id.empty()) start.push_back('\0');  // strictly after
  auto it = view.NewIterator(Cf::kMedia);
  size_t visited = 0;
  for (it->Seek(start); it->Valid() && it->key().starts_with(prefix) && visited < limit;
       it->Next(), ++visited) {
    const std::string_view media_id = it->key().ToStringView().substr(prefix.size());
    NEBU_ASSIGN_OR_RETURN(auto bytes, view.Get(Cf::kMedia, RecordKey(media_id)));
    if (!bytes) return Status::Corruption("media index without record");
    NEBU_ASSIGN_OR_RETURN(MediaRecord r, RecordFromJson(*bytes));
    NEBU_RETURN_IF_ERROR(visit(r));
  }
  return storage::FromRocks(it->status());
}

Status ForEachMedia(const storage::ReadView& view, const MediaVisitor& visit) {
  const std::string prefix(1, kRecordTag);
  auto it = view.NewIterator(Cf::kMedia);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    NEBU_ASSIGN_OR_RETURN(MediaRecord r, RecordFromJson(it->value().ToStringView()));
    NEBU_RETURN_IF_ERROR(visit(r));
  }
  return storage::FromRocks(it->status());
}

Result<MediaUsage> GetMediaUsage(const storage::ReadView& view, std::string_view user_id) {
  NEBU_ASSIGN_OR_RETURN(auto bytes, view.Get(Cf::kMedia, UsageKey(user_id)));
  return DecodeUsage(bytes);
}

}  // namespace nebu::media
