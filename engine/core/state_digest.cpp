#include "engine/core/state_digest.h"

#include <openssl/evp.h>

#include <memory>

#include "engine/common/crypto.h"

namespace nebu::core {

using storage::Cf;

namespace {

constexpr size_t kFamilyCount = static_cast<size_t>(Cf::kCount);
constexpr size_t kDiffValueBytesMax = 64;  // bytes of a value shown in a DiffStates line

// Incremental SHA-256 (OpenSSL EVP): a dump can be larger than memory.
class Sha256Stream {
 public:
  Sha256Stream() : ctx_(EVP_MD_CTX_new()) {
    NEBU_CHECK(ctx_ && EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) == 1,
               "SHA-256 init failed");
  }
  void Update(std::string_view bytes) {
    NEBU_CHECK(EVP_DigestUpdate(ctx_.get(), bytes.data(), bytes.size()) == 1,
               "SHA-256 update failed");
  }
  std::string FinalHex() {
    Sha256Digest digest{};
    unsigned int n = 0;
    NEBU_CHECK(EVP_DigestFinal_ex(ctx_.get(), digest.data(), &n) == 1 && n == digest.size(),
               "SHA-256 final failed");
    return HexEncode(digest);
  }

 private:
  struct Free {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  };
  std::unique_ptr<EVP_MD_CTX, Free> ctx_;
};

// [u8 cf][u32 key length][key][u32 value length][value]
std::string EntryBytes(Cf cf, std::string_view key, std::string_view value) {
  std::string out;
  out.reserve(1 + 4 + key.size() + 4 + value.size());
  out.push_back(static_cast<char>(cf));
  storage::PutU32(&out, static_cast<uint32_t>(key.size()));
  out.append(key);
  storage::PutU32(&out, static_cast<uint32_t>(value.size()));
  out.append(value);
  return out;
}

// One RocksDB snapshot, released on destruction.
class PinnedSnapshot {
 public:
  explicit PinnedSnapshot(storage::Store& store)
      : db_(store.db()), snapshot_(db_->GetSnapshot()) {}
  ~PinnedSnapshot() { db_->ReleaseSnapshot(snapshot_); }
  PinnedSnapshot(const PinnedSnapshot&) = delete;
  PinnedSnapshot& operator=(const PinnedSnapshot&) = delete;
  rocksdb::ReadOptions Options() const {
    rocksdb::ReadOptions o;
    o.snapshot = snapshot_;
    o.total_order_seek = true;
    o.fill_cache = false;  // a full scan must not evict the working set
    return o;
  }

 private:
  rocksdb::DB* db_;
  const rocksdb::Snapshot* snapshot_;
};

std::string Shown(std::string_view bytes) {
  std::string hex = HexEncode(bytes.substr(0, kDiffValueBytesMax));
  if (bytes.size() > kDiffValueBytesMax) hex += "...";
  return hex;
}

// Appends the differences of one family to *out (at most lines_max lines in all);
// *lines counts every difference seen.
Status DiffFamily(storage::Store& a, storage::Store& b, const PinnedSnapshot& sa,
                  const PinnedSnapshot& sb, Cf cf, size_t lines_max, size_t* lines,
                  std::string* out) {
  auto ia = a.NewIterator(cf, sa.Options());
  auto ib = b.NewIterator(cf, sb.Options());
  ia->SeekToFirst();
  ib->SeekToFirst();
  const std::string name(storage::CfName(cf));
  auto line = [&](std::string text) {
    if (*lines < lines_max) *out += text + "\n";
    ++*lines;
  };
  while (ia->Valid() || ib->Valid()) {
    const int order = !ia->Valid()   ? 1
                      : !ib->Valid() ? -1
                                     : ia->key().compare(ib->key());
    if (order < 0) {
      line(name + " only in a: " + Shown(ia->key().ToStringView()) + " = " +
           Shown(ia->value().ToStringView()));
      ia->Next();
    } else if (order > 0) {
      line(name + " only in b: " + Shown(ib->key().ToStringView()) + " = " +
           Shown(ib->value().ToStringView()));
      ib->Next();
    } else {
      if (ia->value() != ib->value()) {
        line(name + " differs: " + Shown(ia->key().ToStringView()) + ": " +
             Shown(ia->value().ToStringView()) + " != " + Shown(ib->value().ToStringView()));
      }
      ia->Next();
      ib->Next();
    }
  }
  NEBU_RETURN_IF_ERROR(storage::FromRocks(ia->status()));
  return storage::FromRocks(ib->status());
}

}  // namespace

bool IsDumpedFamily(Cf cf) { return cf != Cf::kCommitLog && cf != Cf::kCount; }

Status DumpState(storage::Store& store, const StateVisitor& visit) {
  PinnedSnapshot snapshot(store);
  for (size_t i = 0; i < kFamilyCount; ++i) {
    const Cf cf = static_cast<Cf>(i);
    if (!IsDumpedFamily(cf)) continue;
    auto it = store.NewIterator(cf, snapshot.Options());
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      visit(cf, it->key().ToStringView(), it->value().ToStringView());
    }
    NEBU_RETURN_IF_ERROR(storage::FromRocks(it->status()));
  }
  return Status::Ok();
}

Result<StateDigests> DigestState(storage::Store& store) {
  Sha256Stream overall;
  std::array<std::unique_ptr<Sha256Stream>, kFamilyCount> families;
  StateDigests out;
  for (size_t i = 0; i < kFamilyCount; ++i) {
    if (IsDumpedFamily(static_cast<Cf>(i))) families[i] = std::make_unique<Sha256Stream>();
  }
  NEBU_RETURN_IF_ERROR(DumpState(store, [&](Cf cf, std::string_view key, std::string_view value) {
    const std::string bytes = EntryBytes(cf, key, value);
    overall.Update(bytes);
    families[static_cast<size_t>(cf)]->Update(bytes);
    ++out.entries[static_cast<size_t>(cf)];
  }));
  out.overall = overall.FinalHex();
  for (size_t i = 0; i < kFamilyCount; ++i) {
    if (families[i]) out.per_family[i] = families[i]->FinalHex();
  }
  return out;
}

Result<std::string> StateDigest(storage::Store& store) {
  NEBU_ASSIGN_OR_RETURN(StateDigests digests, DigestState(store));
  return std::move(digests.overall);
}

Result<std::map<storage::RoomNumber, std::string>> RoomLogDigests(storage::Store& store) {
  PinnedSnapshot snapshot(store);
  std::map<storage::RoomNumber, std::string> out;
  std::unique_ptr<Sha256Stream> current;
  storage::RoomNumber current_room = 0;
  auto finish = [&] {
    if (current) out[current_room] = current->FinalHex();
  };
  auto it = store.NewIterator(Cf::kEvents, snapshot.Options());
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto decoded = storage::DecodeEventKey(it->key().ToStringView());
    if (!decoded) return Status::Corruption("bad event key in the room log");
    if (!current || decoded->first != current_room) {
      finish();
      current = std::make_unique<Sha256Stream>();
      current_room = decoded->first;
    }
    current->Update(EntryBytes(Cf::kEvents, it->key().ToStringView(), it->value().ToStringView()));
  }
  NEBU_RETURN_IF_ERROR(storage::FromRocks(it->status()));
  finish();
  return out;
}

Result<std::string> DiffStates(storage::Store& a, storage::Store& b, size_t lines_max) {
  PinnedSnapshot sa(a);
  PinnedSnapshot sb(b);
  std::string out;
  size_t lines = 0;
  for (size_t i = 0; i < kFamilyCount; ++i) {
    const Cf cf = static_cast<Cf>(i);
    if (!IsDumpedFamily(cf)) continue;
    NEBU_RETURN_IF_ERROR(DiffFamily(a, b, sa, sb, cf, lines_max, &lines, &out));
  }
  if (lines > lines_max) out += "... (more differences)\n";
  return out;
}

}  // namespace nebu::core
