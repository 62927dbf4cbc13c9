#include "engine/receipts/receipts.h"

namespace nebu::receipts {

Result<std::string> ApplyReceiptCommand(storage::Store&, rocksdb::WriteBatch&, std::string_view,
                                        storage::StreamAppender&) {
  return Status::InvalidArgument("receipt commands are not implemented yet");
}

Result<std::vector<Receipt>> ReceiptsInRoom(storage::Store&, storage::RoomNumber,
                                            storage::StreamPosition, storage::StreamPosition) {
  return std::vector<Receipt>{};
}

}  // namespace nebu::receipts
