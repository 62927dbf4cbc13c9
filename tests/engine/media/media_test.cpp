// Goal: media metadata follows the contract of engine/media/media.h: an upload makes a
// complete record and charges the user's usage, create + fill reserves an ID that only
// its user can fill once and only before it expires, the pending cap and the quota
// refuse without changing anything, quarantine and soft deletion mark records (deletion
// releases usage once), and reads by ID, by user (paged) and usage agree.
// Method: a real Engine on tmpfs, kMedia commands through commit and apply; a
// rapidcheck property drives random command sequences against an in-memory model.
#include "engine/media/media.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/core/engine.h"
#include "engine/testing/temp_dir.h"

namespace nebu::media {
namespace {

const std::string kAlice = "@alice:localhost";
const std::string kBob = "@bob:localhost";
const std::string kHash(64, 'a');

class Media {
 public:
  Media() {
    auto opened = core::Engine::Open({.data_dir = dir_.path(), .server_name = "localhost"});
    NEBU_CHECK(opened.ok(), "engine open");
    engine_ = std::move(opened).value();
  }
  core::ApplyOutcome Submit(const MediaCommand& c) {
    Result<std::string> payload = EncodeMediaCommand(c);
    if (!payload.ok()) return payload.status();
    return engine_->Submit({core::CommandKind::kMedia, *payload});
  }
  std::optional<MediaRecord> Get(const std::string& id) {
    auto got = GetMedia(engine_->Read(), id);
    NEBU_CHECK(got.ok(), "get media");
    return *got;
  }
  MediaUsage Usage(const std::string& user) {
    auto got = GetMediaUsage(engine_->Read(), user);
    NEBU_CHECK(got.ok(), "usage");
    return *got;
  }
  std::vector<std::string> Ids(const std::string& user, const std::string& after = "",
                               size_t limit = 1000) {
    std::vector<std::string> ids;
    Status s = ForEachUserMedia(engine_->Read(), user, after, limit, [&](const MediaRecord& r) {
      ids.push_back(r.media_id);
      return Status::Ok();
    });
    NEBU_CHECK(s.ok(), "for each");
    return ids;
  }

 private:
  nebu::testing::TempDir dir_{nebu::testing::TempDir::kTmpfs};
  std::unique_ptr<core::Engine> engine_;
};

MediaCommand Upload(std::string id, std::string user, uint64_t size, uint64_t quota = 0) {
  return {.op = MediaOp::kUpload, .media_id = std::move(id), .user_id = std::move(user),
          .size = size, .content_type = "image/png", .file_name = "cat.png", .sha256 = kHash,
          .ts = 1000, .quota_bytes = quota};
}
MediaCommand Create(std::string id, std::string user, int64_t ts, int64_t expires, uint64_t max) {
  return {.op = MediaOp::kCreate, .media_id = std::move(id), .user_id = std::move(user), .ts = ts,
          .expires_ts = expires, .pending_max = max};
}
MediaCommand Fill(std::string id, std::string user, int64_t ts, uint64_t size = 10) {
  MediaCommand c = Upload(std::move(id), std::move(user), size);
  c.op = MediaOp::kFill;
  c.ts = ts;
  return c;
}
StatusCode CodeOf(const core::ApplyOutcome& o) { return o.ok() ? StatusCode::kOk : o.status().code(); }

TEST(MediaTest, UploadMakesACompleteRecordAndChargesUsage) {
  Media m;
  auto out = m.Submit(Upload("abc", kAlice, 42));
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(*out, R"({"media_id":"abc"})");
  auto r = m.Get("abc");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->user_id, kAlice);
  EXPECT_EQ(r->size, 42u);
  EXPECT_EQ(r->sha256, kHash);
  EXPECT_EQ(r->file_name, "cat.png");
  EXPECT_EQ(r->created_ts, 1000);
  EXPECT_FALSE(r->pending);
  EXPECT_EQ(m.Usage(kAlice), (MediaUsage{42, 1}));
  EXPECT_EQ(CodeOf(m.Submit(Upload("abc", kBob, 1))), StatusCode::kAlreadyExists);
  EXPECT_EQ(m.Usage(kBob), (MediaUsage{}));
}

TEST(MediaTest, QuotaRefusesTheUploadThatWouldExceedItAndRecordsNothing) {
  Media m;
  ASSERT_TRUE(m.Submit(Upload("a", kAlice, 60, 100)).ok());
  ASSERT_TRUE(m.Submit(Upload("b", kAlice, 40, 100)).ok());  // exactly the quota
  EXPECT_EQ(CodeOf(m.Submit(Upload("c", kAlice, 1, 100))), StatusCode::kForbidden);
  EXPECT_FALSE(m.Get("c"));
  EXPECT_EQ(m.Usage(kAlice), (MediaUsage{100, 2}));
  // Deleting releases the bytes once.
  ASSERT_TRUE(m.Submit({.op = MediaOp::kDelete, .media_id = "a"}).ok());
  ASSERT_TRUE(m.Submit({.op = MediaOp::kDelete, .media_id = "a"}).ok());
  EXPECT_EQ(m.Usage(kAlice), (MediaUsage{40, 1}));
  EXPECT_TRUE(m.Submit(Upload("c", kAlice, 60, 100)).ok());
}

TEST(MediaTest, CreateThenFillOnceByItsUserBeforeExpiry) {
  Media m;
  ASSERT_TRUE(m.Submit(Create("p1", kAlice, 1000, 2000, 5)).ok());
  auto r = m.Get("p1");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->pending);
  EXPECT_EQ(r->expires_ts, 2000);
  EXPECT_EQ(CodeOf(m.Submit(Fill("p1", kBob, 1500))), StatusCode::kForbidden);
  EXPECT_EQ(CodeOf(m.Submit(Fill("nope", kAlice, 1500))), StatusCode::kNotFound);
  ASSERT_TRUE(m.Submit(Fill("p1", kAlice, 1500, 7)).ok());
  r = m.Get("p1");
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->pending);
  EXPECT_EQ(r->size, 7u);
  EXPECT_EQ(m.Usage(kAlice), (MediaUsage{7, 1}));
  EXPECT_EQ(CodeOf(m.Submit(Fill("p1", kAlice, 1600))), StatusCode::kAlreadyExists);
  // Expired: not found, and a later create drops it.
  ASSERT_TRUE(m.Submit(Create("p2", kAlice, 1000, 2000, 5)).ok());
  EXPECT_EQ(CodeOf(m.Submit(Fill("p2", kAlice, 2000))), StatusCode::kNotFound);
  ASSERT_TRUE(m.Submit(Create("p3", kAlice, 2500, 3000, 5)).ok());
  EXPECT_FALSE(m.Get("p2"));
  EXPECT_EQ(m.Ids(kAlice), (std::vector<std::string>{"p1", "p3"}));
}

TEST(MediaTest, PendingCapCountsOnlyUnexpiredIds) {
  Media m;
  ASSERT_TRUE(m.Submit(Create("a", kAlice, 0, 100, 2)).ok());
  ASSERT_TRUE(m.Submit(Create("b", kAlice, 0, 200, 2)).ok());
  EXPECT_EQ(CodeOf(m.Submit(Create("c", kAlice, 50, 300, 2))), StatusCode::kResourceExhausted);
  EXPECT_FALSE(m.Get("c"));
  EXPECT_TRUE(m.Submit(Create("c", kBob, 50, 300, 2)).ok());  // per user
  EXPECT_TRUE(m.Submit(Create("d", kAlice, 100, 300, 2)).ok());  // "a" expired at 100
}

TEST(MediaTest, QuarantineAndDeleteMarkRecordsAndRefusePendingOrUnknownIds) {
  Media m;
  ASSERT_TRUE(m.Submit(Upload("x", kAlice, 5)).ok());
  ASSERT_TRUE(m.Submit({.op = MediaOp::kQuarantine, .media_id = "x", .value = true}).ok());
  EXPECT_TRUE(m.Get("x")->quarantined);
  ASSERT_TRUE(m.Submit({.op = MediaOp::kQuarantine, .media_id = "x", .value = false}).ok());
  EXPECT_FALSE(m.Get("x")->quarantined);
  EXPECT_EQ(CodeOf(m.Submit({.op = MediaOp::kQuarantine, .media_id = "y", .value = true})),
            StatusCode::kNotFound);
  ASSERT_TRUE(m.Submit(Create("p", kAlice, 0, 100, 5)).ok());
  EXPECT_EQ(CodeOf(m.Submit({.op = MediaOp::kDelete, .media_id = "p"})), StatusCode::kNotFound);
  ASSERT_TRUE(m.Submit({.op = MediaOp::kDelete, .media_id = "x"}).ok());
  EXPECT_TRUE(m.Get("x")->deleted);
  EXPECT_EQ(m.Usage(kAlice), (MediaUsage{}));
}

TEST(MediaTest, ListsAUsersMediaInPages) {
  Media m;
  for (std::string id : {"c", "a", "b", "d"}) ASSERT_TRUE(m.Submit(Upload(id, kAlice, 1)).ok());
  ASSERT_TRUE(m.Submit(Upload("e", kBob, 1)).ok());
  EXPECT_EQ(m.Ids(kAlice, "", 2), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(m.Ids(kAlice, "b", 2), (std::vector<std::string>{"c", "d"}));
  EXPECT_EQ(m.Ids(kAlice, "d", 2), (std::vector<std::string>{}));
  EXPECT_EQ(m.Ids(kBob), (std::vector<std::string>{"e"}));
}

TEST(MediaTest, EncodeRefusesBadInput) {
  EXPECT_FALSE(EncodeMediaCommand(Upload("a/b", kAlice, 1)).ok());
  EXPECT_FALSE(EncodeMediaCommand(Upload("../x", kAlice, 1)).ok());
  EXPECT_FALSE(EncodeMediaCommand(Upload("", kAlice, 1)).ok());
  EXPECT_FALSE(EncodeMediaCommand(Upload("a", "alice", 1)).ok());
  MediaCommand c = Upload("a", kAlice, 1);
  c.file_name = std::string(kMediaFileNameBytesMax + 1, 'x');
  EXPECT_FALSE(EncodeMediaCommand(c).ok());
  c.file_name = "../../etc/passwd";
  EXPECT_FALSE(EncodeMediaCommand(c).ok());
  c.file_name = "ok.png";
  c.sha256 = "ABC";
  EXPECT_FALSE(EncodeMediaCommand(c).ok());
  c.sha256 = kHash;
  c.content_type = "text/plain\r\nX: y";
  EXPECT_FALSE(EncodeMediaCommand(c).ok());
  EXPECT_EQ(NewMediaId().size(), kMediaIdChars);
  EXPECT_TRUE(IsValidMediaId(NewMediaId()));
}

// The model of media.h's contract, applied to the same commands.
struct Model {
  std::map<std::string, MediaRecord> records;
  std::map<std::string, MediaUsage> usage;

  StatusCode Charge(const MediaCommand& c) {
    MediaUsage& u = usage[c.user_id];
    if (c.quota_bytes > 0 && u.bytes + c.size > c.quota_bytes) return StatusCode::kForbidden;
    return StatusCode::kOk;
  }
  StatusCode Apply(const MediaCommand& c) {
    auto it = records.find(c.media_id);
    switch (c.op) {
      case MediaOp::kUpload: {
        if (it != records.end()) return StatusCode::kAlreadyExists;
        if (Charge(c) != StatusCode::kOk) return StatusCode::kForbidden;
        records[c.media_id] = {.media_id = c.media_id, .user_id = c.user_id, .size = c.size,
                               .content_type = c.content_type, .file_name = c.file_name,
                               .sha256 = c.sha256, .created_ts = c.ts};
        usage[c.user_id] = {usage[c.user_id].bytes + c.size, usage[c.user_id].count + 1};
        return StatusCode::kOk;
      }
      case MediaOp::kCreate: {
        if (it != records.end()) return StatusCode::kAlreadyExists;
        std::vector<std::string> expired;
        uint64_t live = 0;
        for (auto& [id, r] : records) {
          if (r.user_id != c.user_id || !r.pending) continue;
          if (r.ExpiredAt(c.ts)) expired.push_back(id); else ++live;
        }
        if (live >= c.pending_max) return StatusCode::kResourceExhausted;  // changes nothing
        for (auto& id : expired) records.erase(id);
        records[c.media_id] = {.media_id = c.media_id, .user_id = c.user_id, .pending = true,
                               .expires_ts = c.expires_ts, .created_ts = c.ts};
        return StatusCode::kOk;
      }
      case MediaOp::kFill: {
        if (it == records.end() || it->second.ExpiredAt(c.ts)) return StatusCode::kNotFound;
        MediaRecord& r = it->second;
        if (r.user_id != c.user_id) return StatusCode::kForbidden;
        if (!r.pending) return StatusCode::kAlreadyExists;
        if (Charge(c) != StatusCode::kOk) return StatusCode::kForbidden;
        r.pending = false;
        r.expires_ts = 0;
        r.size = c.size;
        r.content_type = c.content_type;
        r.file_name = c.file_name;
        r.sha256 = c.sha256;
        usage[c.user_id] = {usage[c.user_id].bytes + c.size, usage[c.user_id].count + 1};
        return StatusCode::kOk;
      }
      case MediaOp::kQuarantine:
      case MediaOp::kDelete: {
        if (it == records.end() || it->second.pending) return StatusCode::kNotFound;
        MediaRecord& r = it->second;
        if (c.op == MediaOp::kQuarantine) {
          r.quarantined = c.value;
        } else if (!r.deleted) {
          r.deleted = true;
          usage[r.user_id] = {usage[r.user_id].bytes - r.size, usage[r.user_id].count - 1};
        }
        return StatusCode::kOk;
      }
    }
    return StatusCode::kInternal;
  }
};

// Users and media IDs are fresh per case (`tag`) so that the cases share one engine.
MediaCommand GenCommand(int64_t ts, const std::string& tag) {
  const auto op = *rc::gen::element(MediaOp::kUpload, MediaOp::kCreate, MediaOp::kFill,
                                    MediaOp::kQuarantine, MediaOp::kDelete);
  MediaCommand c = Upload(tag + *rc::gen::element<std::string>("a", "b", "c", "d", "e"),
                          "@" + tag + *rc::gen::element<std::string>("alice", "bob") + ":localhost", *rc::gen::inRange<uint64_t>(0, 40),
                          *rc::gen::element<uint64_t>(0, 60));
  c.op = op;
  c.ts = ts;
  c.expires_ts = ts + *rc::gen::inRange<int64_t>(0, 5);
  c.pending_max = *rc::gen::inRange<uint64_t>(0, 3);
  c.value = *rc::gen::arbitrary<bool>();
  return c;
}

RC_GTEST_PROP(MediaProperty, ApplyMatchesTheModel, ()) {
  static Media m;  // one engine for every case: opening one per case is slow
  static int cases = 0;
  const std::string tag = "t" + std::to_string(++cases);
  Model model;
  const int steps = *rc::gen::inRange(1, 40);
  for (int i = 0; i < steps; ++i) {
    const MediaCommand c = GenCommand(1000 + i, tag);
    RC_ASSERT(CodeOf(m.Submit(c)) == model.Apply(c));
  }
  for (const std::string& user : {"@" + tag + "alice:localhost", "@" + tag + "bob:localhost"}) {
    RC_ASSERT(m.Usage(user) == model.usage[user]);
    std::vector<std::string> expected;
    for (auto& [id, r] : model.records) {
      if (r.user_id == user) expected.push_back(id);
    }
    RC_ASSERT(m.Ids(user) == expected);
  }
  for (std::string id : {"a", "b", "c", "d", "e"}) {
    id = tag + id;
    auto it = model.records.find(id);
    auto got = m.Get(id);
    RC_ASSERT(got.has_value() == (it != model.records.end()));
    if (got) RC_ASSERT(*got == it->second);
  }
}

}  // namespace
}  // namespace nebu::media
