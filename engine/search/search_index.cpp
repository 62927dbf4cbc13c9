#include "engine/search/search_index.h"

#include <rocksdb/write_batch.h>

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <memory>
#include <queue>

#include "engine/event/canonical_json.h"
#include "engine/search/tokenizer.h"
#include "engine/storage/keys.h"
#include "engine/storage/room_log.h"

namespace nebu::search {

namespace json = boost::json;
using storage::Cf;
using storage::RoomNumber;
using storage::Sequence;
using storage::StreamPosition;

namespace {

// The indexed field of an event type, and whether it must be a state event.
struct Field {
  std::string_view type;
  std::string_view content_key;
  SearchKey key;
  bool state;
};
constexpr Field kFields[] = {{"m.room.message", "body", kKeyBody, false},
                             {"m.room.name", "name", kKeyName, true},
                             {"m.room.topic", "topic", kKeyTopic, true}};

const Field* FieldOf(std::string_view type) {
  for (const Field& f : kFields) {
    if (f.type == type) return &f;
  }
  return nullptr;
}

std::string PostingValue(Sequence seq, uint8_t keys, uint8_t count) {
  std::string out;
  storage::PutU64(&out, seq);
  out.push_back(static_cast<char>(keys));
  out.push_back(static_cast<char>(count));
  return out;
}

}  // namespace

std::optional<SearchKey> ParseSearchKey(std::string_view key) {
  if (key == "content.body") return kKeyBody;
  if (key == "content.name") return kKeyName;
  if (key == "content.topic") return kKeyTopic;
  return std::nullopt;
}

std::vector<EventWord> WordsOf(const json::object& pdu) {
  const json::value* type = pdu.if_contains("type");
  const Field* field = type && type->is_string() ? FieldOf(type->as_string()) : nullptr;
  if (!field) return {};
  const json::value* state_key = pdu.if_contains("state_key");
  const bool is_state = state_key != nullptr;
  if (is_state != field->state) return {};
  if (is_state && (!state_key->is_string() || !state_key->as_string().empty())) return {};
  const json::value* content = pdu.if_contains("content");
  if (!content || !content->is_object()) return {};
  const json::value* text = content->as_object().if_contains(field->content_key);
  if (!text || !text->is_string()) return {};
  std::vector<EventWord> words;
  for (std::string& w : Tokenize(text->as_string())) {
    auto it = std::find_if(words.begin(), words.end(),
                           [&](const EventWord& e) { return e.word == w; });
    if (it != words.end()) {
      if (it->count < UINT8_MAX) ++it->count;
      continue;
    }
    if (words.size() == kSearchEventWordsMax) continue;
    words.push_back(EventWord{std::move(w), field->key, 1});
  }
  return words;
}

std::string PostingKey(std::string_view word, RoomNumber room, StreamPosition position) {
  std::string key(word);
  key.push_back('\0');
  storage::PutU64(&key, room);
  storage::PutU64(&key, ~position);  // newest first in key order: scans go forward
  return key;
}

std::optional<Posting> DecodePosting(std::string_view value) {
  if (value.size() != 10) return std::nullopt;
  return Posting{storage::GetU64(value.data()), static_cast<uint8_t>(value[8]),
                 static_cast<uint8_t>(value[9])};
}

void StageEvent(storage::Store& store, rocksdb::WriteBatch& batch, RoomNumber room, Sequence seq,
                StreamPosition position, const json::object& pdu) {
  for (const EventWord& w : WordsOf(pdu)) {
    batch.Put(store.handle(Cf::kSearch), PostingKey(w.word, room, position),
              PostingValue(seq, w.keys, w.count));
  }
}

size_t StageStoredEvent(storage::Store& store, rocksdb::WriteBatch& batch,
                        const storage::EventView& event) {
  if (!FieldOf(event.type)) return 0;
  auto parsed = event::ParseJson(event.json, {.canonical_numbers = false});
  if (!parsed.ok() || !parsed->is_object()) return 0;
  const std::vector<EventWord> words = WordsOf(parsed->as_object());
  for (const EventWord& w : words) {
    batch.Put(store.handle(Cf::kSearch), PostingKey(w.word, event.room, event.stream_position),
              PostingValue(event.sequence, w.keys, w.count));
  }
  return words.size();
}

std::string EncodeCursor(const Cursor& cursor) {
  std::string out = std::to_string(cursor.below);
  if (cursor.after) {
    out += "." + std::to_string(cursor.after->first) + "." + std::to_string(cursor.after->second);
  }
  return out;
}

std::optional<Cursor> ParseCursor(std::string_view text) {
  auto number = [](std::string_view part) -> std::optional<uint64_t> {
    uint64_t v = 0;
    auto [ptr, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    if (part.empty() || ec != std::errc() || ptr != part.data() + part.size()) return std::nullopt;
    return v;
  };
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (size_t dot; (dot = text.find('.', start)) != std::string_view::npos; start = dot + 1) {
    parts.push_back(text.substr(start, dot - start));
  }
  parts.push_back(text.substr(start));
  Cursor cursor;
  auto below = number(parts[0]);
  if (!below) return std::nullopt;
  cursor.below = *below;
  if (parts.size() == 1) return cursor;
  if (parts.size() != 3) return std::nullopt;
  auto rank = number(parts[1]);
  auto pos = number(parts[2]);
  if (!rank || !pos || *rank > UINT32_MAX) return std::nullopt;
  cursor.after = std::pair(static_cast<uint32_t>(*rank), *pos);
  return cursor;
}

namespace {

// One room's postings of the scan word, newest first.
struct RoomScan {
  RoomNumber room = 0;
  std::string prefix;
  std::unique_ptr<rocksdb::Iterator> it;
  StreamPosition position = 0;  // of the current posting
  Posting posting;
};

// Loads the current posting; false when the room's range is done.
Result<bool> Load(RoomScan& scan) {
  if (!scan.it->Valid()) {
    NEBU_RETURN_IF_ERROR(storage::FromRocks(scan.it->status()));
    return false;
  }
  const std::string_view key = scan.it->key().ToStringView();
  if (!key.starts_with(scan.prefix)) return false;
  auto posting = DecodePosting(scan.it->value().ToStringView());
  if (key.size() != scan.prefix.size() + 8 || !posting) {
    return Status::Corruption("bad search index entry");
  }
  scan.position = ~storage::GetU64(key.data() + scan.prefix.size());
  scan.posting = *posting;
  return true;
}

struct Newer {
  bool operator()(const RoomScan* a, const RoomScan* b) const { return a->position < b->position; }
};

// Checks the query's other words on the candidate; their total count into *rank.
Result<bool> OtherWordsMatch(const storage::ReadView& view, const Query& q,
                             std::string_view scan_word, const RoomScan& scan, uint32_t* rank) {
  for (const std::string& w : q.words) {
    if (w == scan_word) continue;
    NEBU_ASSIGN_OR_RETURN(auto value, view.Get(Cf::kSearch, PostingKey(w, scan.room, scan.position)));
    if (!value) return false;
    auto posting = DecodePosting(*value);
    if (!posting) return Status::Corruption("bad search index entry");
    if (!(posting->keys & q.keys)) return false;
    *rank += posting->count;
  }
  return true;
}

// Whether the hit comes strictly after `after` in the window's order.
bool After(const Query& q, const Hit& h) {
  if (!q.after) return true;
  if (!q.by_rank) return h.position < q.after->second;
  return h.rank < q.after->first || (h.rank == q.after->first && h.position < q.after->second);
}

}  // namespace

Result<Page> Search(const storage::ReadView& view, const Query& q, const Accept& accept) {
  Page page;
  if (q.words.empty() || q.rooms.empty() || q.below == 0 || q.limit == 0) return page;
  const std::string& scan_word = *std::max_element(
      q.words.begin(), q.words.end(),
      [](const std::string& a, const std::string& b) { return a.size() < b.size(); });
  std::vector<RoomScan> scans(q.rooms.size());
  std::priority_queue<RoomScan*, std::vector<RoomScan*>, Newer> heads;
  for (size_t i = 0; i < q.rooms.size(); ++i) {
    RoomScan& s = scans[i];
    s.room = q.rooms[i];
    s.prefix = PostingKey(scan_word, s.room, 0).substr(0, scan_word.size() + 9);
    s.it = view.NewIterator(Cf::kSearch);
    s.it->Seek(PostingKey(scan_word, s.room, q.below - 1));
    NEBU_ASSIGN_OR_RETURN(bool loaded, Load(s));
    if (loaded) {
      heads.push(&s);
    } else {
      s.it.reset();
    }
  }
  storage::RoomLog log(view);
  std::vector<Hit> matches;
  size_t examined = 0;
  while (!heads.empty()) {
    RoomScan* s = heads.top();
    if (examined >= q.examined_max) {
      page.cut = true;
      break;
    }
    heads.pop();
    ++examined;
    uint32_t rank = s->posting.count;
    bool match = (s->posting.keys & q.keys) != 0;
    if (match) {
      NEBU_ASSIGN_OR_RETURN(match, OtherWordsMatch(view, q, scan_word, *s, &rank));
    }
    if (match) {
      Result<storage::EventRecord> record = log.Read(s->room, s->posting.sequence);
      if (!record.ok()) {
        return record.status().code() == StatusCode::kNotFound
                   ? Status::Corruption("search index names a missing event")
                   : record.status();
      }
      if (record->stream_position != s->position) {
        return Status::Corruption("search index is stale");
      }
      NEBU_ASSIGN_OR_RETURN(auto redacted_by, view.Get(Cf::kRedactions, record->event_id));
      match = false;
      if (!redacted_by) {
        NEBU_ASSIGN_OR_RETURN(match, accept(*record));
      }
    }
    if (match) matches.push_back(Hit{s->room, s->posting.sequence, s->position, rank});
    s->it->Next();
    NEBU_ASSIGN_OR_RETURN(bool more, Load(*s));
    if (more) {
      heads.push(s);
    } else {
      s->it.reset();
    }
  }
  // The next window starts below the first posting not examined.
  const StreamPosition cut_below = page.cut ? heads.top()->position + 1 : 0;
  page.count = matches.size();
  if (q.by_rank) {
    std::stable_sort(matches.begin(), matches.end(), [](const Hit& a, const Hit& b) {
      return a.rank != b.rank ? a.rank > b.rank : a.position > b.position;
    });
  }
  auto first = std::find_if(matches.begin(), matches.end(), [&](const Hit& h) { return After(q, h); });
  for (auto it = first; it != matches.end(); ++it) {
    if (page.hits.size() == q.limit) {
      const Hit& last = page.hits.back();
      page.next = q.by_rank ? Cursor{q.below, std::pair(last.rank, last.position)}
                            : Cursor{last.position, std::nullopt};
      return page;
    }
    page.hits.push_back(*it);
  }
  if (page.cut) page.next = Cursor{cut_below, std::nullopt};
  return page;
}

}  // namespace nebu::search
