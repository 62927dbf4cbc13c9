// E2eeStore: a real RocksDB Store on tmpfs with accounts, where e2ee commands are
// applied and written the way the state machine does (one batch per command, the
// stream counter advanced only when the command succeeds).
#pragma once

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "engine/accounts/accounts.h"
#include "engine/e2ee/e2ee.h"
#include "engine/storage/stream_entry.h"
#include "tests/engine/accounts/temp_store.h"

namespace nebu::e2ee::testing {

namespace json = boost::json;

class E2eeStore {
 public:
  storage::Store& store() { return temp_.store(); }
  storage::StreamPosition position() const { return position_; }

  // Registers the user on first use, else logs in a new device with this ID.
  void AddDevice(const std::string& user_id, const std::string& device_id) {
    const std::string token_hash = accounts::TokenHash(user_id + "/" + device_id);
    auto exists = accounts::UserExists(store(), user_id);
    NEBU_CHECK(exists.ok());
    accounts::AccountCommand command;
    if (*exists) {
      command = accounts::LoginCommand{.user_id = user_id,
                                       .device = {.device_id = device_id, .token_hash = token_hash},
                                       .ts = 1};
    } else {
      command = accounts::RegisterCommand{
          .user_id = user_id,
          .created_ts = 1,
          .device = accounts::NewDevice{.device_id = device_id, .token_hash = token_hash}};
    }
    auto payload = accounts::EncodeAccountCommand(command);
    NEBU_CHECK(payload.ok());
    rocksdb::WriteBatch batch;
    auto applied = accounts::ApplyAccountCommand(store(), batch, *payload);
    NEBU_CHECK(applied.ok(), applied.status().ToString());
    NEBU_CHECK(store().Write(batch, false).ok());
  }

  void RemoveDevice(const std::string& user_id, const std::string& device_id) {
    auto applied = ApplyAccount(
        accounts::DeleteDeviceCommand{.user_id = user_id, .device_id = device_id});
    NEBU_CHECK(applied.ok(), applied.status().ToString());
  }

  // An account command applied as the state machine does: its stream entries (the
  // device-list change of a deleted device) advance position() when it succeeds.
  Result<std::string> ApplyAccount(const accounts::AccountCommand& command) {
    NEBU_ASSIGN_OR_RETURN(std::string payload, accounts::EncodeAccountCommand(command));
    rocksdb::WriteBatch batch;
    storage::StreamPosition position = position_;
    storage::StreamAppender stream(store(), batch, position);
    Result<std::string> outcome = accounts::ApplyAccountCommand(store(), batch, payload, &stream);
    if (outcome.ok()) {
      NEBU_RETURN_IF_ERROR(store().Write(batch, false));
      position_ = position;
    }
    return outcome;
  }

  Result<std::string> ApplyPayload(std::string_view payload) {
    rocksdb::WriteBatch batch;
    storage::StreamPosition position = position_;
    storage::StreamAppender stream(store(), batch, position);
    Result<std::string> outcome = ApplyE2eeCommand(store(), batch, payload, stream);
    if (outcome.ok()) {
      NEBU_RETURN_IF_ERROR(store().Write(batch, false));
      position_ = position;
    }
    return outcome;
  }
  Result<std::string> Apply(const E2eeCommand& command) {
    NEBU_ASSIGN_OR_RETURN(std::string payload, EncodeE2eeCommand(command));
    return ApplyPayload(payload);
  }

  // Stream entries after `after`, in order.
  std::vector<storage::StreamEntry> StreamAfter(storage::StreamPosition after) {
    std::vector<storage::StreamEntry> out;
    auto it = store().NewIterator(storage::Cf::kStream);
    for (it->Seek(storage::U64Key(after + 1)); it->Valid(); it->Next()) {
      auto entry = storage::DecodeStreamEntry(it->value().ToStringView());
      NEBU_CHECK(entry.has_value());
      out.push_back(*entry);
    }
    return out;
  }

  void Wipe() {
    temp_.Wipe();
    position_ = 0;
  }

 private:
  accounts::testing::TempStore temp_;
  storage::StreamPosition position_ = 0;
};

// A device_keys object for (user, device).
inline json::object DeviceKeys(const std::string& user_id, const std::string& device_id,
                               const std::string& curve = "curve") {
  return json::object{
      {"user_id", user_id},
      {"device_id", device_id},
      {"algorithms", json::array{"m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"}},
      {"keys", json::object{{"curve25519:" + device_id, curve}, {"ed25519:" + device_id, "ed"}}},
      {"signatures", json::object{{user_id, json::object{{"ed25519:" + device_id, "sig"}}}}}};
}

// A signed_curve25519 key object.
inline json::value SignedKey(const std::string& key) {
  return json::object{{"key", key},
                      {"signatures", json::object{{"@x:hs", json::object{{"ed25519:D", "s"}}}}}};
}

}  // namespace nebu::e2ee::testing
