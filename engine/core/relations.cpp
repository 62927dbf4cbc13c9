#include "engine/core/relations.h"

#include <boost/json.hpp>
#include <map>

#include "engine/event/canonical_json.h"
#include "engine/storage/keys.h"
#include "engine/storage/room_log.h"

namespace nebu::core {

namespace json = boost::json;
using storage::Cf;
using storage::Sequence;

std::optional<Relation> RelationOf(const json::object& pdu) {
  const json::value* content = pdu.if_contains("content");
  const json::value* rel =
      content && content->is_object() ? content->as_object().if_contains("m.relates_to") : nullptr;
  if (!rel || !rel->is_object()) return std::nullopt;
  const json::value* id = rel->as_object().if_contains("event_id");
  if (!id || !id->is_string() || id->as_string().empty() ||
      id->as_string().size() > kRelationParentBytesMax) {
    return std::nullopt;
  }
  const json::value* type = rel->as_object().if_contains("rel_type");
  Relation out{std::string(id->as_string()), ""};
  // An event is at most 65,536 bytes, so rel_type fits a length prefix; a longer one
  // (never reached) is indexed as "" rather than aborting the encoder.
  if (type && type->is_string() && type->as_string().size() <= storage::kLengthPrefixedBytesMax) {
    out.rel_type = std::string(type->as_string());
  }
  return out;
}

std::optional<Relation> RelationOfJson(std::string_view pdu_json) {
  if (pdu_json.find("m.relates_to") == std::string_view::npos) return std::nullopt;
  auto parsed = event::ParseJson(pdu_json, {.canonical_numbers = false});
  if (!parsed.ok() || !parsed->is_object()) return std::nullopt;
  return RelationOf(parsed->as_object());
}

void StageRelation(storage::Store& store, rocksdb::WriteBatch& batch, storage::RoomNumber room,
                   Sequence seq, std::string_view type, std::string_view event_id,
                   const Relation& relation) {
  batch.Put(store.handle(Cf::kRelations), storage::RelationKey(room, relation.parent, seq),
            storage::RelationValue(relation.rel_type, type, event_id));
}

namespace {

struct Entry {
  std::string rel_type;
  std::string type;
  std::string event_id;
};

Result<bool> IsRedacted(const storage::ReadView& store, std::string_view event_id) {
  NEBU_ASSIGN_OR_RETURN(auto by, store.Get(Cf::kRedactions, event_id));
  return by.has_value();
}

// Visits the index entries of one parent with seq in [lo, hi], ascending or
// descending; stops when visit returns false. kCorruption for a malformed entry.
Status ScanChildren(const storage::ReadView& store, storage::RoomNumber room, std::string_view parent,
                    Sequence lo, Sequence hi, bool descending,
                    const std::function<Result<bool>(const storage::DecodedRelation&)>& visit) {
  if (lo > hi) return Status::Ok();
  const std::string prefix = storage::RelationPrefix(room, parent);
  auto it = store.NewIterator(Cf::kRelations);
  if (descending) {
    it->SeekForPrev(storage::RelationKey(room, parent, hi));
  } else {
    it->Seek(storage::RelationKey(room, parent, lo));
  }
  for (; it->Valid() && it->key().starts_with(prefix); descending ? it->Prev() : it->Next()) {
    auto entry = storage::DecodeRelation(it->key().ToStringView(), prefix.size(),
                                         it->value().ToStringView());
    if (!entry) return Status::Corruption("bad relations index entry");
    if (descending ? entry->child < lo : entry->child > hi) break;
    NEBU_ASSIGN_OR_RETURN(bool more, visit(*entry));
    if (!more) break;
  }
  return storage::FromRocks(it->status());
}

// The descendants of the request's parent within [first, last] up to depth_max,
// by seq; redacted events are left out and not descended into.
Result<std::map<Sequence, Entry>> Descendants(const storage::ReadView& store, const RelationsRequest& r,
                                              bool* cut) {
  std::map<Sequence, Entry> found;
  std::vector<std::string> frontier{r.parent};
  size_t reads = 0;
  for (int depth = 1; depth <= r.depth_max && !frontier.empty() && !*cut; ++depth) {
    std::vector<std::string> next;
    for (const std::string& parent : frontier) {
      NEBU_RETURN_IF_ERROR(ScanChildren(
          store, r.room, parent, r.first, r.last, false,
          [&](const storage::DecodedRelation& e) -> Result<bool> {
            if (++reads > kRelationsRecursionEntriesMax) {
              *cut = true;
              return false;
            }
            NEBU_ASSIGN_OR_RETURN(bool redacted, IsRedacted(store, e.event_id));
            if (redacted || found.contains(e.child)) return true;
            found.emplace(e.child, Entry{std::string(e.rel_type), std::string(e.type),
                                         std::string(e.event_id)});
            next.emplace_back(e.event_id);
            return true;
          }));
      if (*cut) break;
    }
    frontier = std::move(next);
  }
  return found;
}

// Fills a page from candidates offered in page order; Offer returns false once the
// page is complete (the page's `last` is then set).
class PageBuilder {
 public:
  PageBuilder(const storage::ReadView& store, const RelationsRequest& r, const RelationVisible& visible)
      : store_(store), log_(store), r_(r), visible_(visible) {}

  Result<bool> Offer(Sequence seq, std::string_view rel_type, std::string_view type,
                     std::string_view event_id, bool redaction_checked) {
    if (page_.events.size() == r_.limit || examined_ == kRelationsPageEntriesMax) {
      page_.last = last_seen_;  // another candidate exists: more may follow
      return false;
    }
    ++examined_;
    last_seen_ = seq;
    if ((r_.rel_type && rel_type != *r_.rel_type) || (r_.event_type && type != *r_.event_type)) {
      return true;
    }
    if (!redaction_checked) {
      NEBU_ASSIGN_OR_RETURN(bool redacted, IsRedacted(store_, event_id));
      if (redacted) return true;  // spec: a redacted child's relationship is broken
    }
    Result<storage::EventRecord> record = log_.Read(r_.room, seq);
    if (!record.ok()) {
      return record.status().code() == StatusCode::kNotFound
                 ? Status::Corruption("relations index names a missing event")
                 : record.status();
    }
    if (record->event_id != event_id) return Status::Corruption("relations index is stale");
    if (visible_(*record)) page_.events.push_back(std::move(record).value());
    return true;
  }

  RelationsPage Take() { return std::move(page_); }

 private:
  const storage::ReadView& store_;
  storage::RoomLog log_;
  const RelationsRequest& r_;
  const RelationVisible& visible_;
  RelationsPage page_;
  size_t examined_ = 0;
  Sequence last_seen_ = 0;
};

}  // namespace

Result<RelationsPage> ReadRelations(const storage::ReadView& store, const RelationsRequest& r,
                                    const RelationVisible& visible) {
  PageBuilder page(store, r, visible);
  const Sequence lo = std::max(r.backwards ? r.stop : r.start, r.first);
  const Sequence hi = std::min(r.backwards ? r.start : r.stop, r.last);
  if (r.limit == 0 || lo > hi) return page.Take();
  if (r.depth_max <= 1) {
    NEBU_RETURN_IF_ERROR(ScanChildren(
        store, r.room, r.parent, lo, hi, r.backwards,
        [&](const storage::DecodedRelation& e) {
          return page.Offer(e.child, e.rel_type, e.type, e.event_id, false);
        }));
    return page.Take();
  }
  bool cut = false;
  NEBU_ASSIGN_OR_RETURN(auto found, Descendants(store, r, &cut));
  auto offer = [&](const std::pair<const Sequence, Entry>& c) {
    return page.Offer(c.first, c.second.rel_type, c.second.type, c.second.event_id, true);
  };
  if (r.backwards) {
    for (auto it = std::make_reverse_iterator(found.upper_bound(hi));
         it != found.rend() && it->first >= lo; ++it) {
      NEBU_ASSIGN_OR_RETURN(bool more, offer(*it));
      if (!more) break;
    }
  } else {
    for (auto it = found.lower_bound(lo); it != found.end() && it->first <= hi; ++it) {
      NEBU_ASSIGN_OR_RETURN(bool more, offer(*it));
      if (!more) break;
    }
  }
  RelationsPage out = page.Take();
  out.recursion_cut = cut;
  return out;
}

}  // namespace nebu::core
