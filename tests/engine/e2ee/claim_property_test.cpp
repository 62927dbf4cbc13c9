// Goal: one-time key accounting never drifts: after any sequence of uploads (fresh,
// repeated or previously claimed key IDs), fallback uploads and claims, the counts
// /sync reports equal the keys a claim can still take, each claim returns the lowest
// key ID of its algorithm (then the fallback key, which becomes used), and no key is
// handed out twice while stored once.
// Method: rapidcheck drives random operation sequences against a real store and a
// plain model (a sorted set per algorithm); a failure prints the seed, replay with
// RC_PARAMS="seed=<n>".
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <boost/json.hpp>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "engine/e2ee/e2ee.h"
#include "tests/engine/e2ee/e2ee_testing.h"

namespace nebu::e2ee {
namespace {

namespace json = boost::json;

const std::string kUser = "@u:hs";
const std::string kDevice = "DEV";
const char* const kAlgorithms[] = {"signed_curve25519", "curve25519"};
const char* const kIds[] = {"AAAAAQ", "AAAAAg", "AAAAAw", "AAAABA", "AAAABQ", "AAAABg"};

struct Op {
  enum Kind { kUpload, kFallback, kClaim } kind;
  int algorithm;
  std::vector<int> ids;  // kUpload: several; kFallback: one
};

struct Model {
  std::map<std::string, std::set<std::string>> keys;  // algorithm -> key IDs
  struct Fallback {
    std::string id;
    bool used = false;
  };
  std::map<std::string, Fallback> fallback;
};

rc::Gen<Op> GenOp() {
  return rc::gen::apply(
      [](int kind, int algorithm, std::vector<int> ids) {
        if (ids.empty()) ids.push_back(0);
        if (kind == Op::kFallback) ids.resize(1);
        return Op{static_cast<Op::Kind>(kind), algorithm, ids};
      },
      rc::gen::inRange(0, 3), rc::gen::inRange(0, 2),
      rc::gen::container<std::vector<int>>(rc::gen::inRange(0, 6)));
}

RC_GTEST_PROP(E2eeClaimPropertyTest, CountsMatchWhatClaimsCanStillTake, ()) {
  const auto ops = *rc::gen::container<std::vector<Op>>(GenOp());
  static testing::E2eeStore db;  // opened once, wiped per case (a reopen costs ~0.3 s)
  db.Wipe();
  db.AddDevice(kUser, kDevice);
  Model model;
  for (const Op& op : ops) {
    const std::string algorithm = kAlgorithms[op.algorithm];
    if (op.kind == Op::kUpload) {
      UploadKeysCommand c{.user_id = kUser, .device_id = kDevice};
      for (int id : op.ids) {
        c.one_time_keys[algorithm + ":" + kIds[id]] = testing::SignedKey(kIds[id]);
        model.keys[algorithm].insert(kIds[id]);
      }
      RC_ASSERT(db.Apply(c).ok());
    } else if (op.kind == Op::kFallback) {
      UploadKeysCommand c{.user_id = kUser, .device_id = kDevice};
      const std::string id = kIds[op.ids[0]];
      c.fallback_keys[algorithm + ":" + id] = testing::SignedKey("fb" + id);
      auto it = model.fallback.find(algorithm);
      if (it == model.fallback.end() || it->second.id != id)
        model.fallback[algorithm] = {id, false};
      RC_ASSERT(db.Apply(c).ok());
    } else {
      auto out = db.Apply(ClaimKeysCommand{{{kUser, kDevice, algorithm}}});
      RC_ASSERT(out.ok());
      json::object claimed = json::parse(*out).at("one_time_keys").as_object();
      std::optional<std::string> expected;
      auto& set = model.keys[algorithm];
      if (!set.empty()) {
        expected = *set.begin();
        set.erase(set.begin());
      } else if (auto it = model.fallback.find(algorithm); it != model.fallback.end()) {
        expected = it->second.id;
        it->second.used = true;
      }
      if (!expected) {
        RC_ASSERT(claimed.empty());
      } else {
        const json::object& got = claimed.at(kUser).at(kDevice).as_object();
        RC_ASSERT(got.size() == 1u);
        RC_ASSERT(std::string(got.begin()->key()) == algorithm + ":" + *expected);
      }
    }
    // The reads /sync makes agree with the model after every step.
    auto counts = OneTimeKeyCounts(db.store(), kUser, kDevice);
    RC_ASSERT(counts.ok());
    std::map<std::string, uint64_t> want{{"signed_curve25519", 0}};
    for (const auto& [alg, ids] : model.keys) {
      if (!ids.empty()) want[alg] = ids.size();
    }
    RC_ASSERT(*counts == want);
    auto unused = UnusedFallbackKeyTypes(db.store(), kUser, kDevice);
    RC_ASSERT(unused.ok());
    std::vector<std::string> want_unused;
    for (const auto& [alg, fb] : model.fallback) {
      if (!fb.used) want_unused.push_back(alg);
    }
    std::sort(
        want_unused.begin(), want_unused.end(), [](const std::string& a, const std::string& b) {
          return a.size() != b.size() ? a.size() < b.size() : a < b;  // length-prefixed key order
        });
    RC_ASSERT(*unused == want_unused);
  }
  RC_CLASSIFY(ops.size() > 20, "long sequence");
}

}  // namespace
}  // namespace nebu::e2ee
