#include "engine/core/user_search.h"

#include <boost/json.hpp>
#include <map>
#include <set>

#include "engine/accounts/accounts.h"
#include "engine/accounts/user_directory.h"
#include "engine/event/canonical_json.h"
#include "engine/rooms/room_state.h"
#include "engine/storage/keys.h"
#include "engine/storage/room_log.h"

namespace nebu::core {

using storage::Cf;
using storage::RoomNumber;

namespace {

// Decides who the searcher may find, reading at most kUserSearchMembershipsMax
// membership records; the join rule of each room is read once.
class Visibility {
 public:
  explicit Visibility(const storage::ReadView& store) : store_(store), log_(store) {}

  Status LoadSearcher(std::string_view searcher) {
    return ForEachJoinedRoom(searcher, [&](RoomNumber room) -> Result<bool> {
      mine_.insert(room);
      return true;
    });
  }

  // nullopt when the membership budget ran out before an answer.
  Result<std::optional<bool>> Findable(std::string_view user_id) {
    bool found = false;
    NEBU_RETURN_IF_ERROR(ForEachJoinedRoom(user_id, [&](RoomNumber room) -> Result<bool> {
      if (mine_.contains(room)) {
        found = true;
      } else {
        NEBU_ASSIGN_OR_RETURN(found, JoinRuleIsPublic(room));
      }
      return !found;
    }));
    if (!found && exhausted_) return std::optional<bool>();
    return std::optional<bool>(found);
  }

  bool exhausted() const { return exhausted_; }

 private:
  // Visits the rooms the user is joined to until visit returns false or the
  // membership budget runs out (exhausted_).
  Status ForEachJoinedRoom(std::string_view user_id,
                           const std::function<Result<bool>(RoomNumber)>& visit) {
    const std::string prefix = storage::UserRoomsPrefix(user_id);
    auto it = store_.NewIterator(Cf::kMembership);
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      if (read_ == kUserSearchMembershipsMax) {
        exhausted_ = true;
        break;
      }
      ++read_;
      const std::string_view key = it->key().ToStringView();
      if (key.size() != prefix.size() + 8 || it->value().empty()) {
        return Status::Corruption("bad membership record");
      }
      if (static_cast<rooms::Membership>(it->value()[0]) != rooms::Membership::kJoin) continue;
      NEBU_ASSIGN_OR_RETURN(bool more, visit(storage::GetU64(key.data() + prefix.size())));
      if (!more) break;
    }
    return storage::FromRocks(it->status());
  }

  Result<bool> JoinRuleIsPublic(RoomNumber room) {
    if (auto it = public_.find(room); it != public_.end()) return it->second;
    bool open = false;
    NEBU_ASSIGN_OR_RETURN(auto seq, store_.Get(Cf::kStateCurrent,
                                               storage::StateKey(room, rooms::kJoinRulesType, "")));
    if (seq) {
      if (seq->size() != 8) return Status::Corruption("bad current-state record");
      NEBU_ASSIGN_OR_RETURN(storage::EventRecord record, log_.Read(room, storage::GetU64(seq->data())));
      NEBU_ASSIGN_OR_RETURN(boost::json::value event,
                            event::ParseJson(record.json, {.canonical_numbers = false}));
      const boost::json::value* content =
          event.is_object() ? event.as_object().if_contains("content") : nullptr;
      const boost::json::value* rule =
          content && content->is_object() ? content->as_object().if_contains("join_rule") : nullptr;
      open = rule && rule->is_string() && rule->as_string() == "public";
    }
    public_.emplace(room, open);
    return open;
  }

  const storage::ReadView& store_;
  storage::RoomLog log_;
  std::set<RoomNumber> mine_;
  std::map<RoomNumber, bool> public_;
  size_t read_ = 0;
  bool exhausted_ = false;
};

}  // namespace

Result<UserSearchResult> SearchUserDirectory(const storage::ReadView& store, std::string_view searcher,
                                             std::string_view term, size_t limit) {
  UserSearchResult out;
  NEBU_ASSIGN_OR_RETURN(accounts::DirectoryCandidates candidates,
                        accounts::FindDirectoryCandidates(store, term, kUserSearchCandidatesMax));
  out.limited = candidates.truncated;
  Visibility visibility(store);
  NEBU_RETURN_IF_ERROR(visibility.LoadSearcher(searcher));
  for (const std::string& user_id : candidates.user_ids) {
    NEBU_ASSIGN_OR_RETURN(std::optional<bool> findable, visibility.Findable(user_id));
    if (!findable) {
      out.limited = true;  // the budget ran out: more may match
      break;
    }
    if (!*findable) continue;
    if (out.results.size() == limit) {
      out.limited = true;
      break;
    }
    Result<accounts::Profile> profile = accounts::GetProfile(store, user_id);
    if (!profile.ok() && profile.status().code() != StatusCode::kNotFound) return profile.status();
    UserSearchHit hit{user_id, std::nullopt, std::nullopt};
    if (profile.ok()) {
      hit.displayname = profile->displayname;
      hit.avatar_url = profile->avatar_url;
    }
    out.results.push_back(std::move(hit));
  }
  return out;
}

}  // namespace nebu::core
