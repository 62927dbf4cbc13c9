// Heavy reads (issue 7, item 3). Goal: no filter makes the server hang, and heavy
// reads never keep /health, /versions or a send from answering.
// Method: the real nebu over HTTP. A room holds events whose types are 250 bytes of
// 'a'; "glob bombs" (`*a*a...*a*b`, which backtracked exponentially before the
// linear matcher of api/glob.h) go in /messages filters and in /sync filters (inline
// and uploaded), and each request must answer (200, or 400 over a cap) before
// kDeadline; the client's receive timeout bounds every wait. Filters over the caps
// are refused and nothing is stored. Then several bombs and heavy reads run at once
// from other threads while /health, /versions and a send must answer.
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "tests/security/nebu_process.h"

namespace nebu::security {
namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kDeadline = std::chrono::seconds(5);
constexpr size_t kLongTypeBytes = 250;
constexpr int kLongTypeEvents = 300;
constexpr size_t kPatternsMax = 64;       // kFilterPatternsMax (api/accounts/filter_routes.h)
constexpr size_t kPatternBytesMax = 255;  // kGlobPatternBytesMax (api/glob.h)

// `*a` repeated, then `*b`: never matches a type of only 'a', at most 255 bytes.
std::string GlobBomb() {
  std::string pattern;
  while (pattern.size() + 4 <= kPatternBytesMax) pattern += "*a";
  return pattern + "*b";
}

json::array Bombs(size_t count) {
  json::array list;
  for (size_t i = 0; i < count; ++i) list.emplace_back(GlobBomb());
  return list;
}

class HeavyReadsTest : public SecurityTest {
 protected:
  // alice in a room with kLongTypeEvents events of a 250-byte type (4 senders).
  void SetUpRoom() {
    Start();
    alice_ = Register("alice");
    room_ = CreateRoom(alice_);
    const std::string type(kLongTypeBytes, 'a');
    std::vector<std::thread> senders;
    std::atomic<int> failures{0};
    for (int s = 0; s < 4; ++s) {
      senders.emplace_back([&, s] {
        TestHttpClient client(nebu_.client_port());
        for (int i = s; i < kLongTypeEvents; i += 4) {
          HttpReply r = client.Call("PUT",
                                    std::string(kV3) + "/rooms/" + Encode(room_) + "/send/" +
                                        type + "/long" + std::to_string(i),
                                    R"({"body":"x"})", alice_);
          if (r.status != 200) ++failures;
        }
      });
    }
    for (std::thread& t : senders) t.join();
    ASSERT_EQ(failures.load(), 0);
  }

  // A request on a fresh connection that must answer before kDeadline.
  HttpReply Timed(const std::string& method, const std::string& path, const std::string& body = "") {
    Clock::time_point start = Clock::now();
    HttpReply r = Call(method, path, alice_, body);
    EXPECT_LT(Clock::now() - start, kDeadline) << method << " " << path.substr(0, 80);
    return r;
  }

  std::string MessagesWith(const json::object& filter) {
    return "/rooms/" + Encode(room_) + "/messages?dir=b&limit=10&filter=" +
           Encode(json::serialize(filter));
  }
  static std::string SyncWith(const std::string& filter) {
    return "/sync?timeout=0&filter=" + Encode(filter);
  }
  static json::object SyncFilter(const json::array& types) {
    return {{"room", {{"timeline", {{"types", types}, {"limit", 10}}}}}};
  }

  std::string alice_;
  std::string room_;
};

TEST_F(HeavyReadsTest, GlobBombInAMessagesFilterAnswersQuickly) {
  SetUpRoom();
  for (const char* key : {"types", "not_types"}) {
    HttpReply r = Timed("GET", MessagesWith({{key, Bombs(8)}}));
    EXPECT_EQ(r.status, 200) << key << ": " << r.body;
  }
  HttpReply r = Timed("GET", MessagesWith({{"types", Bombs(8)}}));
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(r.Json().at("chunk").as_array().empty());  // nothing matches the bombs
  ExpectAlive();
}

TEST_F(HeavyReadsTest, GlobBombInASyncFilterAnswersQuicklyInlineAndUploaded) {
  SetUpRoom();
  const std::string inline_filter = json::serialize(SyncFilter(Bombs(8)));
  HttpReply r = Timed("GET", SyncWith(inline_filter));
  EXPECT_EQ(r.status, 200) << r.body;
  HttpReply uploaded = Call("POST", "/user/" + Encode(UserId("alice")) + "/filter", alice_,
                            inline_filter);
  ASSERT_EQ(uploaded.status, 200) << uploaded.body;
  std::string id(uploaded.Json().at("filter_id").as_string());
  r = Timed("GET", SyncWith(id));
  EXPECT_EQ(r.status, 200) << r.body;
  ExpectAlive();
}

TEST_F(HeavyReadsTest, FiltersOverTheCapsAreRefusedAndNothingIsStored) {
  SetUpRoom();
  json::array too_many;  // short patterns: the list must fit in a request line
  for (size_t i = 0; i <= kPatternsMax; ++i) too_many.emplace_back("t" + std::to_string(i) + "*");
  const json::array too_long{std::string(kPatternBytesMax + 1, 'a')};
  for (const json::array& types : {too_many, too_long}) {
    HttpReply r = Timed("GET", MessagesWith({{"not_types", types}}));
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.Json().at("errcode"), "M_INVALID_PARAM");
    r = Timed("GET", SyncWith(json::serialize(SyncFilter(types))));
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.Json().at("errcode"), "M_INVALID_PARAM");
    HttpReply up = Timed("POST", "/user/" + Encode(UserId("alice")) + "/filter",
                         json::serialize(SyncFilter(types)));
    EXPECT_EQ(up.status, 400) << up.body;
    EXPECT_EQ(up.Json().at("errcode"), "M_BAD_JSON");
    EXPECT_FALSE(up.Json().as_object().contains("filter_id"));
  }
  // A push rule with an over-long glob pattern is refused and not stored.
  HttpReply rule = Call("PUT", "/pushrules/global/content/long", alice_,
                        json::object{{"pattern", std::string(kPatternBytesMax + 1, '*')},
                                     {"actions", json::array{"notify"}}});
  EXPECT_EQ(rule.status, 400);
  EXPECT_EQ(rule.Json().at("errcode"), "M_BAD_JSON");
  EXPECT_EQ(Call("GET", "/pushrules/global/content/long", alice_).status, 404);
  ExpectAlive();
}

TEST_F(HeavyReadsTest, HealthVersionsAndSendsAnswerWhileHeavyReadsRun) {
  SetUpRoom();
  constexpr int kWorkers = 6;
  constexpr int kRequestsPerWorker = 4;
  const std::vector<std::string> heavy = {
      MessagesWith({{"types", Bombs(8)}}),
      MessagesWith({{"types", json::array{"nothing.matches"}}}),  // scans the whole room
      SyncWith(json::serialize(SyncFilter(Bombs(8)))),
      "/rooms/" + Encode(room_) + "/members",
      "/publicRooms",
  };
  std::atomic<int> started{0};
  std::atomic<int> unanswered{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&, w] {
      for (int i = 0; i < kRequestsPerWorker; ++i) {
        ++started;
        HttpReply r = Call("GET", heavy[(w + i) % heavy.size()], alice_);
        if (r.status != 200) ++unanswered;
      }
    });
  }
  // Bounded wait until heavy requests are in flight (never a sleep to synchronize).
  Clock::time_point until = Clock::now() + kDeadline;
  while (started.load() < kWorkers && Clock::now() < until) std::this_thread::yield();
  for (int round = 0; round < 3; ++round) {
    Clock::time_point start = Clock::now();
    EXPECT_EQ(Ops("/health").status, 200);
    EXPECT_EQ(Call("GET", "/_matrix/client/versions").status, 200);
    EXPECT_FALSE(Send(alice_, room_, "still here " + std::to_string(round)).empty());
    EXPECT_LT(Clock::now() - start, kDeadline);
  }
  for (std::thread& t : workers) t.join();
  EXPECT_EQ(unanswered.load(), 0);
  ExpectAlive();
}

}  // namespace
}  // namespace nebu::security
