#include "engine/e2ee/e2ee.h"

namespace nebu::e2ee {

Result<std::string> ApplyE2eeCommand(storage::Store&, rocksdb::WriteBatch&, std::string_view,
                                     storage::StreamAppender&) {
  return Status::InvalidArgument("e2ee commands are not implemented yet");
}

Result<std::vector<ToDeviceMessage>> ToDeviceMessages(storage::Store&, std::string_view,
                                                      std::string_view, storage::StreamPosition,
                                                      storage::StreamPosition, size_t) {
  return std::vector<ToDeviceMessage>{};
}
Result<bool> HasToDeviceUpTo(storage::Store&, std::string_view, std::string_view,
                             storage::StreamPosition) {
  return false;
}
std::string EncodeDeleteToDevice(std::string_view, std::string_view, storage::StreamPosition) {
  return "{}";
}
Result<std::map<std::string, uint64_t>> OneTimeKeyCounts(storage::Store&, std::string_view,
                                                         std::string_view) {
  return std::map<std::string, uint64_t>{};
}
Result<std::vector<std::string>> UnusedFallbackKeyTypes(storage::Store&, std::string_view,
                                                        std::string_view) {
  return std::vector<std::string>{};
}

}  // namespace nebu::e2ee
