// User directory search (POST /user_directory/search) over the index of
// accounts/user_directory.h.
//
// The users whose tokens match the term (accounts::FindDirectoryCandidates: every
// word of the term a prefix of one of their tokens; a term without words matches
// every user), at most kUserSearchCandidatesMax of them, in user ID order, each kept
// only when the searcher may find them: they are joined to a room the searcher is
// joined to, or to a room whose current m.room.join_rules is "public" (anyone could
// join it and see them). At most `limit` results; `limited` when more matched, the
// candidates were cut at kUserSearchCandidatesMax, or the visibility checks read
// kUserSearchMembershipsMax membership records (the search then ends there).
//
//   NEBU_ASSIGN_OR_RETURN(UserSearchResult r, SearchUserDirectory(store, "@a:hs", "bo", 10));
//
// Thread-safety: reads applied state; safe from any thread.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/status.h"
#include "engine/storage/read_view.h"
#include "engine/storage/store.h"

namespace nebu::core {

// Distinct users one search reads from the index.
inline constexpr size_t kUserSearchCandidatesMax = 1'000;
// Membership records (a candidate's rooms) one search reads to decide visibility.
inline constexpr size_t kUserSearchMembershipsMax = 20'000;

struct UserSearchHit {
  std::string user_id;
  std::optional<std::string> displayname;
  std::optional<std::string> avatar_url;
};

struct UserSearchResult {
  std::vector<UserSearchHit> results;  // sorted by user ID
  bool limited = false;
};

Result<UserSearchResult> SearchUserDirectory(const storage::ReadView& store, std::string_view searcher,
                                             std::string_view term, size_t limit);

}  // namespace nebu::core
