// The user directory index: search tokens of every active local user.
//
// A user's tokens are the words of their user ID and of their display name, split
// on every byte that is neither an ASCII letter or digit nor part of a non-ASCII
// UTF-8 character (so "@Ann-Lee:example.org" gives ann, lee, example, org), ASCII
// lower-cased, each cut to kUserDirectoryTokenBytesMax bytes (at a character
// boundary), at most kUserDirectoryTokensPerUserMax distinct ones (user ID words
// first, then display name words, in order of appearance). Non-ASCII letters are
// compared as they are (no Unicode case folding).
//
// Cf::kUserDirectory (storage/keys.h): 't' token 0x00 user -> "" for every token, and
// 'u' user -> the user's sorted token list. The accounts applier keeps it in the
// command's batch: registration adds a user, a display name change (also the profile
// fan-out command) replaces their tokens, deactivation removes them. The entries are
// a function of (user ID, display name, active), so every node writes the same bytes
// and core/index_build.h can build them from the accounts of an older store.
//
// A search term is split into words the same way; a user matches when every word is
// a prefix of one of their tokens. An empty word list (a term without letters or
// digits) matches every indexed user.
//
// Thread-safety: pure functions over a Store; safe from any thread.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/status.h"
#include "engine/storage/read_view.h"
#include "engine/storage/store.h"

namespace nebu::accounts {

inline constexpr size_t kUserDirectoryTokenBytesMax = 64;
inline constexpr size_t kUserDirectoryTokensPerUserMax = 32;

// The words of `text` (see above), in order of appearance, duplicates kept.
std::vector<std::string> DirectoryWords(std::string_view text);
// The user's tokens: sorted, distinct, at most kUserDirectoryTokensPerUserMax.
std::vector<std::string> DirectoryTokens(std::string_view user_id,
                                         const std::optional<std::string>& displayname);

// Adds to batch the entries that make the index hold `user_id` with these tokens
// (listed) or not at all (!listed), replacing what it held. Reads the user's 'u'
// entry from the store: nothing of this user may be staged in batch before.
Status StageDirectoryUser(storage::Store& store, rocksdb::WriteBatch& batch,
                          std::string_view user_id,
                          const std::optional<std::string>& displayname, bool listed);

// The tokens the index holds for a user (empty when not listed). kCorruption for a
// malformed entry.
Result<std::vector<std::string>> DirectoryTokensOf(const storage::ReadView& store,
                                                   std::string_view user_id);

// True when every word is a prefix of one of `tokens`.
bool MatchesAllWords(const std::vector<std::string>& tokens,
                     const std::vector<std::string>& words);

// Visits every account in user ID order with its display name and whether it is
// active (not deactivated), for building the index (core/index_build.h); stops at
// the first error visit returns. kCorruption for a malformed record.
using AccountVisitor = std::function<Status(
    std::string_view user_id, const std::optional<std::string>& displayname, bool active)>;
Status ForEachAccount(const storage::ReadView& store, const AccountVisitor& visit);

struct DirectoryCandidates {
  std::vector<std::string> user_ids;  // sorted, distinct
  bool truncated = false;             // more users may match than were read
};
// The users matching `term`: those with a token starting with the term's longest
// word, each then checked against every word (at most `candidates_max` distinct users
// are read), or with no words every listed user in user ID order (at most
// `candidates_max`). `truncated` when the index held more to read.
Result<DirectoryCandidates> FindDirectoryCandidates(const storage::ReadView& store, std::string_view term,
                                                    size_t candidates_max);

}  // namespace nebu::accounts
