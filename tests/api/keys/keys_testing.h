// KeysApiTest: RoomsApiTest (a real engine on tmpfs, a Router) plus the e2ee routes
// and the account routes (for logout and device deletion), with helpers for key
// objects and the caller's device ID.
#pragma once

#include <boost/json.hpp>
#include <string>

#include "api/accounts/account_routes.h"
#include "api/keys/keys_routes.h"
#include "engine/e2ee/e2ee.h"
#include "tests/api/rooms/rooms_testing.h"

namespace nebu::api {

class KeysApiTest : public RoomsApiTest {
 protected:
  void SetUp() override {
    RoomsApiTest::SetUp();
    AddKeysRoutes(router_, *engine_);
    AddAccountRoutes(router_, *engine_, {.registration_open = true, .rate_limit = false});
  }

  // Registers @localpart:localhost with kPassword and a first device.
  std::string RegisterWithPassword(const std::string& localpart) {
    return testing::RegisterThroughEngine(
        *engine_, {.user_id = "@" + localpart + ":localhost", .password = std::string(kPassword)},
        clock_.NowUnixMs());
  }

  std::string DeviceOf(const std::string& token) {
    auto owner = accounts::AuthenticateToken(engine_->store(), token);
    EXPECT_TRUE(owner.ok());
    return owner.ok() ? owner->device_id : "";
  }
  std::string UserOf(const std::string& token) {
    auto owner = accounts::AuthenticateToken(engine_->store(), token);
    return owner.ok() ? owner->user_id : "";
  }

  static json::object DeviceKeys(const std::string& user_id, const std::string& device_id) {
    return json::object{
        {"user_id", user_id},
        {"device_id", device_id},
        {"algorithms", json::array{"m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"}},
        {"keys", json::object{{"curve25519:" + device_id, "curve-" + device_id},
                              {"ed25519:" + device_id, "ed-" + device_id}}},
        {"signatures",
         json::object{{user_id, json::object{{"ed25519:" + device_id, "self-sig"}}}}}};
  }
  static json::object SignedKey(const std::string& key, bool fallback = false) {
    json::object o{
        {"key", key},
        {"signatures", json::object{{"@x:localhost", json::object{{"ed25519:X", "s"}}}}}};
    if (fallback) o["fallback"] = true;
    return o;
  }
  // Uploads the caller's device keys; returns the response.
  // The caller's device keys, and with `one_time_key` one signed_curve25519 key "A".
  Response UploadDeviceKeys(const std::string& token, bool one_time_key = false) {
    json::object body{{"device_keys", DeviceKeys(UserOf(token), DeviceOf(token))}};
    if (one_time_key) {
      body["one_time_keys"] = json::object{{"signed_curve25519:A", SignedKey("a")}};
    }
    return Call("POST", "/keys/upload", token, body);
  }
  std::string SyncToken() { return "s" + std::to_string(engine_->stream_position()); }

  static constexpr std::string_view kPassword = "correct horse battery";
};

}  // namespace nebu::api
