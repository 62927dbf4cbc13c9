#include "engine/core/stream_reader.h"

#include <limits>
#include <string>

namespace nebu::core {

using storage::Cf;
using storage::StreamPosition;

Status ScanStream(const storage::ReadView& view, StreamPosition after,
                  std::optional<StreamPosition> upto, const StreamVisitor& visit) {
  if (upto && *upto <= after) return Status::Ok();
  rocksdb::ReadOptions options;
  std::string upper;
  rocksdb::Slice upper_slice;
  if (upto && *upto < std::numeric_limits<StreamPosition>::max()) {
    upper = storage::U64Key(*upto + 1);
    upper_slice = rocksdb::Slice(upper);
    options.iterate_upper_bound = &upper_slice;
  }
  auto it = view.NewIterator(Cf::kStream, options);
  for (it->Seek(storage::U64Key(after + 1)); it->Valid(); it->Next()) {
    const rocksdb::Slice key = it->key();
    if (key.size() != sizeof(uint64_t)) return Status::Corruption("bad stream key");
    const StreamPosition position = storage::GetU64(key.data());
    if (upto && position > *upto) break;
    auto entry = storage::DecodeStreamEntry(it->value().ToStringView());
    if (!entry) return Status::Corruption("bad stream entry at " + std::to_string(position));
    if (!visit(position, *entry)) return Status::Ok();
  }
  return storage::FromRocks(it->status());
}

Result<StreamPosition> StreamHead(const storage::ReadView& view) {
  auto it = view.NewIterator(Cf::kStream);
  it->SeekToLast();
  NEBU_RETURN_IF_ERROR(storage::FromRocks(it->status()));
  if (!it->Valid()) return StreamPosition{0};
  if (it->key().size() != sizeof(uint64_t)) return Status::Corruption("bad stream key");
  return storage::GetU64(it->key().data());
}

}  // namespace nebu::core
