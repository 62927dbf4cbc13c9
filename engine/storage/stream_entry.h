// The node-wide change stream (Cf::kStream): every change a /sync must report gets
// the next stream position, so one number orders room events, account data,
// receipts, to-device messages and device-key changes, and survives restarts.
//
//   rocksdb::WriteBatch batch;
//   StreamPosition pos = ...;                       // the staged counter
//   StreamAppender stream(store, batch, pos);
//   stream.Append(StreamEntry::AccountData("@a:hs", "", "m.push_rules"));  // ++pos
//   ...
//   auto entry = DecodeStreamEntry(value);          // when reading the stream
//
// Value layout (docs/storage-format.md § stream):
//   room event:   [u64 room][u64 seq]                      (16 bytes, first byte 0:
//                                                           room numbers stay < 2^56)
//   other kinds:  [u8 tag][u64 room][lp user][lp a][lp b]  (tag is an ASCII letter)
// Field use per kind (unused fields are 0 / ""):
//   kAccountData 'a': user = owner, a = room ID ("" for global), b = type
//   kToDevice    'd': user = recipient, a = device ID ("*" for every device)
//   kDeviceKeys  'k': user = whose device keys or cross-signing keys changed
//                     (a = "left" when a device was deleted, else "")
//   kReceipt     'r': room, user = who sent the receipt, a = receipt type
//
// Thread-safety: the codec is pure; a StreamAppender belongs to the state machine's
// apply thread (it stages writes into one batch and bumps one counter).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "engine/storage/keys.h"

namespace rocksdb {
class WriteBatch;
}

namespace nebu::storage {

class Store;

enum class StreamKind : char {
  kRoomEvent = 0,
  kAccountData = 'a',
  kToDevice = 'd',
  kDeviceKeys = 'k',
  kReceipt = 'r',
};

struct StreamEntry {
  StreamKind kind = StreamKind::kRoomEvent;
  RoomNumber room = 0;
  Sequence sequence = 0;  // kRoomEvent only
  std::string user;
  std::string a;
  std::string b;

  static StreamEntry RoomEvent(RoomNumber room, Sequence seq);
  static StreamEntry AccountData(std::string user, std::string room_id, std::string type);
  static StreamEntry ToDevice(std::string user, std::string device_id);
  static StreamEntry DeviceKeys(std::string user, bool device_left = false);
  static StreamEntry Receipt(RoomNumber room, std::string user, std::string receipt_type);

  bool operator==(const StreamEntry&) const = default;
};

std::string EncodeStreamEntry(const StreamEntry& entry);
// nullopt for bytes no version wrote (the reader reports kCorruption).
std::optional<StreamEntry> DecodeStreamEntry(std::string_view value);

// Stages stream entries into a batch: each Append takes the next position from the
// caller's counter and puts [position] -> entry into Cf::kStream.
class StreamAppender {
 public:
  StreamAppender(Store& store, rocksdb::WriteBatch& batch, StreamPosition& position)
      : store_(store), batch_(batch), position_(position) {}
  StreamPosition Append(const StreamEntry& entry);

 private:
  Store& store_;
  rocksdb::WriteBatch& batch_;
  StreamPosition& position_;
};

}  // namespace nebu::storage
