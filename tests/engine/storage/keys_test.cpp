// Goal: the key codecs make RocksDB's bytewise order equal to numeric / tuple order,
// decode inverts encode, and prefixes never capture another owner's keys.
// Method: rapidcheck properties over random integers and strings (a failure prints
// the seed; replay with RC_PARAMS="seed=N"), plus fixed examples at the edges.
#include "engine/storage/keys.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <string>
#include <tuple>

namespace nebu::storage {
namespace {

// Bytewise comparison, as RocksDB's default comparator does it (unsigned bytes).
int Compare(std::string_view a, std::string_view b) {
  const int c = a.compare(b);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

template <typename T>
int CompareTuples(const T& a, const T& b) {
  return a < b ? -1 : (b < a ? 1 : 0);
}

RC_GTEST_PROP(KeysTest, U64KeyOrderIsNumericOrder, (uint64_t a, uint64_t b)) {
  RC_ASSERT(Compare(U64Key(a), U64Key(b)) == CompareTuples(a, b));
}

RC_GTEST_PROP(KeysTest, EventKeyOrderIsRoomThenSequenceOrder,
              (uint64_t room_a, uint64_t seq_a, uint64_t room_b, uint64_t seq_b)) {
  // Half the cases share a room, so the sequence comparison is exercised too.
  if (*rc::gen::arbitrary<bool>()) room_b = room_a;
  RC_ASSERT(Compare(EventKey(room_a, seq_a), EventKey(room_b, seq_b)) ==
            CompareTuples(std::tuple(room_a, seq_a), std::tuple(room_b, seq_b)));
}

RC_GTEST_PROP(KeysTest, DecodeEventKeyInvertsEventKey, (uint64_t room, uint64_t seq)) {
  const std::string key = EventKey(room, seq);
  RC_ASSERT(key.size() == 16u);
  RC_ASSERT(key.starts_with(EventPrefix(room)));
  const auto decoded = DecodeEventKey(key);
  RC_ASSERT(decoded.has_value());
  RC_ASSERT(decoded->first == room);
  RC_ASSERT(decoded->second == seq);
}

RC_GTEST_PROP(KeysTest, StateHistoryKeysOfOneStateKeyOrderBySequence,
              (uint64_t room, std::string type, std::string state_key, uint64_t a, uint64_t b)) {
  RC_PRE(type.size() <= 65535u && state_key.size() <= 65535u);
  RC_ASSERT(Compare(StateHistoryKey(room, type, state_key, a),
                    StateHistoryKey(room, type, state_key, b)) == CompareTuples(a, b));
}

RC_GTEST_PROP(KeysTest, StateKeysOrderByRoomFirst,
              (uint64_t room_a, uint64_t room_b, std::string type_a, std::string type_b)) {
  RC_PRE(room_a != room_b);
  RC_ASSERT(Compare(StateKey(room_a, type_a, ""), StateKey(room_b, type_b, "x")) ==
            CompareTuples(room_a, room_b));
}

RC_GTEST_PROP(KeysTest, DecodeStateKeyInvertsStateKeyAndStateHistoryKey,
              (uint64_t room, std::string type, std::string state_key, uint64_t seq)) {
  // The decoded views point into the key, so the key must outlive them.
  const std::string current_key = StateKey(room, type, state_key);
  const auto current = DecodeStateKey(current_key);
  RC_ASSERT(current.has_value());
  RC_ASSERT(current->room == room);
  RC_ASSERT(current->type == type);
  RC_ASSERT(current->state_key == state_key);
  RC_ASSERT(!current->seq.has_value());

  const std::string history_key = StateHistoryKey(room, type, state_key, seq);
  RC_ASSERT(history_key.starts_with(StateKey(room, type, state_key)));
  const auto history = DecodeStateKey(history_key);
  RC_ASSERT(history.has_value());
  RC_ASSERT(history->type == type);
  RC_ASSERT(history->state_key == state_key);
  RC_ASSERT(history->seq == std::optional<Sequence>(seq));
}

RC_GTEST_PROP(KeysTest, OneStateKeyNeverPrefixesAnother,
              (uint64_t room, std::string type_a, std::string key_a, std::string type_b,
               std::string key_b)) {
  RC_PRE(std::tie(type_a, key_a) != std::tie(type_b, key_b));
  RC_ASSERT(!StateKey(room, type_b, key_b).starts_with(StateKey(room, type_a, key_a)));
}

RC_GTEST_PROP(KeysTest, MembershipPrefixesCaptureExactlyTheirOwnKeys,
              (std::string user_a, std::string user_b, uint64_t room_a, uint64_t room_b)) {
  RC_ASSERT(UserRoomKey(user_a, room_a).starts_with(UserRoomsPrefix(user_a)));
  RC_ASSERT(RoomUserKey(room_a, user_a).starts_with(RoomUsersPrefix(room_a)));
  RC_ASSERT(UserRoomKey(user_b, room_b).starts_with(UserRoomsPrefix(user_a)) == (user_a == user_b));
  RC_ASSERT(RoomUserKey(room_b, user_b).starts_with(RoomUsersPrefix(room_a)) == (room_a == room_b));
  RC_ASSERT(Compare(UserRoomKey(user_a, room_a), UserRoomKey(user_a, room_b)) ==
            CompareTuples(room_a, room_b));
}

RC_GTEST_PROP(KeysTest, TxnKeysOfDistinctTriplesDiffer,
              (std::string u1, std::string d1, std::string t1, std::string u2, std::string d2,
               std::string t2)) {
  RC_ASSERT((TxnKey(u1, d1, t1) == TxnKey(u2, d2, t2)) ==
            (std::tie(u1, d1, t1) == std::tie(u2, d2, t2)));
}

RC_GTEST_PROP(KeysTest, GetLengthPrefixedInvertsPutLengthPrefixed,
              (std::string a, std::string b, uint64_t v)) {
  std::string buf;
  PutLengthPrefixed(&buf, a);
  PutU64(&buf, v);
  PutLengthPrefixed(&buf, b);
  std::string_view in = buf;
  RC_ASSERT(GetLengthPrefixed(&in) == std::optional<std::string_view>(a));
  RC_ASSERT(GetU64(&in) == std::optional<uint64_t>(v));
  RC_ASSERT(GetLengthPrefixed(&in) == std::optional<std::string_view>(b));
  RC_ASSERT(in.empty());
}

RC_GTEST_PROP(KeysTest, PrefixSuccessorBoundsExactlyThePrefixedKeys,
              (std::string prefix, std::string key)) {
  // Half the keys extend the prefix, so both sides of the bound are exercised.
  if (*rc::gen::arbitrary<bool>()) key = prefix + key;
  const std::string successor = PrefixSuccessor(prefix);
  if (key.starts_with(prefix)) {
    RC_ASSERT(successor.empty() || Compare(key, successor) < 0);
  } else if (Compare(key, prefix) > 0) {
    RC_ASSERT(!successor.empty());
    RC_ASSERT(Compare(key, successor) >= 0);
  }
}

TEST(KeysTest, PrefixSuccessorSkipsTrailingFfBytes) {
  EXPECT_EQ(PrefixSuccessor("ab"), "ac");
  EXPECT_EQ(PrefixSuccessor(std::string("a\xff\xff", 3)), "b");
  EXPECT_EQ(PrefixSuccessor(std::string("\xff\xff", 2)), "");
  EXPECT_EQ(PrefixSuccessor(""), "");
}

TEST(KeysTest, IntegersAreBigEndian) {
  EXPECT_EQ(U64Key(0x0102030405060708u), std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
  std::string s;
  PutU32(&s, 0xA1B2C3D4u);
  EXPECT_EQ(s, "\xA1\xB2\xC3\xD4");
  EXPECT_EQ(GetU32(s.data()), 0xA1B2C3D4u);
}

TEST(KeysTest, DecodersRejectTruncatedOrOverlongKeys) {
  EXPECT_FALSE(DecodeEventKey(EventKey(1, 2).substr(0, 15)).has_value());
  EXPECT_FALSE(DecodeEventKey(EventKey(1, 2) + "x").has_value());
  const std::string state = StateKey(7, "m.room.name", "");
  EXPECT_FALSE(DecodeStateKey(state.substr(0, state.size() - 1)).has_value());
  EXPECT_FALSE(DecodeStateKey(state + "1234567").has_value());    // 7 bytes: not a seq
  EXPECT_FALSE(DecodeStateKey(state + "123456789").has_value());  // 9 bytes: junk after seq
  std::string_view short_u64 = "1234567";
  EXPECT_FALSE(GetU64(&short_u64).has_value());
  std::string_view bad_length(
      "\x00\x05"
      "abc",
      5);
  EXPECT_FALSE(GetLengthPrefixed(&bad_length).has_value());
}

TEST(KeysTest, RoomKeysAreTaggedSoTheyNeverCollide) {
  EXPECT_EQ(RoomIdKey("!a:b"), "i!a:b");
  EXPECT_EQ(RoomAliasKey("#a:b"), "a#a:b");
  EXPECT_EQ(RoomNumberKey(1), std::string("n\0\0\0\0\0\0\0\x01", 9));
}

}  // namespace
}  // namespace nebu::storage
