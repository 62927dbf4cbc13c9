#include "engine/accounts/user_directory.h"

#include <algorithm>
#include <set>

#include "engine/accounts/internal/records.h"
#include "engine/storage/keys.h"

namespace nebu::accounts {

using storage::Cf;

namespace {

bool IsWordByte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

bool IsContinuationByte(unsigned char c) { return (c & 0xC0) == 0x80; }

// Cuts a word to kUserDirectoryTokenBytesMax bytes without splitting a character.
void CutWord(std::string& word) {
  if (word.size() <= kUserDirectoryTokenBytesMax) return;
  size_t n = kUserDirectoryTokenBytesMax;
  while (n > 0 && IsContinuationByte(static_cast<unsigned char>(word[n]))) --n;
  word.resize(n);
}

std::string EncodeTokens(const std::vector<std::string>& tokens) {
  std::string out;
  out.push_back(static_cast<char>(tokens.size() >> 8));
  out.push_back(static_cast<char>(tokens.size()));
  for (const std::string& t : tokens) storage::PutLengthPrefixed(&out, t);
  return out;
}

Result<std::vector<std::string>> DecodeTokens(std::string_view bytes) {
  if (bytes.size() < 2) return Status::Corruption("bad user directory entry");
  const size_t n = (size_t{static_cast<uint8_t>(bytes[0])} << 8) | static_cast<uint8_t>(bytes[1]);
  bytes.remove_prefix(2);
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) {
    auto token = storage::GetLengthPrefixed(&bytes);
    if (!token) return Status::Corruption("bad user directory entry");
    out.emplace_back(*token);
  }
  if (!bytes.empty()) return Status::Corruption("bad user directory entry");
  return out;
}

// Reads at most candidates_max users whose 't' key starts with `word` into *out.
Status UsersWithTokenPrefix(const storage::ReadView& store, std::string_view word,
                            const std::vector<std::string>& words, size_t candidates_max,
                            DirectoryCandidates* out) {
  std::set<std::string, std::less<>> users;
  std::set<std::string, std::less<>> checked;
  const std::string prefix = storage::UserDirectoryTokenPrefix(word);
  auto it = store.NewIterator(Cf::kUserDirectory);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    auto decoded = storage::DecodeUserDirectoryTokenKey(it->key().ToStringView());
    if (!decoded) return Status::Corruption("bad user directory key");
    if (checked.contains(decoded->second)) continue;
    if (checked.size() == candidates_max) {
      out->truncated = true;
      break;
    }
    checked.emplace(decoded->second);
    NEBU_ASSIGN_OR_RETURN(auto tokens, DirectoryTokensOf(store, decoded->second));
    if (MatchesAllWords(tokens, words)) users.emplace(decoded->second);
  }
  NEBU_RETURN_IF_ERROR(storage::FromRocks(it->status()));
  out->user_ids.assign(users.begin(), users.end());
  return Status::Ok();
}

// Every listed user in user ID order, at most candidates_max.
Status AllUsers(const storage::ReadView& store, size_t candidates_max, DirectoryCandidates* out) {
  const std::string prefix(1, storage::kUserDirectoryUserTag);
  auto it = store.NewIterator(Cf::kUserDirectory);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    if (out->user_ids.size() == candidates_max) {
      out->truncated = true;
      break;
    }
    out->user_ids.emplace_back(it->key().ToStringView().substr(prefix.size()));
  }
  return storage::FromRocks(it->status());
}

}  // namespace

std::vector<std::string> DirectoryWords(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  auto finish = [&] {
    if (word.empty()) return;
    CutWord(word);
    words.push_back(std::move(word));
    word.clear();
  };
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (!IsWordByte(c)) {
      finish();
      continue;
    }
    word.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : ch);
  }
  finish();
  return words;
}

std::vector<std::string> DirectoryTokens(std::string_view user_id,
                                         const std::optional<std::string>& displayname) {
  std::vector<std::string> all = DirectoryWords(user_id);
  if (displayname) {
    std::vector<std::string> more = DirectoryWords(*displayname);
    all.insert(all.end(), more.begin(), more.end());
  }
  std::vector<std::string> tokens;
  std::set<std::string> seen;
  for (std::string& t : all) {
    if (tokens.size() == kUserDirectoryTokensPerUserMax) break;
    if (seen.insert(t).second) tokens.push_back(std::move(t));
  }
  std::sort(tokens.begin(), tokens.end());
  return tokens;
}

Result<std::vector<std::string>> DirectoryTokensOf(const storage::ReadView& store,
                                                   std::string_view user_id) {
  NEBU_ASSIGN_OR_RETURN(auto bytes,
                        store.Get(Cf::kUserDirectory, storage::UserDirectoryUserKey(user_id)));
  if (!bytes) return std::vector<std::string>();
  return DecodeTokens(*bytes);
}

Status StageDirectoryUser(storage::Store& store, rocksdb::WriteBatch& batch,
                          std::string_view user_id,
                          const std::optional<std::string>& displayname, bool listed) {
  NEBU_ASSIGN_OR_RETURN(std::vector<std::string> old, DirectoryTokensOf(store, user_id));
  rocksdb::ColumnFamilyHandle* cf = store.handle(Cf::kUserDirectory);
  const std::vector<std::string> tokens =
      listed ? DirectoryTokens(user_id, displayname) : std::vector<std::string>();
  for (const std::string& t : old) {
    if (!std::binary_search(tokens.begin(), tokens.end(), t)) {
      NEBU_RETURN_IF_ERROR(
          storage::FromRocks(batch.Delete(cf, storage::UserDirectoryTokenKey(t, user_id))));
    }
  }
  if (!listed) {
    return storage::FromRocks(batch.Delete(cf, storage::UserDirectoryUserKey(user_id)));
  }
  for (const std::string& t : tokens) {
    NEBU_RETURN_IF_ERROR(
        storage::FromRocks(batch.Put(cf, storage::UserDirectoryTokenKey(t, user_id), "")));
  }
  return storage::FromRocks(
      batch.Put(cf, storage::UserDirectoryUserKey(user_id), EncodeTokens(tokens)));
}

bool MatchesAllWords(const std::vector<std::string>& tokens,
                     const std::vector<std::string>& words) {
  return std::all_of(words.begin(), words.end(), [&](const std::string& w) {
    return std::any_of(tokens.begin(), tokens.end(),
                       [&](const std::string& t) { return t.starts_with(w); });
  });
}

Status ForEachAccount(const storage::ReadView& store, const AccountVisitor& visit) {
  const std::string prefix = internal::UserKey("");
  auto it = store.NewIterator(Cf::kUsers);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    const std::string_view user_id = it->key().ToStringView().substr(prefix.size());
    NEBU_ASSIGN_OR_RETURN(internal::UserRecord user,
                          internal::DecodeUserRecord(it->value().ToStringView()));
    std::optional<std::string> displayname;
    NEBU_ASSIGN_OR_RETURN(auto profile, store.Get(Cf::kUsers, internal::ProfileKey(user_id)));
    if (profile) {
      NEBU_ASSIGN_OR_RETURN(internal::ProfileRecord record,
                            internal::DecodeProfileRecord(*profile));
      displayname = std::move(record.displayname);
    }
    NEBU_RETURN_IF_ERROR(visit(user_id, displayname, !user.deactivated));
  }
  return storage::FromRocks(it->status());
}

Result<DirectoryCandidates> FindDirectoryCandidates(const storage::ReadView& store, std::string_view term,
                                                    size_t candidates_max) {
  DirectoryCandidates out;
  const std::vector<std::string> words = DirectoryWords(term);
  if (words.empty()) {
    NEBU_RETURN_IF_ERROR(AllUsers(store, candidates_max, &out));
    return out;
  }
  // The longest word has the fewest tokens starting with it (usually).
  const std::string& driver = *std::max_element(
      words.begin(), words.end(),
      [](const std::string& a, const std::string& b) { return a.size() < b.size(); });
  NEBU_RETURN_IF_ERROR(UsersWithTokenPrefix(store, driver, words, candidates_max, &out));
  return out;
}

}  // namespace nebu::accounts
