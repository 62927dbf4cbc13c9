#include "api/rooms/aggregations.h"

#include <boost/json.hpp>

#include "engine/core/relations.h"
#include "engine/core/room_reads.h"
#include "engine/core/threads.h"
#include "engine/event/canonical_json.h"
#include "engine/storage/keys.h"
#include "engine/storage/room_log.h"

namespace nebu::api {

namespace json = boost::json;
using storage::Cf;
using storage::Sequence;

namespace {

constexpr std::string_view kReplaceRelType = "m.replace";

struct ThreadFound {
  size_t count = 0;
  std::optional<Sequence> latest;
};

struct Candidate {
  int64_t ts = 0;
  std::string event_id;
  storage::EventRecord record;
};

// Whether `record` is a valid replacement of `original` (spec "Validity of replacement
// events"; the same room and the m.replace relationship hold by the index).
bool ValidReplacement(const AggregatedEvent& original, const storage::EventRecord& record) {
  if (record.sender != original.sender || record.type != original.type || record.state_key) {
    return false;
  }
  auto parsed = event::ParseJson(record.json, {.canonical_numbers = false});
  if (!parsed.ok() || !parsed->is_object()) return false;
  const json::value* content = parsed->as_object().if_contains("content");
  if (!content || !content->is_object()) return false;
  const json::value* new_content = content->as_object().if_contains("m.new_content");
  return new_content && new_content->is_object();
}

class Aggregator {
 public:
  Aggregator(const storage::ReadView& store, const AggregatedEvent& event, const Viewer& viewer)
      : store_(store), log_(store), event_(event), viewer_(viewer) {}

  Status Scan() {
    const std::string prefix = storage::RelationPrefix(event_.room, event_.event_id);
    auto it = store_.NewIterator(Cf::kRelations);
    it->SeekForPrev(storage::PrefixSuccessor(prefix));
    size_t read = 0;
    for (; it->Valid() && it->key().starts_with(prefix) && read < kAggregationEntriesMax;
         it->Prev(), ++read) {
      auto entry = storage::DecodeRelation(it->key().ToStringView(), prefix.size(),
                                           it->value().ToStringView());
      if (!entry) return Status::Corruption("bad relations index entry");
      NEBU_RETURN_IF_ERROR(Offer(*entry));
    }
    return storage::FromRocks(it->status());
  }

  const ThreadFound& thread() const { return thread_; }
  const std::optional<Candidate>& replacement() const { return replacement_; }

 private:
  bool WantsThread(std::string_view rel_type) const {
    return rel_type == core::kThreadRelType && viewer_.aggregate_threads && !event_.state;
  }
  bool WantsReplace(std::string_view rel_type) const {
    return rel_type == kReplaceRelType && !event_.redacted && !event_.state &&
           !event_.is_replacement && replace_reads_ < kAggregationReplaceReadsMax;
  }

  // Whether the child counts at all: not redacted and visible to the viewer.
  Result<bool> Counts(const storage::DecodedRelation& e) const {
    if (!viewer_.history->Visible(e.child, e.type, std::nullopt)) return false;
    NEBU_ASSIGN_OR_RETURN(auto redacted, core::RedactedBy(store_, e.event_id));
    return !redacted.has_value();
  }

  Status Offer(const storage::DecodedRelation& e) {
    const bool thread = WantsThread(e.rel_type);
    const bool replace = WantsReplace(e.rel_type);
    if (!thread && !replace) return Status::Ok();
    NEBU_ASSIGN_OR_RETURN(bool counts, Counts(e));
    if (!counts) return Status::Ok();
    if (thread) {
      ++thread_.count;
      if (!thread_.latest) thread_.latest = e.child;
      return Status::Ok();
    }
    ++replace_reads_;
    NEBU_ASSIGN_OR_RETURN(storage::EventRecord record, log_.Read(event_.room, e.child));
    if (!ValidReplacement(event_, record)) return Status::Ok();
    const int64_t ts = record.origin_server_ts;
    if (replacement_ && (ts < replacement_->ts ||
                         (ts == replacement_->ts && record.event_id <= replacement_->event_id))) {
      return Status::Ok();
    }
    std::string id = record.event_id;
    replacement_ = Candidate{ts, std::move(id), std::move(record)};
    return Status::Ok();
  }

  const storage::ReadView& store_;
  storage::RoomLog log_;
  const AggregatedEvent& event_;
  const Viewer& viewer_;
  ThreadFound thread_;
  std::optional<Candidate> replacement_;
  size_t replace_reads_ = 0;
};

}  // namespace

Result<std::optional<json::object>> Aggregate(const storage::ReadView& store,
                                              const AggregatedEvent& event, const Viewer& viewer,
                                              int64_t now_ms) {
  if (viewer.history == nullptr || event.state) return std::optional<json::object>();
  Aggregator aggregator(store, event, viewer);
  NEBU_RETURN_IF_ERROR(aggregator.Scan());
  json::object relations;
  if (const ThreadFound& thread = aggregator.thread(); thread.latest) {
    storage::RoomLog log(store);
    NEBU_ASSIGN_OR_RETURN(storage::EventRecord latest, log.Read(event.room, *thread.latest));
    Viewer nested = viewer;
    nested.aggregate_threads = false;  // a reply is never a thread root: no loops
    NEBU_ASSIGN_OR_RETURN(json::object served, ToClientEvent(latest, now_ms, &store, &nested));
    bool participated = event.sender == viewer.user_id;
    if (!participated) {
      NEBU_ASSIGN_OR_RETURN(participated, core::RepliedInThread(store, event.room, viewer.user_id,
                                                                event.event_id));
    }
    relations["m.thread"] = json::object{{"latest_event", std::move(served)},
                                         {"count", thread.count},
                                         {"current_user_participated", participated}};
  }
  if (const auto& replacement = aggregator.replacement()) {
    Viewer plain{viewer.user_id, viewer.device_id};  // the edit itself: no aggregation
    NEBU_ASSIGN_OR_RETURN(json::object served,
                          ToClientEvent(replacement->record, now_ms, &store, &plain));
    relations["m.replace"] = std::move(served);
  }
  if (relations.empty()) return std::optional<json::object>();
  return std::optional<json::object>(std::move(relations));
}

}  // namespace nebu::api
