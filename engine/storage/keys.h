// Key codecs: big-endian fixed-width integers and length-prefixed strings, so that
// RocksDB's bytewise order is numeric order (docs/storage-format.md).
//
//   std::string k = EventKey(room, seq);        // 16 bytes
//   auto [room, seq] = *DecodeEventKey(k);
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace nebu::storage {

using RoomNumber = uint64_t;   // dense per node-wide room table, from 1
using Sequence = uint64_t;     // dense per-room log position, from 1
using StreamPosition = uint64_t;
using LogIndex = uint64_t;

void PutU64(std::string* out, uint64_t v);             // 8 bytes big-endian
void PutU32(std::string* out, uint32_t v);             // 4 bytes big-endian
// A string prefixed by its length (u16 big-endian); strings are at most
// kLengthPrefixedBytesMax bytes, a longer one is a programmer error (NEBU_CHECK).
// Input cannot reach that: every key component is an identifier, event type, state
// key, transaction or device ID checked at propose time against its 255-byte limit
// (api/path_params.h, event/identifiers.h, the accounts/e2ee/receipts validators),
// request paths are within the server's 16 KiB header limit, and apply re-checks
// the components it reads from a command payload (core::RoomApplier) as a Status.
inline constexpr size_t kLengthPrefixedBytesMax = 65535;
void PutLengthPrefixed(std::string* out, std::string_view s);
uint64_t GetU64(const char* p);
uint32_t GetU32(const char* p);
// Reads a length-prefixed string at *in and advances it; nullopt if truncated.
std::optional<std::string_view> GetLengthPrefixed(std::string_view* in);
std::optional<uint64_t> GetU64(std::string_view* in);

// Cf::kMeta keys.
inline constexpr std::string_view kMetaAppliedIndex = "applied_index";
inline constexpr std::string_view kMetaStreamPosition = "stream_position";
inline constexpr std::string_view kMetaNextRoomNumber = "next_room_number";
inline constexpr std::string_view kMetaFormatVersion = "format_version";
// The version of the derived indexes (Cf::kRelations, Cf::kUserDirectory) the data
// was built with, u64 (core/index_build.h); absent in stores written before them.
inline constexpr std::string_view kMetaIndexVersion = "index_version";

// Cf::kMeta keys of replicated groups (core::StateMachine::BeginGroup; written only
// by a replicated committer, never by LocalCommitter):
// the group being (or last) applied: [u64 revision][u64 first index][u32 count].
inline constexpr std::string_view kMetaGroupPosition = "group_position";
// GroupSeenKey(node, incarnation): the groups of one node incarnation already applied,
//   "group_seen/" [u16 len][node id][u64 incarnation] ->
//   [u64 revision of the last group accepted][u64 watermark][u32 n][n x u64 seq]:
// every seq <= watermark and the n seqs listed (ascending, each > watermark + 1)
// were applied (core/group_dedup.h).
inline constexpr std::string_view kMetaGroupSeenPrefix = "group_seen/";
std::string GroupSeenKey(std::string_view node_id, uint64_t incarnation);
// The node ID and incarnation of a GroupSeenKey; nullopt when malformed.
std::optional<std::pair<std::string_view, uint64_t>> DecodeGroupSeenKey(std::string_view key);

std::string U64Key(uint64_t v);                        // kCommitLog [index], kStream [position]

// Cf::kRooms: 'i' room_id -> room number; 'n' [room number] -> room record.
std::string RoomIdKey(std::string_view room_id);
std::string RoomNumberKey(RoomNumber room);

// Cf::kRooms: 'a' alias -> room id; 'c' alias -> the user who created the alias.
std::string RoomAliasKey(std::string_view alias);
std::string RoomAliasCreatorKey(std::string_view alias);
// Cf::kRooms: 'p' room_id -> "" while the room is published in the room directory.
std::string RoomPublishedKey(std::string_view room_id);

// Cf::kEvents
std::string EventKey(RoomNumber room, Sequence seq);
std::string EventPrefix(RoomNumber room);              // 8 bytes: all of a room's log
std::optional<std::pair<RoomNumber, Sequence>> DecodeEventKey(std::string_view key);

// Cf::kStateCurrent: [room][len type][type][len key][state_key]
std::string StateKey(RoomNumber room, std::string_view type, std::string_view state_key);
// Cf::kStateHistory: StateKey(...) + [seq]
std::string StateHistoryKey(RoomNumber room, std::string_view type, std::string_view state_key,
                            Sequence seq);
// Decodes type and state_key from a kStateCurrent or kStateHistory key (seq if present).
struct DecodedStateKey {
  RoomNumber room;
  std::string_view type;
  std::string_view state_key;
  std::optional<Sequence> seq;
};
std::optional<DecodedStateKey> DecodeStateKey(std::string_view key);

// Cf::kMembership
std::string UserRoomKey(std::string_view user_id, RoomNumber room);     // 'u'[len user][room]
std::string UserRoomsPrefix(std::string_view user_id);                  // 'u'[len user]
std::string RoomUserKey(RoomNumber room, std::string_view user_id);     // 'r'[room][len user]
std::string RoomUsersPrefix(RoomNumber room);                           // 'r'[room]
std::string ForgottenRoomKey(std::string_view user_id, RoomNumber room);  // 'f'[len user][room]

// Cf::kTxnIds
std::string TxnKey(std::string_view user_id, std::string_view device_id, std::string_view txn_id);
// The reverse entry, event ID -> who sent it with which txn ID: 0xFF | event ID (a TxnKey
// starts with 0x00: user IDs are at most 255 bytes). Value: TxnKey(user, device, txn).
std::string TxnOfEventKey(std::string_view event_id);
struct TxnOrigin {
  std::string_view user_id;
  std::string_view device_id;
  std::string_view txn_id;
};
// Decodes a TxnKey (the reverse entry's value); nullopt when malformed.
std::optional<TxnOrigin> DecodeTxnKey(std::string_view key);

// Cf::kRelations: [u64 room][lp(parent event id)][u64 child seq] -> lp(rel_type) lp(child
// event type) lp(child event id), one entry per event whose content.m.relates_to names the parent
// (core/relations.h). RelationPrefix(room, parent) is a parent's children, by seq.
std::string RelationKey(RoomNumber room, std::string_view parent, Sequence child);
std::string RelationPrefix(RoomNumber room, std::string_view parent);
std::string RelationValue(std::string_view rel_type, std::string_view type,
                          std::string_view event_id);
struct DecodedRelation {
  Sequence child = 0;
  std::string_view rel_type;
  std::string_view type;
  std::string_view event_id;
};
// The child seq of a key under `prefix_bytes` of prefix, and the value's fields;
// nullopt when malformed.
std::optional<DecodedRelation> DecodeRelation(std::string_view key, size_t prefix_bytes,
                                              std::string_view value);

// Cf::kUserDirectory (accounts/user_directory.h):
//   't' token 0x00 user_id -> ""               (tokens hold no 0x00 byte)
//   'u' user_id            -> [u16 n][n x lp(token)]   the user's indexed tokens
std::string UserDirectoryTokenKey(std::string_view token, std::string_view user_id);
// Every 't' key whose token starts with `token_prefix`.
std::string UserDirectoryTokenPrefix(std::string_view token_prefix);
// (token, user ID) of a 't' key; nullopt when malformed.
std::optional<std::pair<std::string_view, std::string_view>> DecodeUserDirectoryTokenKey(
    std::string_view key);
std::string UserDirectoryUserKey(std::string_view user_id);
inline constexpr char kUserDirectoryUserTag = 'u';

// The smallest key greater than every key with this prefix ("" if none exists).
std::string PrefixSuccessor(std::string_view prefix);

}  // namespace nebu::storage
