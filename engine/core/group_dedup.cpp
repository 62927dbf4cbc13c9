#include "engine/core/group_dedup.h"

#include <algorithm>

#include "engine/storage/keys.h"

namespace nebu::core {

namespace {
constexpr size_t kHeaderBytes = 8 + 8 + 4;
constexpr size_t kSeqBytes = 8;
}  // namespace

Result<GroupSeqs> GroupSeqs::Decode(std::string_view bytes) {
  if (bytes.size() < kHeaderBytes) return Status::Corruption("group dedup record too short");
  GroupSeqs out;
  out.revision_ = storage::GetU64(bytes.data());
  out.watermark_ = storage::GetU64(bytes.data() + 8);
  const uint32_t n = storage::GetU32(bytes.data() + 16);
  if (n > kGroupSeqWindow || bytes.size() != kHeaderBytes + size_t{n} * kSeqBytes) {
    return Status::Corruption("group dedup record has a bad length");
  }
  uint64_t previous = out.watermark_ + 1;
  for (uint32_t i = 0; i < n; ++i) {
    const uint64_t seq = storage::GetU64(bytes.data() + kHeaderBytes + i * kSeqBytes);
    if (seq <= previous || seq - out.watermark_ > kGroupSeqWindow) {
      return Status::Corruption("group dedup record has seqs out of order");
    }
    out.above_.push_back(seq);
    previous = seq;
  }
  return out;
}

std::string GroupSeqs::Encode() const {
  std::string out;
  out.reserve(kHeaderBytes + above_.size() * kSeqBytes);
  storage::PutU64(&out, revision_);
  storage::PutU64(&out, watermark_);
  storage::PutU32(&out, static_cast<uint32_t>(above_.size()));
  for (uint64_t seq : above_) storage::PutU64(&out, seq);
  return out;
}

bool GroupSeqs::Contains(uint64_t seq) const {
  return seq <= watermark_ || std::binary_search(above_.begin(), above_.end(), seq);
}

void GroupSeqs::Insert(uint64_t seq, uint64_t revision) {
  NEBU_CHECK(seq >= 1 && !Contains(seq), "GroupSeqs::Insert of a seq already applied");
  revision_ = revision;
  above_.insert(std::lower_bound(above_.begin(), above_.end(), seq), seq);
  // Beyond the window: the oldest missing seqs count as applied from now on.
  if (above_.back() - watermark_ > kGroupSeqWindow) watermark_ = above_.back() - kGroupSeqWindow;
  auto first_above = std::upper_bound(above_.begin(), above_.end(), watermark_);
  above_.erase(above_.begin(), first_above);
  // Close the contiguous run at the watermark.
  size_t run = 0;
  while (run < above_.size() && above_[run] == watermark_ + 1) {
    ++watermark_;
    ++run;
  }
  above_.erase(above_.begin(), above_.begin() + static_cast<std::ptrdiff_t>(run));
}

}  // namespace nebu::core
