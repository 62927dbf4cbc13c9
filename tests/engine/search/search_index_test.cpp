// Goal: the full-text index (search/search_index.h) answers exactly what a brute-force
// scan of the room logs answers, after any history, through every page; a store
// written without it gets the same entries at open; apply leaves encrypted events and
// non-state names/topics out.
// Method: a real Engine on tmpfs. A seeded rapidcheck property applies a random
// history (three users, public rooms, joins, messages over a small vocabulary with
// mixed case and accents, m.room.name / m.room.topic state, m.room.encrypted events
// carrying a body, redactions) and runs random queries (one or two words, a subset of
// keys and rooms, rank or recent, a visibility predicate, small page sizes, and in
// half of them a tiny examined bound that cuts windows) page by page: without a cut
// the concatenated pages equal the brute-force list in order; with cuts, the same
// events once each. Then it drops the index version, reopens, and requires the
// rebuilt Cf::kSearch to hold the same bytes. It prints its rapidcheck seed; replay
// with RC_PARAMS="seed=N max_success=30".
#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <algorithm>
#include <boost/json.hpp>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "engine/accounts/commands.h"
#include "engine/core/engine.h"
#include "engine/event/canonical_json.h"
#include "engine/rooms/room_creation.h"
#include "engine/search/search_index.h"
#include "engine/search/tokenizer.h"
#include "engine/storage/keys.h"
#include "engine/storage/room_log.h"
#include "engine/testing/temp_dir.h"

namespace nebu::search {
namespace {

namespace json = boost::json;
using storage::Cf;
using storage::RoomNumber;
using storage::Sequence;

constexpr size_t kUsers = 3;
constexpr const char* kVocabulary[] = {"apple", "Apple", "BANANA", "café", "CAFÉ", "dog",
                                       "eel",   "fig",   "apple!", "москва"};

std::unique_ptr<core::Engine> OpenEngine(const std::string& dir) {
  auto opened = core::Engine::Open({.data_dir = dir, .server_name = "localhost"});
  if (!opened.ok()) ADD_FAILURE() << opened.status().ToString();
  return opened.ok() ? std::move(*opened) : nullptr;
}

std::string UserId(size_t i) { return "@u" + std::to_string(i) + ":localhost"; }

Result<core::AppendedEvent> Send(core::Engine& engine, const std::string& room,
                                 const std::string& sender, const std::string& type,
                                 json::object content,
                                 std::optional<std::string> state_key = std::nullopt,
                                 std::optional<std::string> redacts = std::nullopt) {
  core::SendEventRequest r;
  r.room_id = room;
  r.sender = sender;
  r.type = type;
  r.state_key = std::move(state_key);
  r.content = std::move(content);
  r.redacts = std::move(redacts);
  return engine.SendEvent(std::move(r));
}

std::vector<std::string> FamilyDump(storage::Store& store, Cf cf) {
  std::vector<std::string> out;
  auto it = store.NewIterator(cf);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    out.push_back(it->key().ToString() + "=" + it->value().ToString());
  }
  return out;
}

std::string Text(uint32_t arg) {
  std::string text;
  const size_t n = 1 + arg % 4;
  for (size_t i = 0; i < n; ++i) {
    text += kVocabulary[(arg >> (3 * i)) % std::size(kVocabulary)];
    text += i % 2 ? ", " : " ";
  }
  return text;
}

struct History {
  std::vector<std::string> rooms;
  std::map<std::string, std::vector<std::string>> events;  // room -> event IDs
};

void ApplyStep(core::Engine& engine, uint32_t step, History& h) {
  const uint32_t kind = step % 8;
  const std::string user = UserId((step >> 3) % kUsers);
  const uint32_t arg = step >> 6;
  const std::string room = h.rooms.empty() ? "" : h.rooms[arg % h.rooms.size()];
  auto record = [&](const Result<core::AppendedEvent>& sent) {
    if (sent.ok()) h.events[room].push_back(sent->event_id);
  };
  if (kind == 0 && h.rooms.size() < 4) {
    rooms::CreateRoomRequest request;
    request.preset = "public_chat";
    auto created = engine.CreateRoom(request, user);
    if (created.ok()) h.rooms.push_back(created->room_id);
  } else if (kind == 1 && !room.empty()) {
    (void)Send(engine, room, user, "m.room.member", {{"membership", "join"}}, user);
  } else if (kind <= 4 && !room.empty()) {
    record(Send(engine, room, user, "m.room.message", {{"msgtype", "m.text"}, {"body", Text(arg)}}));
  } else if (kind == 5 && !room.empty()) {
    const bool name = arg % 2;
    const std::string key = arg % 5 == 0 ? "x" : "";  // a non-"" state key: not indexed
    record(Send(engine, room, user, name ? "m.room.name" : "m.room.topic",
                {{name ? "name" : "topic", Text(arg >> 1)}}, key));
  } else if (kind == 6 && !room.empty()) {
    record(Send(engine, room, user, "m.room.encrypted",
                {{"algorithm", "m.megolm.v1.aes-sha2"}, {"ciphertext", "x"}, {"body", Text(arg)}}));
  } else if (kind == 7 && !room.empty() && !h.events[room].empty()) {
    const auto& events = h.events[room];
    record(Send(engine, room, user, "m.room.redaction", json::object{}, std::nullopt,
                events[arg % events.size()]));
  }
}

// The words of the event's indexed field under `keys`, computed from its JSON.
std::optional<std::vector<std::string>> BruteWords(const storage::EventRecord& e, uint8_t keys) {
  json::object pdu = json::parse(e.json).as_object();
  const json::object& content = pdu.at("content").as_object();
  const char* field = nullptr;
  uint8_t bit = 0;
  if (e.type == "m.room.message" && !e.state_key) field = "body", bit = kKeyBody;
  if (e.type == "m.room.name" && e.state_key == "") field = "name", bit = kKeyName;
  if (e.type == "m.room.topic" && e.state_key == "") field = "topic", bit = kKeyTopic;
  if (!field || !(keys & bit) || !content.contains(field) || !content.at(field).is_string()) {
    return std::nullopt;
  }
  return Tokenize(content.at(field).as_string());
}

std::vector<Hit> BruteSearch(core::Engine& engine, const Query& q,
                             const std::function<bool(Sequence)>& visible) {
  storage::RoomLog log(engine.store());
  std::vector<Hit> out;
  for (RoomNumber room : q.rooms) {
    for (Sequence s = 1;; ++s) {
      auto e = log.Read(room, s);
      if (!e.ok()) break;
      auto words = BruteWords(*e, q.keys);
      if (!words || !visible(s)) continue;
      auto redacted = engine.store().Get(Cf::kRedactions, e->event_id);
      if (redacted.ok() && redacted->has_value()) continue;
      uint32_t rank = 0;
      bool all = true;
      for (const std::string& w : q.words) {
        const auto n = std::count(words->begin(), words->end(), w);
        all = all && n > 0;
        rank += static_cast<uint32_t>(std::min<long>(n, 255));
      }
      if (all) out.push_back(Hit{room, s, e->stream_position, rank});
    }
  }
  std::sort(out.begin(), out.end(), [&](const Hit& a, const Hit& b) {
    if (q.by_rank && a.rank != b.rank) return a.rank > b.rank;
    return a.position > b.position;
  });
  return out;
}

std::vector<Hit> Paged(core::Engine& engine, Query q, const std::function<bool(Sequence)>& visible,
                       bool* cut) {
  std::vector<Hit> out;
  const storage::ReadView view(engine.store());
  for (int guard = 0; guard < 10'000; ++guard) {
    auto page = Search(view, q, [&](const storage::EventRecord& e) -> Result<bool> {
      return visible(e.sequence);
    });
    RC_ASSERT(page.ok());
    RC_ASSERT(page->hits.size() <= q.limit);
    *cut = *cut || page->cut;
    out.insert(out.end(), page->hits.begin(), page->hits.end());
    if (!page->next) return out;
    auto cursor = ParseCursor(EncodeCursor(*page->next));
    RC_ASSERT(cursor.has_value());
    q.below = cursor->below;
    q.after = cursor->after;
  }
  RC_FAIL("pagination did not end");
  return out;
}

std::vector<std::tuple<RoomNumber, Sequence>> Keys(const std::vector<Hit>& hits) {
  std::vector<std::tuple<RoomNumber, Sequence>> out;
  for (const Hit& h : hits) out.emplace_back(h.room, h.sequence);
  return out;
}

void CheckQueries(core::Engine& engine, const History& h, uint32_t salt) {
  std::vector<RoomNumber> numbers;
  for (const std::string& room : h.rooms) numbers.push_back(engine.GetRoom(room)->number);
  for (uint32_t i = 0; i < 12; ++i) {
    const uint32_t v = salt + i * 7919;
    Query q;
    for (uint32_t w = 0; w <= v % 2; ++w) {
      for (std::string& word : Tokenize(kVocabulary[(v >> (4 * w)) % std::size(kVocabulary)])) {
        if (std::find(q.words.begin(), q.words.end(), word) == q.words.end()) q.words.push_back(word);
      }
    }
    q.keys = static_cast<uint8_t>(1 + (v >> 3) % 7);
    for (size_t r = 0; r < numbers.size(); ++r) {
      if ((v >> (6 + r)) % 3 != 0) q.rooms.push_back(numbers[r]);
    }
    q.by_rank = (v >> 10) % 2;
    q.limit = 1 + (v >> 11) % 4;
    if ((v >> 13) % 2) q.examined_max = 1 + (v >> 14) % 4;
    const uint32_t hide = (v >> 16) % 3 == 0 ? 3 : 0;
    auto visible = [hide](Sequence s) { return hide == 0 || s % hide != 0; };
    bool cut = false;
    std::vector<Hit> got = Paged(engine, q, visible, &cut);
    std::vector<Hit> want = BruteSearch(engine, q, visible);
    if (!cut) {
      RC_ASSERT(Keys(got) == Keys(want));
      for (size_t k = 0; k < got.size(); ++k) RC_ASSERT(got[k].rank == want[k].rank);
    } else {
      auto g = Keys(got), w = Keys(want);
      std::sort(g.begin(), g.end());
      std::sort(w.begin(), w.end());
      RC_ASSERT(g == w);
    }
  }
}

void IndexProperty() {
  const auto steps = *rc::gen::scale(
      0.6, rc::gen::container<std::vector<uint32_t>>(rc::gen::arbitrary<uint32_t>()));
  const uint32_t salt = *rc::gen::arbitrary<uint32_t>();
  nebu::testing::TempDir dir(nebu::testing::TempDir::kTmpfs);
  std::unique_ptr<core::Engine> engine = OpenEngine(dir.path());
  RC_ASSERT(engine != nullptr);
  for (size_t i = 0; i < kUsers; ++i) {
    auto payload = accounts::EncodeAccountCommand(
        accounts::RegisterCommand{.user_id = UserId(i), .created_ts = 1});
    RC_ASSERT(payload.ok());
    RC_ASSERT(engine->Submit(core::Command{core::CommandKind::kAccount, *payload}).ok());
  }
  History h;
  ApplyStep(*engine, 0, h);  // one room up front, so most histories have messages
  for (size_t i = 1; i < kUsers; ++i) ApplyStep(*engine, static_cast<uint32_t>(1 | (i << 3)), h);
  for (uint32_t step : steps) ApplyStep(*engine, step, h);
  CheckQueries(*engine, h, salt);

  if (salt % 3 != 0) return;  // the rebuild in a third of the runs (two store opens)
  const auto postings = FamilyDump(engine->store(), Cf::kSearch);
  engine.reset();
  {
    auto store = storage::Store::Open({.path = dir.path() + "/db"});
    RC_ASSERT(store.ok());
    rocksdb::WriteBatch batch;
    batch.Delete((*store)->handle(Cf::kMeta), storage::kMetaIndexVersion);
    batch.Put((*store)->handle(Cf::kSearch), "left over by a crashed build", "");
    RC_ASSERT((*store)->Write(batch, true).ok());
  }
  engine = OpenEngine(dir.path());
  RC_ASSERT(engine != nullptr);
  RC_ASSERT(FamilyDump(engine->store(), Cf::kSearch) == postings);
}

constexpr int kPropertyRuns = 30;

TEST(SearchIndexProperty, IndexAnswersEqualABruteForceScanAndARebuild) {
  rc::detail::TestParams params = rc::detail::configuration().testParams;
  if (std::getenv("RC_PARAMS") == nullptr) params.maxSuccess = kPropertyRuns;
  std::cout << "rapidcheck seed=" << params.seed << " max_success=" << params.maxSuccess << "\n";
  const rc::detail::TestMetadata metadata{"SearchIndexProperty", "search index answers"};
  const rc::detail::TestResult result = rc::detail::checkTestable(&IndexProperty, metadata, params);
  if (!result.template is<rc::detail::SuccessResult>()) {
    std::ostringstream message;
    rc::detail::printResultMessage(result, message);
    FAIL() << message.str();
  }
}

TEST(SearchIndex, CursorTextRoundTripsAndRejectsGarbage) {
  EXPECT_EQ(EncodeCursor(Cursor{42, std::nullopt}), "42");
  EXPECT_EQ(EncodeCursor(Cursor{42, std::pair(3u, 17ull)}), "42.3.17");
  auto c = ParseCursor("42.3.17");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->below, 42u);
  EXPECT_EQ(c->after, std::pair(3u, uint64_t{17}));
  for (const char* bad : {"", "x", "1.2", "1.2.3.4", "-1", "1..2", "1.99999999999.2", "1 "}) {
    EXPECT_FALSE(ParseCursor(bad).has_value()) << bad;
  }
}

TEST(SearchIndex, WordsOfIndexesOnlyTheSpecKeysOfTheirEventTypes) {
  auto words = [](const char* json_text) {
    std::vector<std::string> out;
    for (const EventWord& w : WordsOf(json::parse(json_text).as_object())) out.push_back(w.word);
    return out;
  };
  using W = std::vector<std::string>;
  EXPECT_EQ(words(R"({"type":"m.room.message","content":{"body":"Hi hi you"}})"), (W{"hi", "you"}));
  EXPECT_EQ(words(R"({"type":"m.room.name","state_key":"","content":{"name":"Lobby"}})"), W{"lobby"});
  EXPECT_EQ(words(R"({"type":"m.room.topic","state_key":"","content":{"topic":"T"}})"), W{"t"});
  EXPECT_EQ(words(R"({"type":"m.room.topic","state_key":"x","content":{"topic":"T"}})"), W{});
  EXPECT_EQ(words(R"({"type":"m.room.message","state_key":"","content":{"body":"b"}})"), W{});
  EXPECT_EQ(words(R"({"type":"m.room.encrypted","content":{"body":"secret"}})"), W{});
  EXPECT_EQ(words(R"({"type":"m.room.message","content":{"body":7}})"), W{});
  // At most kSearchEventWordsMax distinct words; counts saturate at 255.
  std::string many;
  for (size_t i = 0; i < kSearchEventWordsMax + 50; ++i) many += "w" + std::to_string(i) + " ";
  for (int i = 0; i < 300; ++i) many += "w0 ";
  json::object pdu{{"type", "m.room.message"}, {"content", {{"body", many}}}};
  auto all = WordsOf(pdu);
  ASSERT_EQ(all.size(), kSearchEventWordsMax);
  EXPECT_EQ(all[0].count, 255);
}

}  // namespace
}  // namespace nebu::search
