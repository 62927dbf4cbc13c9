// The full-text index of room events (Cf::kSearch) and the query POST /search runs on
// it (api/search/search_routes.h). The node owns it: the room applier writes it in
// each event's own batch, so it is exact at every applied position, and
// core/index_build.h rebuilds it for stores written before it existed. No PostgreSQL.
//
//   // apply (core/room_applier.cpp), with the event's PDU:
//   search::StageEvent(store, batch, room, seq, position, pdu);
//   // read (one snapshot):
//   search::Query q{.words = {"lunch"}, .rooms = {3, 7}, .limit = 10};
//   NEBU_ASSIGN_OR_RETURN(search::Page page, search::Search(snap, q, accept));
//
// What is indexed (the spec's `keys`): content.body of m.room.message (not a state
// event), content.name of m.room.name and content.topic of m.room.topic (state events
// with state_key ""), when a string. Nothing else: m.room.encrypted events have no
// readable text and are never indexed. Words are tokenizer.h's; one event indexes at
// most kSearchEventWordsMax distinct words (the first ones).
//
// Layout, Cf::kSearch (words hold no 0x00 byte):
//   word 0x00 room[8 BE] ~position[8 BE] -> sequence[8 BE] keys[1] count[1]
// one posting per (distinct word, event): `position` is the event's stream position,
// stored complemented so that a room's postings run newest first in key order (scans
// go forward: a memtable's Prev costs a search from the top each step),
// `keys` the SearchKey bits of the fields the word is in, `count` its occurrences in
// them (saturating at 255). A word finds a room's events newest first with one seek,
// and a room filter is a prefix: only the searched rooms' ranges are read.
//
// Redactions: postings are never removed. Search leaves out every event
// Cf::kRedactions names (read at query time, so the answer is a function of the
// snapshot, the same on every node).
//
// Matching: every word of the query must be a whole word of the event (after
// Tokenize: case-insensitive as that describes; no prefix matching, no stemming), in
// any of the requested keys (the words may be in different fields).
//
// Order: by_rank: rank = the sum of the query words' counts in the event, highest
// first, then newest first; otherwise newest first (stream position). Ties cannot
// happen (positions are unique).
//
// Bounds and pagination: one Search examines at most kSearchPostingsExaminedMax
// postings of the scan word (the query's longest word), newest first, in the window
// of positions below Query::below. The matches in that window are ordered; the page
// is the first `limit` after Query::after. Page::next resumes: within the same window
// while it holds more matches, then in the next window (below the last position
// examined) when the bound cut the window. Page::count is the number of matches in
// the window (exact when nothing was cut).
//
// Thread-safety: pure functions over a ReadView; safe from any thread.
#pragma once

#include <boost/json/object.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/status.h"
#include "engine/storage/envelope.h"
#include "engine/storage/read_view.h"
#include "engine/storage/store.h"

namespace rocksdb {
class WriteBatch;
}

namespace nebu::search {

// The fields the spec's `keys` name, as bits.
enum SearchKey : uint8_t { kKeyBody = 1, kKeyName = 2, kKeyTopic = 4 };
inline constexpr uint8_t kAllKeys = kKeyBody | kKeyName | kKeyTopic;

// Distinct words one event indexes (the first ones in body/name/topic order).
inline constexpr size_t kSearchEventWordsMax = 256;
// Postings of the scan word one Search examines (then the window is cut).
inline constexpr size_t kSearchPostingsExaminedMax = 20'000;
// Distinct words a query may have (the API refuses more).
inline constexpr size_t kSearchQueryWordsMax = 16;
// Rooms one Search reads (the API refuses more: narrow with filter.rooms).
inline constexpr size_t kSearchRoomsMax = 5'000;

// "content.body" -> kKeyBody etc.; nullopt for any other key.
std::optional<SearchKey> ParseSearchKey(std::string_view key);

// One distinct word of an event: the fields it is in and its occurrences.
struct EventWord {
  std::string word;
  uint8_t keys = 0;
  uint8_t count = 0;
};
// The words an event indexes (rules above); empty for an event that indexes none.
std::vector<EventWord> WordsOf(const boost::json::object& pdu);

// Stages the postings of the event (room, seq) at stream `position` in batch.
void StageEvent(storage::Store& store, rocksdb::WriteBatch& batch, storage::RoomNumber room,
                storage::Sequence seq, storage::StreamPosition position,
                const boost::json::object& pdu);
// The same from a stored event (index build): parses the JSON only for the indexed
// types. Returns the number of postings staged.
size_t StageStoredEvent(storage::Store& store, rocksdb::WriteBatch& batch,
                        const storage::EventView& event);

std::string PostingKey(std::string_view word, storage::RoomNumber room,
                       storage::StreamPosition position);
struct Posting {
  storage::Sequence sequence = 0;
  uint8_t keys = 0;
  uint8_t count = 0;
};
std::optional<Posting> DecodePosting(std::string_view value);

struct Query {
  std::vector<std::string> words;  // distinct, from Tokenize; empty finds nothing
  uint8_t keys = kAllKeys;
  std::vector<storage::RoomNumber> rooms;  // the rooms to search
  bool by_rank = true;
  storage::StreamPosition below = UINT64_MAX;  // only events with a smaller position
  // Resume after this (rank, position) in the window's order (by_rank only).
  std::optional<std::pair<uint32_t, storage::StreamPosition>> after;
  size_t limit = 10;
  // Postings of the scan word examined before the window is cut (tests lower it).
  size_t examined_max = kSearchPostingsExaminedMax;
};

struct Hit {
  storage::RoomNumber room = 0;
  storage::Sequence sequence = 0;
  storage::StreamPosition position = 0;
  uint32_t rank = 0;
};

struct Cursor {
  storage::StreamPosition below = UINT64_MAX;
  std::optional<std::pair<uint32_t, storage::StreamPosition>> after;
};
// "<below>.<rank>.<position>" or "<below>"; ParseCursor is its inverse (nullopt for
// anything else).
std::string EncodeCursor(const Cursor& cursor);
std::optional<Cursor> ParseCursor(std::string_view text);

struct Page {
  std::vector<Hit> hits;  // in order, at most Query::limit
  size_t count = 0;       // matches in the window
  std::optional<Cursor> next;
  bool cut = false;  // kSearchPostingsExaminedMax ended the window
};

// Whether the caller may have a matching event (visibility, filters); it reads the
// record. Not called for redacted events.
using Accept = std::function<Result<bool>(const storage::EventRecord&)>;

// Runs the query (rules above). kCorruption for a malformed posting or one naming an
// event the log does not hold; errors of `accept` are returned.
Result<Page> Search(const storage::ReadView& view, const Query& query, const Accept& accept);

}  // namespace nebu::search
