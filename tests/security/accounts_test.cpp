// Goal: an account that is deactivated or a device that is deleted leaves nothing
// behind that others can still use or see, and display names never carry U+0000:
//   - deactivation leaves every room the user was joined to or invited to (members
//     lists show it gone), the account cannot log in, its old token is dead, and
//     /keys/query serves neither its device keys nor its cross-signing keys;
//   - deleting a device (DELETE /devices/{id}, POST /delete_devices, logout) removes
//     its device keys, one-time keys and fallback keys at once: /keys/query omits it,
//     /keys/claim gets nothing for it, and a room mate's /sync lists the user in
//     device_lists.changed;
//   - a display name or device name holding U+0000 is refused with 400
//     M_INVALID_PARAM and changes nothing (register, login, PUT /devices/{id},
//     PUT /profile/{userId}/displayname).
// Method: the real nebu binary on a temp data dir, ordinary users over HTTP on
// loopback (tests/security/nebu_process.h).
#include <algorithm>

#include "tests/security/nebu_process.h"

namespace nebu::security {
namespace {

class AccountsTest : public SecurityTest {
 protected:
  static json::object PasswordAuth(const std::string& localpart) {
    return json::object{{"type", "m.login.password"},
                        {"identifier", {{"type", "m.id.user"}, {"user", localpart}}},
                        {"password", "password-" + localpart}};
  }
  // POST /login for localpart; the reply.
  HttpReply Login(const std::string& localpart, const json::object& extra = {}) {
    json::object body = PasswordAuth(localpart);
    for (const auto& [key, value] : extra) body[key] = value;
    return Call("POST", "/login", "", body);
  }
  // A new device of localpart: {token, device_id}.
  std::pair<std::string, std::string> NewDevice(const std::string& localpart) {
    HttpReply r = Login(localpart);
    EXPECT_EQ(r.status, 200) << r.body;
    if (r.status != 200) return {};
    json::value v = r.Json();
    return {std::string(v.at("access_token").as_string()),
            std::string(v.at("device_id").as_string())};
  }
  std::string DeviceId(const std::string& token) {
    HttpReply r = Call("GET", "/account/whoami", token);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? std::string(r.Json().at("device_id").as_string()) : "";
  }
  // Uploads device keys, a one-time key and a fallback key for the token's device.
  void UploadKeys(const std::string& localpart, const std::string& token) {
    const std::string user = UserId(localpart), device = DeviceId(token);
    json::object body{
        {"device_keys",
         {{"user_id", user},
          {"device_id", device},
          {"algorithms", json::array{"m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"}},
          {"keys", {{"curve25519:" + device, "curve-" + device}, {"ed25519:" + device, "ed-" + device}}}}},
        {"one_time_keys", {{"signed_curve25519:AAAAAQ", {{"key", "otk-" + device}}}}},
        {"fallback_keys", {{"signed_curve25519:AAAAFB", {{"key", "fb-" + device}, {"fallback", true}}}}}};
    HttpReply r = Call("POST", "/keys/upload", token, body);
    ASSERT_EQ(r.status, 200) << r.body;
  }
  void UploadMasterKey(const std::string& localpart, const std::string& token) {
    const std::string key(43, 'M');
    HttpReply r = Call("POST", "/keys/device_signing/upload", token,
                       json::object{{"master_key",
                                     {{"user_id", UserId(localpart)},
                                      {"usage", json::array{"master"}},
                                      {"keys", {{"ed25519:" + key, key}}}}}});
    ASSERT_EQ(r.status, 200) << r.body;
  }
  json::value QueryKeys(const std::string& token, const std::string& localpart) {
    HttpReply r = Call("POST", "/keys/query", token,
                       json::object{{"device_keys", {{UserId(localpart), json::array{}}}}});
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? r.Json() : json::value();
  }
  // The device IDs /keys/query lists for localpart.
  std::vector<std::string> KeyedDevices(const std::string& token, const std::string& localpart) {
    std::vector<std::string> out;
    json::value v = QueryKeys(token, localpart);
    const json::value* users = v.is_object() ? v.as_object().if_contains("device_keys") : nullptr;
    const json::value* devices = users ? users->as_object().if_contains(UserId(localpart)) : nullptr;
    if (devices && devices->is_object()) {
      for (const auto& [id, keys] : devices->as_object()) out.emplace_back(id);
    }
    return out;
  }
  // What /keys/claim returns for (localpart, device).
  json::value Claim(const std::string& token, const std::string& localpart, const std::string& device) {
    HttpReply r = Call("POST", "/keys/claim", token,
                       json::object{{"one_time_keys",
                                     {{UserId(localpart), {{device, "signed_curve25519"}}}}}});
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? r.Json().at("one_time_keys") : json::value();
  }
  // The user IDs joined to the room, as a member sees them.
  std::vector<std::string> JoinedMembers(const std::string& token, const std::string& room) {
    HttpReply r = Call("GET", "/rooms/" + Encode(room) + "/joined_members", token);
    EXPECT_EQ(r.status, 200) << r.body;
    std::vector<std::string> out;
    if (r.status != 200) return out;
    const json::value body = r.Json();
    for (const auto& [user, info] : body.at("joined").as_object()) out.emplace_back(user);
    std::sort(out.begin(), out.end());
    return out;
  }
  // The membership of user_id in the room's current state, as a member sees it.
  std::string MembershipOf(const std::string& token, const std::string& room,
                           const std::string& user_id) {
    HttpReply r = Call("GET", "/rooms/" + Encode(room) + "/state/m.room.member/" + Encode(user_id),
                       token);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? std::string(r.Json().at("membership").as_string()) : "";
  }
  std::string SyncToken(const std::string& token) {
    HttpReply r = Call("GET", "/sync?timeout=0", token);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? std::string(r.Json().at("next_batch").as_string()) : "";
  }
  json::value DeviceListsSince(const std::string& token, const std::string& since) {
    HttpReply r = Call("GET", "/sync?timeout=0&since=" + Encode(since), token);
    EXPECT_EQ(r.status, 200) << r.body;
    if (r.status != 200) return json::value();
    const json::value body = r.Json();
    const json::value* lists = body.as_object().if_contains("device_lists");
    return lists ? *lists : json::value();
  }
  static bool Contains(const json::value& list, const std::string& item) {
    if (!list.is_array()) return false;
    for (const json::value& v : list.as_array()) {
      if (v.is_string() && v.as_string() == item) return true;
    }
    return false;
  }
};

TEST_F(AccountsTest, DeactivationLeavesEveryRoomAndTheAccountCannotLogIn) {
  Start();
  std::string alice = Register("alice");
  std::string bob = Register("bob");
  std::string joined_room = CreateRoom(alice, json::object{{"preset", "public_chat"}});
  std::string invited_room = CreateRoom(alice);
  ASSERT_EQ(Join(bob, joined_room), 200);
  ASSERT_EQ(Call("POST", "/rooms/" + Encode(invited_room) + "/invite", alice,
                 json::object{{"user_id", UserId("bob")}})
                .status,
            200);
  ASSERT_EQ(JoinedMembers(alice, joined_room),
            (std::vector<std::string>{UserId("alice"), UserId("bob")}));

  HttpReply r = Call("POST", "/account/deactivate", bob,
                     json::object{{"auth", PasswordAuth("bob")}});
  ASSERT_EQ(r.status, 200) << r.body;

  EXPECT_EQ(JoinedMembers(alice, joined_room), std::vector<std::string>{UserId("alice")});
  EXPECT_EQ(MembershipOf(alice, joined_room, UserId("bob")), "leave");
  EXPECT_EQ(MembershipOf(alice, invited_room, UserId("bob")), "leave");
  EXPECT_EQ(Login("bob").status, 403);
  EXPECT_EQ(Call("GET", "/account/whoami", bob).status, 401);
  ExpectAlive();
}

TEST_F(AccountsTest, DeactivationRemovesDeviceAndCrossSigningKeys) {
  Start();
  std::string alice = Register("alice");
  std::string bob = Register("bob");
  UploadKeys("bob", bob);
  UploadMasterKey("bob", bob);
  json::value before = QueryKeys(alice, "bob");
  ASSERT_TRUE(before.at("master_keys").as_object().contains(UserId("bob"))) << before;
  ASSERT_EQ(KeyedDevices(alice, "bob").size(), 1u);
  const std::string device = DeviceId(bob);

  ASSERT_EQ(Call("POST", "/account/deactivate", bob, json::object{{"auth", PasswordAuth("bob")}})
                .status,
            200);
  json::value after = QueryKeys(alice, "bob");
  const json::value* master = after.as_object().if_contains("master_keys");
  EXPECT_TRUE(master == nullptr || !master->as_object().contains(UserId("bob"))) << after;
  EXPECT_TRUE(KeyedDevices(alice, "bob").empty()) << after;
  EXPECT_FALSE(Claim(alice, "bob", device).as_object().contains(UserId("bob")));
}

TEST_F(AccountsTest, ADeletedDeviceKeysAreGoneAndRoomMatesAreTold) {
  Start();
  std::string alice = Register("alice");
  std::string bob = Register("bob");
  std::string room = CreateRoom(alice, json::object{{"preset", "public_chat"}});
  ASSERT_EQ(Join(bob, room), 200);
  auto [second, second_id] = NewDevice("bob");
  auto [third, third_id] = NewDevice("bob");
  for (const std::string* token : {&bob, &second, &third}) UploadKeys("bob", *token);
  ASSERT_EQ(KeyedDevices(alice, "bob").size(), 3u);
  const std::string since = SyncToken(alice);

  // DELETE /devices/{id}: the keys go with the device.
  HttpReply r = Call("DELETE", "/devices/" + Encode(second_id), bob,
                     json::object{{"auth", PasswordAuth("bob")}});
  ASSERT_EQ(r.status, 200) << r.body;
  std::vector<std::string> listed = KeyedDevices(alice, "bob");
  EXPECT_EQ(std::count(listed.begin(), listed.end(), second_id), 0) << r.body;
  EXPECT_EQ(listed.size(), 2u);
  // Neither a one-time key nor the fallback key can be claimed for it.
  EXPECT_FALSE(Claim(alice, "bob", second_id).as_object().contains(UserId("bob")));
  EXPECT_TRUE(Contains(DeviceListsSince(alice, since).at("changed"), UserId("bob")));

  // POST /delete_devices and logout do the same.
  ASSERT_EQ(Call("POST", "/delete_devices", bob,
                 json::object{{"devices", json::array{third_id}}, {"auth", PasswordAuth("bob")}})
                .status,
            200);
  const std::string first_id = DeviceId(bob);
  ASSERT_EQ(Call("POST", "/logout", bob, json::object{}).status, 200);
  EXPECT_TRUE(KeyedDevices(alice, "bob").empty());
  for (const std::string& id : {third_id, first_id}) {
    EXPECT_FALSE(Claim(alice, "bob", id).as_object().contains(UserId("bob"))) << id;
  }
  ExpectAlive();
}

TEST_F(AccountsTest, ANulInADisplayNameOrDeviceNameIsRefused) {
  Start();
  const std::string nul = std::string("Bo\0b", 4);
  // Registration and login with a NUL device name.
  HttpReply reg = Call("POST", "/register", "",
                       json::object{{"username", "carol"},
                                    {"password", "password-carol"},
                                    {"initial_device_display_name", nul},
                                    {"auth", {{"type", "m.login.dummy"}}}});
  EXPECT_EQ(reg.status, 400) << reg.body;
  EXPECT_EQ(reg.Errcode(), "M_INVALID_PARAM");
  EXPECT_EQ(Call("GET", "/register/available?username=carol").status, 200);  // not created

  std::string bob = Register("bob");
  HttpReply login = Login("bob", json::object{{"initial_device_display_name", nul}});
  EXPECT_EQ(login.status, 400) << login.body;
  EXPECT_EQ(login.Errcode(), "M_INVALID_PARAM");

  // Renaming a device, setting a display name.
  const std::string device = DeviceId(bob);
  HttpReply rename = Call("PUT", "/devices/" + Encode(device), bob,
                          json::object{{"display_name", nul}});
  EXPECT_EQ(rename.status, 400) << rename.body;
  EXPECT_EQ(rename.Errcode(), "M_INVALID_PARAM");
  HttpReply name = Call("PUT", "/profile/" + Encode(UserId("bob")) + "/displayname", bob,
                        json::object{{"displayname", nul}});
  EXPECT_EQ(name.status, 400) << name.body;
  EXPECT_EQ(name.Errcode(), "M_INVALID_PARAM");

  // Nothing changed; an ordinary name still works.
  HttpReply profile = Call("GET", "/profile/" + Encode(UserId("bob")) + "/displayname", bob);
  EXPECT_EQ(profile.Json().at("displayname").as_string(), "bob") << profile.body;
  HttpReply devices = Call("GET", "/devices/" + Encode(device), bob);
  EXPECT_FALSE(devices.Json().as_object().contains("display_name")) << devices.body;
  EXPECT_EQ(Call("PUT", "/devices/" + Encode(device), bob, json::object{{"display_name", "Bob's"}})
                .status,
            200);
  ExpectAlive();
}

}  // namespace
}  // namespace nebu::security
