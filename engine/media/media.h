// Media metadata as replicated state (docs/architecture.md, "Media"): which media IDs
// exist, who uploaded them, what they hold (size, content type, file name, the SHA-256
// that addresses the bytes in a media::ContentStore), and the administrators' marks
// (quarantined, deleted). The bytes themselves never pass through here.
//
// The write path: the API layer decides everything random or time-dependent (a fresh
// media ID from NewMediaId, the timestamps, the configured limits) and encodes a
// MediaCommand (EncodeMediaCommand: the payload of a core::CommandKind::kMedia
// command); every node applies the committed payload with ApplyMediaCommand, which
// decides deterministically from the applied state:
//   kUpload      POST /upload: a new, complete record. kAlreadyExists if the media ID
//                is taken (never for NewMediaId's IDs in practice); kForbidden
//                ("quota") when quota_bytes > 0 and the user's usage plus size would
//                exceed it.
//   kCreate      POST /create: reserves media_id for user_id until expires_ts (a
//                pending record). kResourceExhausted when the user already holds
//                pending_max unexpired pending IDs at `ts` (expired ones of the user
//                are dropped by this command: record and index).
//   kFill        PUT /upload/{server}/{mediaId}: fills a pending record once.
//                kNotFound (no such ID, or pending and expired at `ts`), kForbidden
//                (reserved by another user), kAlreadyExists (already filled: the API
//                answers 409 M_CANNOT_OVERWRITE_MEDIA), kForbidden ("quota") as upload.
//   kQuarantine  sets or lifts (value) the quarantine mark. kNotFound for an unknown
//                or pending ID.
//   kDelete      soft deletion: the record stays, marked deleted, and stops counting
//                in the user's usage (once; deleting again is OK and changes nothing).
//                kNotFound for an unknown or pending ID.
// Every outcome is {"media_id":"..."}. A malformed payload is kBadJson.
//
// Storage (Cf::kMedia), user IDs and media IDs never contain U+0000:
//   "m" media_id                  -> the record as canonical JSON (MediaRecord's fields)
//   "u" user_id 0x00 media_id     -> ""  every media ID of the user (pending ones too)
//   "p" user_id 0x00 media_id     -> ""  the user's pending IDs (removed when filled or
//                                        dropped as expired)
//   "s" user_id                   -> [u64 BE bytes][u64 BE count] usage: the complete,
//                                    not deleted media of the user (absent: 0, 0)
//
//   MediaCommand c{.op = MediaOp::kUpload, .media_id = NewMediaId(), .user_id = user, ...};
//   NEBU_ASSIGN_OR_RETURN(std::string payload, EncodeMediaCommand(c));
//   engine.SubmitAsync({core::CommandKind::kMedia, payload}, done);
//   auto record = GetMedia(engine.Read(), media_id);
//
// Thread-safety: pure functions; ApplyMediaCommand from the apply thread only (it reads
// the store and stages into the batch), reads from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <rocksdb/write_batch.h>

#include "engine/common/status.h"
#include "engine/storage/read_view.h"
#include "engine/storage/store.h"

namespace nebu::media {

// Characters of a media ID made by NewMediaId ([A-Za-z0-9]).
inline constexpr size_t kMediaIdChars = 24;
// The longest media ID accepted anywhere ([A-Za-z0-9_-], bytes).
inline constexpr size_t kMediaIdBytesMax = 255;
// The longest file name a record may carry (bytes of UTF-8, no U+0000, no '/' or '\\');
// longer is kInvalidArgument at EncodeMediaCommand (the API answers 400).
inline constexpr size_t kMediaFileNameBytesMax = 1024;
// The longest content type (bytes, printable ASCII).
inline constexpr size_t kMediaContentTypeBytesMax = 255;

enum class MediaOp : uint8_t { kUpload, kCreate, kFill, kQuarantine, kDelete };

struct MediaRecord {
  std::string media_id;
  std::string user_id;           // the uploader (or the reserver of a pending ID)
  bool pending = false;          // reserved by /create, not uploaded yet
  int64_t expires_ts = 0;        // pending only: unusable from this time (ms)
  uint64_t size = 0;             // bytes
  std::string content_type;      // may be empty (unknown)
  std::string file_name;         // may be empty
  std::string sha256;            // lowercase hex; empty while pending
  int64_t created_ts = 0;        // ms
  bool quarantined = false;
  bool deleted = false;

  bool operator==(const MediaRecord&) const = default;
  // A pending record whose reservation has run out at now_ms.
  [[nodiscard]] bool ExpiredAt(int64_t now_ms) const { return pending && now_ms >= expires_ts; }
};

struct MediaCommand {
  MediaOp op = MediaOp::kUpload;
  std::string media_id;
  std::string user_id;       // upload, create, fill
  uint64_t size = 0;         // upload, fill
  std::string content_type;  // upload, fill
  std::string file_name;     // upload, fill
  std::string sha256;        // upload, fill
  int64_t ts = 0;            // upload, create: created_ts; fill: now (expiry check)
  int64_t expires_ts = 0;    // create
  uint64_t quota_bytes = 0;  // upload, fill: 0 means no quota
  uint64_t pending_max = 0;  // create: at most this many unexpired pending IDs per user
  bool value = false;        // quarantine: true sets, false lifts
};

struct MediaUsage {
  uint64_t bytes = 0;
  uint64_t count = 0;
  bool operator==(const MediaUsage&) const = default;
};

// A fresh random media ID (kMediaIdChars of [A-Za-z0-9]).
[[nodiscard]] std::string NewMediaId();
// 1..kMediaIdBytesMax characters of [A-Za-z0-9_-].
[[nodiscard]] bool IsValidMediaId(std::string_view id);
// Whether `name` may be a record's file name (see kMediaFileNameBytesMax).
[[nodiscard]] bool IsValidFileName(std::string_view name);
// Whether `type` may be a record's content type (see kMediaContentTypeBytesMax).
[[nodiscard]] bool IsValidContentType(std::string_view type);

// The payload of a core::CommandKind::kMedia command. kInvalidArgument for a bad
// media ID, user ID, file name, content type or hash (the fields its op uses).
[[nodiscard]] Result<std::string> EncodeMediaCommand(const MediaCommand& command);

// Applies a committed kMedia payload (see the header comment).
[[nodiscard]] Result<std::string> ApplyMediaCommand(storage::Store& store,
                                                    rocksdb::WriteBatch& batch,
                                                    std::string_view payload);

// The record of media_id (pending, quarantined and deleted ones too: callers decide
// what users see); nullopt when there is none. kCorruption for a bad record.
[[nodiscard]] Result<std::optional<MediaRecord>> GetMedia(const storage::ReadView& view,
                                                          std::string_view media_id);

// Visits the user's records with media ID > after_media_id in media ID order until
// visit returns an error (returned) or `limit` were visited.
using MediaVisitor = std::function<Status(const MediaRecord& record)>;
[[nodiscard]] Status ForEachUserMedia(const storage::ReadView& view, std::string_view user_id,
                                      std::string_view after_media_id, size_t limit,
                                      const MediaVisitor& visit);

// Visits every record (all users, pending and deleted ones too) in media ID order until
// visit returns an error (returned). For the projection (projections/media_snapshot.h).
[[nodiscard]] Status ForEachMedia(const storage::ReadView& view, const MediaVisitor& visit);

// The user's usage (complete, not deleted media).
[[nodiscard]] Result<MediaUsage> GetMediaUsage(const storage::ReadView& view,
                                               std::string_view user_id);

}  // namespace nebu::media
