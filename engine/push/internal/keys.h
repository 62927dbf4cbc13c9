// Key and value codecs of Cf::kNotifications (layout: push/notifications.h). Private to
// engine/push.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "engine/common/status.h"
#include "engine/push/notifications.h"
#include "engine/storage/keys.h"

namespace nebu::push::internal {

inline constexpr std::string_view kVersionKey = "v";
inline constexpr std::string_view kCursorKey = "p";

std::string RecordPrefix(std::string_view user_id);  // 'n' [lp user]
std::string RecordKey(std::string_view user_id, storage::StreamPosition position);
std::string UnreadPrefix(std::string_view user_id, storage::RoomNumber room);  // 'u' [lp user][room]
std::string UnreadKey(std::string_view user_id, storage::RoomNumber room, storage::Sequence seq);
std::string CountsPrefix(std::string_view user_id);  // 'c' [lp user]
std::string CountsKey(std::string_view user_id, storage::RoomNumber room);
std::string ThreadCountsPrefix(std::string_view user_id, storage::RoomNumber room);
std::string ThreadCountsKey(std::string_view user_id, storage::RoomNumber room,
                            std::string_view thread_id);

std::string EncodeCounts(const UnreadCounts& counts);
std::optional<UnreadCounts> DecodeCounts(std::string_view value);
std::string EncodeUnread(bool highlight, std::string_view thread_id);
struct UnreadEntry {
  bool highlight = false;
  std::string thread_id;
};
std::optional<UnreadEntry> DecodeUnread(std::string_view value);
std::string EncodeRecord(const Notification& n);
Result<Notification> DecodeRecord(std::string_view key, std::string_view value);

}  // namespace nebu::push::internal
