#include "engine/storage/keys.h"

#include <limits>

#include "engine/common/status.h"

namespace nebu::storage {
namespace {

constexpr size_t kU64Bytes = 8;
constexpr size_t kLengthPrefixBytes = 2;
constexpr char kRoomIdTag = 'i';
constexpr char kRoomNumberTag = 'n';
constexpr char kRoomAliasTag = 'a';
constexpr char kRoomAliasCreatorTag = 'c';
constexpr char kRoomPublishedTag = 'p';
constexpr char kUserRoomTag = 'u';
constexpr char kRoomUserTag = 'r';
constexpr char kForgottenRoomTag = 'f';
constexpr char kUserDirectoryTokenTag = 't';

}  // namespace

void PutU64(std::string* out, uint64_t v) {
  char buf[kU64Bytes];
  for (size_t i = 0; i < kU64Bytes; ++i) {
    buf[i] = static_cast<char>(v >> (8 * (kU64Bytes - 1 - i)));
  }
  out->append(buf, kU64Bytes);
}

void PutU32(std::string* out, uint32_t v) {
  const char buf[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                       static_cast<char>(v >> 8), static_cast<char>(v)};
  out->append(buf, 4);
}

void PutLengthPrefixed(std::string* out, std::string_view s) {
  NEBU_CHECK(s.size() <= kLengthPrefixedBytesMax, "key component longer than 65535 bytes");
  out->push_back(static_cast<char>(s.size() >> 8));
  out->push_back(static_cast<char>(s.size()));
  out->append(s);
}

uint64_t GetU64(const char* p) {
  uint64_t v = 0;
  for (size_t i = 0; i < kU64Bytes; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

uint32_t GetU32(const char* p) {
  return (uint32_t{static_cast<uint8_t>(p[0])} << 24) |
         (uint32_t{static_cast<uint8_t>(p[1])} << 16) |
         (uint32_t{static_cast<uint8_t>(p[2])} << 8) | uint32_t{static_cast<uint8_t>(p[3])};
}

std::optional<std::string_view> GetLengthPrefixed(std::string_view* in) {
  if (in->size() < kLengthPrefixBytes) return std::nullopt;
  const size_t n = (size_t{static_cast<uint8_t>((*in)[0])} << 8) | static_cast<uint8_t>((*in)[1]);
  if (in->size() - kLengthPrefixBytes < n) return std::nullopt;
  const std::string_view s = in->substr(kLengthPrefixBytes, n);
  in->remove_prefix(kLengthPrefixBytes + n);
  return s;
}

std::optional<uint64_t> GetU64(std::string_view* in) {
  if (in->size() < kU64Bytes) return std::nullopt;
  const uint64_t v = GetU64(in->data());
  in->remove_prefix(kU64Bytes);
  return v;
}

std::string U64Key(uint64_t v) {
  std::string k;
  PutU64(&k, v);
  return k;
}

std::string GroupSeenKey(std::string_view node_id, uint64_t incarnation) {
  std::string k(kMetaGroupSeenPrefix);
  PutLengthPrefixed(&k, node_id);
  PutU64(&k, incarnation);
  return k;
}

std::optional<std::pair<std::string_view, uint64_t>> DecodeGroupSeenKey(std::string_view key) {
  if (!key.starts_with(kMetaGroupSeenPrefix)) return std::nullopt;
  key.remove_prefix(kMetaGroupSeenPrefix.size());
  auto node = GetLengthPrefixed(&key);
  auto incarnation = node ? GetU64(&key) : std::nullopt;
  if (!incarnation || !key.empty()) return std::nullopt;
  return std::pair<std::string_view, uint64_t>(*node, *incarnation);
}

std::string RoomIdKey(std::string_view room_id) {
  std::string k(1, kRoomIdTag);
  k.append(room_id);
  return k;
}

std::string RoomNumberKey(RoomNumber room) {
  std::string k(1, kRoomNumberTag);
  PutU64(&k, room);
  return k;
}

std::string RoomAliasKey(std::string_view alias) {
  std::string k(1, kRoomAliasTag);
  k.append(alias);
  return k;
}

std::string RoomAliasCreatorKey(std::string_view alias) {
  std::string k(1, kRoomAliasCreatorTag);
  k.append(alias);
  return k;
}

std::string RoomPublishedKey(std::string_view room_id) {
  std::string k(1, kRoomPublishedTag);
  k.append(room_id);
  return k;
}

std::string EventKey(RoomNumber room, Sequence seq) {
  std::string k;
  k.reserve(2 * kU64Bytes);
  PutU64(&k, room);
  PutU64(&k, seq);
  return k;
}

std::string EventPrefix(RoomNumber room) { return U64Key(room); }

std::optional<std::pair<RoomNumber, Sequence>> DecodeEventKey(std::string_view key) {
  if (key.size() != 2 * kU64Bytes) return std::nullopt;
  return std::pair<RoomNumber, Sequence>(GetU64(key.data()), GetU64(key.data() + kU64Bytes));
}

std::string StateKey(RoomNumber room, std::string_view type, std::string_view state_key) {
  std::string k;
  k.reserve(kU64Bytes + 2 * kLengthPrefixBytes + type.size() + state_key.size() + kU64Bytes);
  PutU64(&k, room);
  PutLengthPrefixed(&k, type);
  PutLengthPrefixed(&k, state_key);
  return k;
}

std::string StateHistoryKey(RoomNumber room, std::string_view type, std::string_view state_key,
                            Sequence seq) {
  std::string k = StateKey(room, type, state_key);
  PutU64(&k, seq);
  return k;
}

std::optional<DecodedStateKey> DecodeStateKey(std::string_view key) {
  auto room = GetU64(&key);
  if (!room) return std::nullopt;
  auto type = GetLengthPrefixed(&key);
  if (!type) return std::nullopt;
  auto state_key = GetLengthPrefixed(&key);
  if (!state_key) return std::nullopt;
  DecodedStateKey out{*room, *type, *state_key, std::nullopt};
  if (key.empty()) return out;
  out.seq = GetU64(&key);
  if (!out.seq || !key.empty()) return std::nullopt;
  return out;
}

std::string UserRoomsPrefix(std::string_view user_id) {
  std::string k(1, kUserRoomTag);
  PutLengthPrefixed(&k, user_id);
  return k;
}

std::string UserRoomKey(std::string_view user_id, RoomNumber room) {
  std::string k = UserRoomsPrefix(user_id);
  PutU64(&k, room);
  return k;
}

std::string ForgottenRoomKey(std::string_view user_id, RoomNumber room) {
  std::string k(1, kForgottenRoomTag);
  PutLengthPrefixed(&k, user_id);
  PutU64(&k, room);
  return k;
}

std::string RoomUsersPrefix(RoomNumber room) {
  std::string k(1, kRoomUserTag);
  PutU64(&k, room);
  return k;
}

std::string RoomUserKey(RoomNumber room, std::string_view user_id) {
  std::string k = RoomUsersPrefix(room);
  PutLengthPrefixed(&k, user_id);
  return k;
}

std::string TxnKey(std::string_view user_id, std::string_view device_id, std::string_view txn_id) {
  std::string k;
  PutLengthPrefixed(&k, user_id);
  PutLengthPrefixed(&k, device_id);
  PutLengthPrefixed(&k, txn_id);
  return k;
}

std::string TxnOfEventKey(std::string_view event_id) {
  std::string k(1, '\xff');
  k.append(event_id);
  return k;
}

std::optional<TxnOrigin> DecodeTxnKey(std::string_view key) {
  auto user = GetLengthPrefixed(&key);
  auto device = user ? GetLengthPrefixed(&key) : std::nullopt;
  auto txn = device ? GetLengthPrefixed(&key) : std::nullopt;
  if (!txn || !key.empty()) return std::nullopt;
  return TxnOrigin{*user, *device, *txn};
}

std::string RelationPrefix(RoomNumber room, std::string_view parent) {
  std::string k;
  PutU64(&k, room);
  PutLengthPrefixed(&k, parent);
  return k;
}

std::string RelationKey(RoomNumber room, std::string_view parent, Sequence child) {
  std::string k = RelationPrefix(room, parent);
  PutU64(&k, child);
  return k;
}

std::string RelationValue(std::string_view rel_type, std::string_view type,
                          std::string_view event_id) {
  std::string v;
  PutLengthPrefixed(&v, rel_type);
  PutLengthPrefixed(&v, type);
  PutLengthPrefixed(&v, event_id);
  return v;
}

std::optional<DecodedRelation> DecodeRelation(std::string_view key, size_t prefix_bytes,
                                              std::string_view value) {
  if (key.size() != prefix_bytes + kU64Bytes) return std::nullopt;
  DecodedRelation out;
  out.child = GetU64(key.data() + prefix_bytes);
  auto rel_type = GetLengthPrefixed(&value);
  auto type = rel_type ? GetLengthPrefixed(&value) : std::nullopt;
  auto event_id = type ? GetLengthPrefixed(&value) : std::nullopt;
  if (!event_id || !value.empty() || out.child == 0) return std::nullopt;
  out.rel_type = *rel_type;
  out.type = *type;
  out.event_id = *event_id;
  return out;
}

std::string UserDirectoryTokenPrefix(std::string_view token_prefix) {
  std::string k(1, kUserDirectoryTokenTag);
  k.append(token_prefix);
  return k;
}

std::string UserDirectoryTokenKey(std::string_view token, std::string_view user_id) {
  std::string k = UserDirectoryTokenPrefix(token);
  k.push_back('\0');
  k.append(user_id);
  return k;
}

std::optional<std::pair<std::string_view, std::string_view>> DecodeUserDirectoryTokenKey(
    std::string_view key) {
  if (key.empty() || key[0] != kUserDirectoryTokenTag) return std::nullopt;
  key.remove_prefix(1);
  const size_t nul = key.find('\0');
  if (nul == std::string_view::npos || nul == 0 || nul + 1 == key.size()) return std::nullopt;
  return std::pair(key.substr(0, nul), key.substr(nul + 1));
}

std::string UserDirectoryUserKey(std::string_view user_id) {
  std::string k(1, kUserDirectoryUserTag);
  k.append(user_id);
  return k;
}

std::string PrefixSuccessor(std::string_view prefix) {
  std::string s(prefix);
  while (!s.empty() && static_cast<uint8_t>(s.back()) == 0xff) s.pop_back();
  if (s.empty()) return s;
  s.back() = static_cast<char>(static_cast<uint8_t>(s.back()) + 1);
  return s;
}

}  // namespace nebu::storage
