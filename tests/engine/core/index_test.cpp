// Goal: the relations and user directory indexes (core/relations.h,
// accounts/user_directory.h) answer exactly what a scan of the applied state answers,
// after any history, and a store written without them gets them at open.
// Method: a real Engine on tmpfs. A seeded rapidcheck property applies a random
// history (registrations, display name changes with and without the member-event
// fan-out, deactivations, public and private rooms, joins, messages, relations of
// every rel_type and type, redactions) and compares ReadRelations (every page, both
// directions, filters, recursion, a visibility predicate) and SearchUserDirectory
// with brute-force answers computed from the room logs, Cf::kRedactions, profiles and
// memberships, the way the routes answered before the indexes; then it drops the
// index version, reopens and requires the rebuilt families to hold the same bytes
// (in a third of the runs: opening stores dominates the property's time).
// It prints its rapidcheck seed; replay with RC_PARAMS="seed=N max_success=30".
// Plain tests: the word split, relations past the old 10,000-event scan bound, the
// upgrade of a store without the indexes (its duration is printed;
// NEBU_INDEX_BUILD_EVENTS=<n> sets the number of plain events, 20,000 by default).
#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <condition_variable>
#include <mutex>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "engine/accounts/commands.h"
#include "engine/accounts/user_directory.h"
#include "engine/core/engine.h"
#include "engine/core/index_build.h"
#include "engine/core/relations.h"
#include "engine/core/state_digest.h"
#include "engine/core/user_search.h"
#include "engine/event/canonical_json.h"
#include "engine/rooms/room_creation.h"
#include "engine/storage/keys.h"
#include "engine/storage/room_log.h"
#include "engine/testing/temp_dir.h"

namespace nebu::core {
namespace {

namespace json = boost::json;
using storage::Cf;
using storage::Sequence;

constexpr size_t kIndexUsers = 6;
constexpr int kDepthMax = 3;

std::unique_ptr<Engine> OpenIndexEngine(const std::string& dir) {
  auto opened = Engine::Open({.data_dir = dir, .server_name = "localhost"});
  if (!opened.ok()) ADD_FAILURE() << opened.status().ToString();
  return opened.ok() ? std::move(*opened) : nullptr;
}

std::string UserId(size_t i) { return "@u" + std::to_string(i) + ":localhost"; }

ApplyOutcome SubmitAccount(Engine& engine, const accounts::AccountCommand& command) {
  auto payload = accounts::EncodeAccountCommand(command);
  if (!payload.ok()) return payload.status();
  return engine.Submit(Command{CommandKind::kAccount, std::move(*payload)});
}

Result<AppendedEvent> Send(Engine& engine, const std::string& room, const std::string& sender,
                           const std::string& type, json::object content,
                           std::optional<std::string> state_key = std::nullopt,
                           std::optional<std::string> redacts = std::nullopt) {
  SendEventRequest r;
  r.room_id = room;
  r.sender = sender;
  r.type = type;
  r.state_key = std::move(state_key);
  r.content = std::move(content);
  r.redacts = std::move(redacts);
  return engine.SendEvent(std::move(r));
}

json::object RelationContent(const std::string& parent, const std::string& rel_type) {
  json::object relates{{"event_id", parent}};
  if (!rel_type.empty()) relates["rel_type"] = rel_type;
  return json::object{{"m.relates_to", relates}, {"body", "x"}};
}

// ---- brute force: what the routes computed by scanning, before the indexes ----

std::optional<std::pair<std::string, std::string>> ParseRelatesTo(std::string_view pdu) {
  json::value v = json::parse(pdu);
  const json::value* content = v.as_object().if_contains("content");
  const json::value* rel = content ? content->as_object().if_contains("m.relates_to") : nullptr;
  if (!rel || !rel->is_object()) return std::nullopt;
  const json::value* id = rel->as_object().if_contains("event_id");
  const json::value* type = rel->as_object().if_contains("rel_type");
  if (!id || !id->is_string()) return std::nullopt;
  return std::pair(std::string(id->as_string()),
                   type && type->is_string() ? std::string(type->as_string()) : "");
}

bool Redacted(storage::Store& store, std::string_view event_id) {
  auto by = store.Get(Cf::kRedactions, event_id);
  return by.ok() && by->has_value();
}

// Every child (descendant with depth_max > 1) in [first, last], ascending.
std::vector<Sequence> BruteRelations(storage::Store& store, const RelationsRequest& r,
                                     const std::function<bool(Sequence)>& visible) {
  storage::RoomLog log(store);
  std::vector<storage::EventRecord> events;
  for (Sequence s = r.first; s <= r.last; ++s) events.push_back(*log.Read(r.room, s));
  std::map<std::string, int> depth{{r.parent, 0}};
  for (const auto& e : events) {
    auto rel = ParseRelatesTo(e.json);
    if (!rel || Redacted(store, e.event_id)) continue;
    auto it = depth.find(rel->first);
    if (it != depth.end() && it->second < r.depth_max) depth.emplace(e.event_id, it->second + 1);
  }
  std::vector<Sequence> out;
  for (const auto& e : events) {
    auto rel = ParseRelatesTo(e.json);
    if (!rel) continue;
    const bool related = r.depth_max > 1 ? depth.contains(e.event_id) : rel->first == r.parent;
    if (!related || (r.rel_type && rel->second != *r.rel_type) ||
        (r.event_type && e.type != *r.event_type) || !visible(e.sequence) ||
        Redacted(store, e.event_id)) {
      continue;
    }
    out.push_back(e.sequence);
  }
  return out;
}

// Every page of ReadRelations from one edge to the other, as the API's tokens move.
std::vector<Sequence> PagedRelations(storage::Store& store, RelationsRequest r,
                                     const std::function<bool(Sequence)>& visible) {
  std::vector<Sequence> out;
  r.start = r.backwards ? r.last : r.first;
  r.stop = r.backwards ? r.first : r.last;
  for (int guard = 0; guard < 1000; ++guard) {
    auto page = ReadRelations(store, r, [&](const storage::EventRecord& e) {
      return visible(e.sequence);
    });
    RC_ASSERT(page.ok());
    RC_ASSERT(page->events.size() <= r.limit);
    for (const auto& e : page->events) out.push_back(e.sequence);
    if (!page->last) return out;
    r.start = r.backwards ? *page->last - 1 : *page->last + 1;
    if (r.backwards ? r.start < r.stop : r.start > r.stop) return out;
  }
  RC_FAIL("pagination did not end");
  return out;
}

std::vector<std::string> Words(std::string_view text) {
  std::vector<std::string> out;
  std::string word;
  for (char c : std::string(text) + " ") {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      word.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    } else if (!word.empty()) {
      out.push_back(word);
      word.clear();
    }
  }
  return out;
}

// The users `searcher` finds with `term`: active, every word of the term a prefix of
// a word of their ID or display name, joined to a room the searcher is joined to or
// to a public one.
std::vector<std::string> BruteSearch(Engine& engine, const std::set<std::string>& active,
                                     const std::string& searcher, const std::string& term) {
  std::set<std::string> mine;
  auto searcher_rooms = engine.RoomsOf(searcher);
  for (const auto& [room, m] : *searcher_rooms) {
    if (m == rooms::Membership::kJoin) mine.insert(room);
  }
  std::vector<std::string> out;
  for (const std::string& user : active) {
    std::vector<std::string> tokens = Words(user);
    auto profile = accounts::GetProfile(engine.store(), user);
    if (profile.ok() && profile->displayname) {
      for (auto& w : Words(*profile->displayname)) tokens.push_back(w);
    }
    bool match = true;
    for (const std::string& w : Words(term)) {
      match = match && std::any_of(tokens.begin(), tokens.end(),
                                   [&](const std::string& t) { return t.starts_with(w); });
    }
    if (!match) continue;
    bool findable = false;
    auto user_rooms = engine.RoomsOf(user);
    for (const auto& [room, m] : *user_rooms) {
      if (m != rooms::Membership::kJoin) continue;
      auto state = engine.CurrentState(room);
      const json::object* rules = state->Get(rooms::kJoinRulesType, "");
      const bool open = rules && rules->at("content").as_object().contains("join_rule") &&
                        rules->at("content").at("join_rule") == "public";
      findable = findable || mine.contains(room) || open;
    }
    if (findable) out.push_back(user);
  }
  return out;
}

std::vector<std::string> FamilyDump(storage::Store& store, Cf cf) {
  std::vector<std::string> out;
  auto it = store.NewIterator(cf);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    out.push_back(it->key().ToString() + "=" + it->value().ToString());
  }
  return out;
}

// ---- the property ----

struct History {
  std::vector<std::string> rooms;
  std::map<std::string, std::vector<std::string>> events;  // room -> event IDs
  std::set<std::string> active;                            // registered, not deactivated
};

void ApplyStep(Engine& engine, uint32_t step, History& h) {
  const uint32_t kind = step % 10;
  const std::string user = UserId((step >> 4) % kIndexUsers);
  const uint32_t arg = step >> 8;
  static const char* kNames[] = {"Ann Lee", "ann-marie", "Bob", "Zed Bo", "Lee"};
  auto room = [&]() -> std::string { return h.rooms.empty() ? "" : h.rooms[arg % h.rooms.size()]; };
  auto record = [&](const std::string& room_id, const Result<AppendedEvent>& sent) {
    if (sent.ok()) h.events[room_id].push_back(sent->event_id);
  };
  if (kind == 0) {
    accounts::RegisterCommand c{.user_id = user, .created_ts = 1};
    if (arg % 2) c.displayname = kNames[arg % 5];
    if (SubmitAccount(engine, c).ok()) h.active.insert(user);
  } else if (kind == 1) {
    accounts::SetDisplayNameCommand c{.user_id = user};
    if (arg % 4) c.displayname = kNames[arg % 5];
    if (arg % 3 == 0) c.member_events_ts = 2;
    (void)SubmitAccount(engine, c);
  } else if (kind == 2 && arg % 4 == 0) {
    if (SubmitAccount(engine, accounts::DeactivateCommand{user, arg % 8 == 0}).ok()) {
      h.active.erase(user);
    }
  } else if (kind == 3) {
    rooms::CreateRoomRequest request;
    request.preset = arg % 2 ? "public_chat" : "private_chat";
    auto created = engine.CreateRoom(request, user);
    if (created.ok()) h.rooms.push_back(created->room_id);
  } else if (kind == 4 && !room().empty()) {
    record(room(), Send(engine, room(), user, "m.room.member", {{"membership", "join"}}, user));
  } else if ((kind == 5 || kind == 2) && !room().empty()) {
    record(room(), Send(engine, room(), user, "m.room.message", {{"body", "hi"}}));
  } else if ((kind >= 6 && kind <= 8) && !room().empty()) {
    const auto& events = h.events[room()];
    static const char* kRelTypes[] = {"m.annotation", "m.thread", "m.replace", ""};
    std::string parent = events.empty() || arg % 7 == 0 ? "$unknown" : events[arg % events.size()];
    const std::string type = arg % 3 ? "m.reaction" : "m.room.message";
    record(room(), Send(engine, room(), user, type, RelationContent(parent, kRelTypes[arg % 4])));
  } else if (kind == 9 && !room().empty() && !h.events[room()].empty()) {
    const auto& events = h.events[room()];
    record(room(), Send(engine, room(), user, "m.room.redaction", json::object{}, std::nullopt,
                        events[arg % events.size()]));
  }
}

void CheckRelations(Engine& engine, const History& h, uint32_t salt) {
  storage::Store& store = engine.store();
  for (const auto& [room_id, events] : h.events) {
    auto meta = engine.GetRoom(room_id);
    RC_ASSERT(meta.ok());
    for (size_t i = 0; i < events.size(); i += 1 + events.size() / 4) {
      auto parent = engine.GetEvent(events[i]);
      RC_ASSERT(parent.ok());
      for (uint32_t variant = 0; variant < 5; ++variant) {
        const uint32_t v = variant + salt;
        RelationsRequest r{.room = meta->number,
                           .parent = events[i],
                           .first = parent->sequence + 1,
                           .last = meta->last_seq - (v % 5 == 0 ? 1 : 0),
                           .backwards = v % 2 == 0,
                           .depth_max = v % 3 == 0 ? kDepthMax : 1,
                           .limit = 1 + v % 4};
        if (v % 5 == 1) r.rel_type = "m.annotation";
        if (v % 7 == 2) r.event_type = "m.reaction";
        const uint32_t hide = v % 4 == 3 ? 3 : 0;  // hide every third seq
        auto visible = [hide](Sequence s) { return hide == 0 || s % hide != 0; };
        if (r.first > r.last) continue;
        std::vector<Sequence> want = BruteRelations(store, r, visible);
        if (r.backwards) std::reverse(want.begin(), want.end());
        RC_ASSERT(PagedRelations(store, r, visible) == want);
      }
    }
  }
}

void CheckDirectory(Engine& engine, const History& h, uint32_t salt) {
  static const char* kTerms[] = {"", "ann", "AN", "lee", "u1", "localhost", "ann lee",
                                 "b", "zed bo", "nobody", "@u2:", "mar"};
  for (size_t s = 0; s < kIndexUsers; ++s) {
    const std::string searcher = UserId(s);
    for (size_t t = 0; t < 4; ++t) {
      const std::string term = kTerms[(salt + s * 5 + t * 3) % std::size(kTerms)];
      auto found = SearchUserDirectory(engine.store(), searcher, term, 100);
      RC_ASSERT(found.ok());
      std::vector<std::string> got;
      for (const auto& hit : found->results) got.push_back(hit.user_id);
      RC_ASSERT(got == BruteSearch(engine, h.active, searcher, term));
      RC_ASSERT(!found->limited);
    }
  }
}

void IndexProperty() {
  // At most ~50 steps: each is a synchronous command, and every run opens three stores.
  const auto steps = *rc::gen::scale(
      0.5, rc::gen::container<std::vector<uint32_t>>(rc::gen::arbitrary<uint32_t>()));
  const uint32_t salt = *rc::gen::arbitrary<uint32_t>();
  testing::TempDir dir(testing::TempDir::kTmpfs);
  std::unique_ptr<Engine> engine = OpenIndexEngine(dir.path());
  RC_ASSERT(engine != nullptr);
  History h;
  // Every user registered up front half of the time, so most histories have rooms.
  if (salt % 2) {
    for (size_t i = 0; i < kIndexUsers; ++i) ApplyStep(*engine, static_cast<uint32_t>(i << 4), h);
    ApplyStep(*engine, 3 | (1 << 8), h);
  }
  for (uint32_t step : steps) ApplyStep(*engine, step, h);
  CheckRelations(*engine, h, salt);
  CheckDirectory(*engine, h, salt);

  // The same entries when built from the log and the accounts (an upgraded store);
  // in a third of the runs (two more store opens each).
  if (salt % 3 != 0) return;
  const auto relations = FamilyDump(engine->store(), Cf::kRelations);
  const auto directory = FamilyDump(engine->store(), Cf::kUserDirectory);
  const auto threads = FamilyDump(engine->store(), Cf::kThreads);
  engine.reset();
  {
    auto store = storage::Store::Open({.path = dir.path() + "/db"});
    RC_ASSERT(store.ok());
    rocksdb::WriteBatch batch;
    batch.Delete((*store)->handle(Cf::kMeta), storage::kMetaIndexVersion);
    batch.Put((*store)->handle(Cf::kRelations), "left over by a crashed build", "");
    batch.Put((*store)->handle(Cf::kThreads), "left over by a crashed build", "");
    RC_ASSERT((*store)->Write(batch, true).ok());
  }
  engine = OpenIndexEngine(dir.path());
  RC_ASSERT(engine != nullptr);
  RC_ASSERT(FamilyDump(engine->store(), Cf::kRelations) == relations);
  RC_ASSERT(FamilyDump(engine->store(), Cf::kUserDirectory) == directory);
  RC_ASSERT(FamilyDump(engine->store(), Cf::kThreads) == threads);
}

// The property above, with kPropertyRuns runs unless RC_PARAMS is set (each run
// opens two to four RocksDBs, which dominates its time). A failure prints the
// rapidcheck seed; replay it with RC_PARAMS="seed=<n> max_success=30".
constexpr int kPropertyRuns = 30;

TEST(IndexProperty, IndexAnswersEqualABruteForceScanAndARebuild) {
  rc::detail::TestParams params = rc::detail::configuration().testParams;
  if (std::getenv("RC_PARAMS") == nullptr) params.maxSuccess = kPropertyRuns;
  std::cout << "rapidcheck seed=" << params.seed << " max_success=" << params.maxSuccess << "\n";
  const rc::detail::TestMetadata metadata{"IndexProperty/IndexAnswers", "index answers"};
  const rc::detail::TestResult result = rc::detail::checkTestable(&IndexProperty, metadata, params);
  if (!result.template is<rc::detail::SuccessResult>()) {
    std::ostringstream message;
    rc::detail::printResultMessage(result, message);
    FAIL() << message.str();
  }
}

// ---- plain tests ----

TEST(UserDirectoryWords, SplitOnNonAlphanumericsLowerCaseAsciiAndCutLongWords) {
  EXPECT_EQ(accounts::DirectoryWords("@Ann-Lee:Example.org"),
            (std::vector<std::string>{"ann", "lee", "example", "org"}));
  EXPECT_EQ(accounts::DirectoryWords("  Zoë_x  "), (std::vector<std::string>{"zoë", "x"}));
  EXPECT_TRUE(accounts::DirectoryWords("@:._ ").empty());
  const std::string long_word(100, 'a');
  EXPECT_EQ(accounts::DirectoryWords(long_word).at(0).size(), accounts::kUserDirectoryTokenBytesMax);
  // A cut never splits a UTF-8 character ("é" is two bytes).
  std::string accented(accounts::kUserDirectoryTokenBytesMax - 1, 'a');
  accented += "éé";
  EXPECT_EQ(accounts::DirectoryWords(accented).at(0).size(),
            accounts::kUserDirectoryTokenBytesMax - 1);
  EXPECT_EQ(accounts::DirectoryTokens("@bob:hs", std::string("Bob Builder")),
            (std::vector<std::string>{"bob", "builder", "hs"}));
}

class IndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    engine_ = OpenIndexEngine(dir_.path());
    ASSERT_NE(engine_, nullptr);
    ASSERT_TRUE(SubmitAccount(*engine_, accounts::RegisterCommand{.user_id = "@a:localhost"}).ok());
    rooms::CreateRoomRequest request;
    request.preset = "public_chat";
    auto created = engine_->CreateRoom(request, "@a:localhost");
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    room_ = created->room_id;
  }

  // Sends `n` events of `type` without waiting for each (they share commit groups).
  void SendMany(size_t n, const std::string& type = "m.room.message",
                const json::object& content = json::object{{"body", "filler"}}) {
    std::mutex mu;
    std::condition_variable cv;
    size_t done = 0;
    for (size_t i = 0; i < n; ++i) {
      SendEventRequest r{.room_id = room_, .sender = "@a:localhost", .type = type,
                         .content = content, .origin_server_ts = 1};
      engine_->SubmitAsync(*MakeSendEventCommand(r), [&](ApplyOutcome outcome) {
        EXPECT_TRUE(outcome.ok());
        std::lock_guard lock(mu);
        ++done;
        cv.notify_all();
      });
    }
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(120), [&] { return done == n; }));
  }

  testing::TempDir dir_{testing::TempDir::kTmpfs};
  std::unique_ptr<Engine> engine_;
  std::string room_;
};

TEST_F(IndexTest, RelationsFarBeyondTheOldScanBoundAreFound) {
  auto parent = Send(*engine_, room_, "@a:localhost", "m.room.message", {{"body", "parent"}});
  ASSERT_TRUE(parent.ok());
  constexpr size_t kFiller = 12'000;  // the routes scanned at most 10,000 events
  ASSERT_NO_FATAL_FAILURE(SendMany(kFiller));
  auto child = Send(*engine_, room_, "@a:localhost", "m.reaction",
                    RelationContent(parent->event_id, "m.annotation"));
  ASSERT_TRUE(child.ok());
  auto meta = engine_->GetRoom(room_);
  ASSERT_TRUE(meta.ok());
  for (bool backwards : {true, false}) {
    RelationsRequest r{.room = meta->number, .parent = parent->event_id,
                       .first = parent->sequence + 1, .last = meta->last_seq,
                       .start = backwards ? meta->last_seq : parent->sequence + 1,
                       .stop = backwards ? parent->sequence + 1 : meta->last_seq,
                       .backwards = backwards, .depth_max = backwards ? 1 : kDepthMax,
                       .limit = 10};
    auto page = ReadRelations(engine_->store(), r, [](const auto&) { return true; });
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    ASSERT_EQ(page->events.size(), 1u);
    EXPECT_EQ(page->events[0].event_id, child->event_id);
    EXPECT_FALSE(page->last.has_value());
  }
}

TEST_F(IndexTest, APageEndsWithATokenAfterThePageEntryBoundAndTheNextOneGoesOn) {
  auto parent = Send(*engine_, room_, "@a:localhost", "m.room.message", {{"body", "parent"}});
  ASSERT_TRUE(parent.ok());
  auto thread = Send(*engine_, room_, "@a:localhost", "m.room.message",
                     RelationContent(parent->event_id, "m.thread"));
  ASSERT_TRUE(thread.ok());
  // More reactions than one page examines, all filtered out by rel_type below.
  ASSERT_NO_FATAL_FAILURE(SendMany(kRelationsPageEntriesMax + 5, "m.reaction",
                                   RelationContent(parent->event_id, "m.annotation")));
  auto meta = engine_->GetRoom(room_);
  ASSERT_TRUE(meta.ok());
  RelationsRequest r{.room = meta->number, .parent = parent->event_id,
                     .first = parent->sequence + 1, .last = meta->last_seq,
                     .start = meta->last_seq, .stop = parent->sequence + 1, .backwards = true,
                     .rel_type = "m.thread", .limit = 10};
  auto all = [](const auto&) { return true; };
  auto first = ReadRelations(engine_->store(), r, all);
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(first->events.empty());
  ASSERT_TRUE(first->last.has_value());  // not the end: a token to go on from
  r.start = *first->last - 1;
  auto second = ReadRelations(engine_->store(), r, all);
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(second->events.size(), 1u);
  EXPECT_EQ(second->events[0].event_id, thread->event_id);
  EXPECT_FALSE(second->last.has_value());
}

TEST_F(IndexTest, ASearchWithMoreCandidatesThanItReadsIsLimited) {
  for (size_t i = 0; i <= kUserSearchCandidatesMax; ++i) {
    ASSERT_TRUE(SubmitAccount(*engine_, accounts::RegisterCommand{
                                            .user_id = "@many" + std::to_string(i) + ":localhost"})
                    .ok());
  }
  auto found = SearchUserDirectory(engine_->store(), "@a:localhost", "many", 10);
  ASSERT_TRUE(found.ok());
  EXPECT_TRUE(found->results.empty());  // in no room: nobody may find them
  EXPECT_TRUE(found->limited);          // but the index held more than one search reads
  auto few = SearchUserDirectory(engine_->store(), "@a:localhost", "many1000", 10);
  ASSERT_TRUE(few.ok());
  EXPECT_FALSE(few->limited);
}

TEST_F(IndexTest, AStoreWithoutTheIndexesGetsThemAtOpenOnce) {
  ASSERT_TRUE(SubmitAccount(*engine_, accounts::RegisterCommand{.user_id = "@zoe:localhost",
                                                                .displayname = "Zoe Quinn"})
                  .ok());
  ASSERT_TRUE(Send(*engine_, room_, "@zoe:localhost", "m.room.member", {{"membership", "join"}},
                   "@zoe:localhost")
                  .ok());
  auto parent = Send(*engine_, room_, "@a:localhost", "m.room.message", {{"body", "p"}});
  ASSERT_TRUE(parent.ok());
  constexpr size_t kRelated = 2'000;
  // NEBU_INDEX_BUILD_EVENTS=<n> measures the build over a bigger log.
  const char* plain_env = std::getenv("NEBU_INDEX_BUILD_EVENTS");
  const size_t kPlain = plain_env ? std::strtoull(plain_env, nullptr, 10) : 20'000;
  ASSERT_NO_FATAL_FAILURE(SendMany(kPlain));
  for (size_t i = 0; i < kRelated; ++i) {
    // Every tenth one a thread reply, so that the thread index is rebuilt too.
    const bool reply = i % 10 == 0;
    ASSERT_TRUE(Send(*engine_, room_, "@a:localhost", reply ? "m.room.message" : "m.reaction",
                     RelationContent(parent->event_id, reply ? "m.thread" : "m.annotation"))
                    .ok());
  }
  auto digest = StateDigest(engine_->store());
  ASSERT_TRUE(digest.ok());
  engine_.reset();
  {  // what the previous version left: no index families' entries, no index version
    auto store = storage::Store::Open({.path = dir_.path() + "/db"});
    ASSERT_TRUE(store.ok());
    for (Cf cf : {Cf::kRelations, Cf::kThreads, Cf::kUserDirectory}) {
      ASSERT_TRUE((*store)->db()->DropColumnFamily((*store)->handle(cf)).ok());
    }
    rocksdb::WriteBatch batch;
    batch.Delete((*store)->handle(Cf::kMeta), storage::kMetaIndexVersion);
    ASSERT_TRUE((*store)->Write(batch, true).ok());
  }
  {  // the build alone, timed
    auto store = storage::Store::Open({.path = dir_.path() + "/db"});
    ASSERT_TRUE(store.ok());
    auto built = BuildIndexes(**store);
    ASSERT_TRUE(built.ok()) << built.status().ToString();
    EXPECT_TRUE(built->built);
    EXPECT_EQ(built->relations, kRelated);
    EXPECT_EQ(built->users, 2u);
    std::cout << "index build: " << built->events << " events (" << built->relations
              << " relations), " << built->users << " users in " << built->seconds * 1000
              << " ms\n";
    auto again = BuildIndexes(**store);
    ASSERT_TRUE(again.ok());
    EXPECT_FALSE(again->built);  // once
  }
  engine_ = OpenIndexEngine(dir_.path());
  ASSERT_NE(engine_, nullptr);
  EXPECT_EQ(*StateDigest(engine_->store()), *digest) << "the rebuilt indexes differ";
  auto found = SearchUserDirectory(engine_->store(), "@a:localhost", "quinn", 10);
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->results.size(), 1u);
  EXPECT_EQ(found->results[0].user_id, "@zoe:localhost");
}

TEST_F(IndexTest, DirectoryFollowsRegistrationNameChangesAndDeactivation) {
  auto search = [&](const std::string& term) {
    std::vector<std::string> out;
    auto found = SearchUserDirectory(engine_->store(), "@a:localhost", term, 10);
    EXPECT_TRUE(found.ok());
    for (const auto& hit : found->results) out.push_back(hit.user_id);
    return out;
  };
  ASSERT_TRUE(SubmitAccount(*engine_, accounts::RegisterCommand{.user_id = "@kim:localhost",
                                                                .displayname = "Kim Park"})
                  .ok());
  EXPECT_TRUE(search("kim").empty());  // in no room yet: nobody may find her
  ASSERT_TRUE(Send(*engine_, room_, "@kim:localhost", "m.room.member", {{"membership", "join"}},
                   "@kim:localhost")
                  .ok());
  EXPECT_EQ(search("PA"), std::vector<std::string>{"@kim:localhost"});
  EXPECT_EQ(search("kim pa"), std::vector<std::string>{"@kim:localhost"});
  EXPECT_TRUE(search("kim zz").empty());
  ASSERT_TRUE(SubmitAccount(*engine_, accounts::SetDisplayNameCommand{
                                          .user_id = "@kim:localhost",
                                          .displayname = "Rowan",
                                          .member_events_ts = 5})
                  .ok());
  EXPECT_TRUE(search("park").empty());
  EXPECT_EQ(search("row"), std::vector<std::string>{"@kim:localhost"});
  ASSERT_TRUE(SubmitAccount(*engine_, accounts::DeactivateCommand{"@kim:localhost", false}).ok());
  EXPECT_TRUE(search("row").empty());
  EXPECT_TRUE(search("kim").empty());
  auto tokens = accounts::DirectoryTokensOf(engine_->store(), "@kim:localhost");
  ASSERT_TRUE(tokens.ok());
  EXPECT_TRUE(tokens->empty());
}

}  // namespace
}  // namespace nebu::core
