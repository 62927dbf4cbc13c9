// rapidcheck generators of valid account commands, for round-trip and
// determinism properties. Two flavours: Arbitrary* draw from wide spaces (round
// trip); Small* draw from a handful of users, devices and token hashes so random
// sequences collide often (determinism, state checks).
#pragma once

#include <rapidcheck.h>

#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/accounts/accounts.h"
#include "engine/common/crypto.h"
#include "engine/event/canonical_json.h"

namespace nebu::accounts::testing {

// Text with ASCII, JSON escapes and multi-byte UTF-8: at most 10 pieces, < 100 bytes.
inline rc::Gen<std::string> Text() {
  static const std::vector<std::string> kPieces = {"a",  "Z",  "0",  " ",  "é", "日本",      "😀",
                                                   "\"", "\\", "\n", "\t", "/", "mxc://x/y", "Ünï"};
  return rc::gen::map(rc::gen::container<std::vector<std::string>>(rc::gen::elementOf(kPieces)),
                      [](const std::vector<std::string>& parts) {
                        std::string s;
                        for (size_t i = 0; i < parts.size() && i < 10; ++i) s += parts[i];
                        return s;
                      });
}

template <typename T>
rc::Gen<std::optional<T>> Optional(rc::Gen<T> gen) {
  return rc::gen::exec([gen]() -> std::optional<T> {
    if (*rc::gen::arbitrary<bool>()) return *gen;
    return std::nullopt;
  });
}

inline rc::Gen<std::string> Word(const char* alphabet, size_t max_chars) {
  std::string chars(alphabet);
  return rc::gen::exec([chars, max_chars] {
    size_t n = *rc::gen::inRange<size_t>(1, max_chars + 1);
    std::string s;
    for (size_t i = 0; i < n; ++i) s.push_back(*rc::gen::elementOf(chars));
    return s;
  });
}

inline rc::Gen<std::string> ArbitraryUserId() {
  return rc::gen::map(Word("abcxyz0189._=-/+", 20),
                      [](const std::string& l) { return "@" + l + ":example.org"; });
}
inline rc::Gen<std::string> ArbitraryDeviceId() { return Word("ABCDEFXYZ0189_-", 12); }
inline rc::Gen<std::string> ArbitraryTokenHash() {
  return rc::gen::map(Word("abcdefghij", 20), [](const std::string& s) { return TokenHash(s); });
}
inline rc::Gen<std::string> ArbitraryPasswordHash() {
  return rc::gen::map(Word("abcdefgh", 16), [](const std::string& s) {
    return "$argon2id$v=19$m=19456,t=2,p=1$" + Base64Unpadded(s) + "$" + Base64Unpadded(Sha256(s));
  });
}
inline rc::Gen<int64_t> Timestamp() {
  return rc::gen::inRange<int64_t>(0, event::kCanonicalIntMax);
}
inline rc::Gen<std::string> ArbitraryRoomId() {
  return rc::gen::map(Word("abcXYZ019", 18),
                      [](const std::string& s) { return "!" + s + ":example.org"; });
}
inline rc::Gen<std::string> ArbitraryType() {
  return rc::gen::map(Word("abcxyz._", 20), [](const std::string& s) { return "m." + s; });
}

// A JSON object of a few members: strings, integers, booleans, one nested level.
inline rc::Gen<boost::json::object> Content() {
  return rc::gen::exec([] {
    boost::json::object o;
    size_t n = *rc::gen::inRange<size_t>(0, 5);
    for (size_t i = 0; i < n; ++i) {
      std::string key = *Text();
      switch (*rc::gen::inRange(0, 4)) {
        case 0:
          o[key] = *Text();
          break;
        case 1:
          o[key] = *rc::gen::inRange<int64_t>(event::kCanonicalIntMin, event::kCanonicalIntMax);
          break;
        case 2:
          o[key] = *rc::gen::arbitrary<bool>();
          break;
        default:
          o[key] = boost::json::object{{"inner", *Text()}};
          break;
      }
    }
    return o;
  });
}

// The pools a command generator draws its identifiers from.
struct Pools {
  rc::Gen<std::string> user_id, device_id, token_hash, password_hash, room_id, type;
};

inline Pools ArbitraryPools() {
  return {ArbitraryUserId(),       ArbitraryDeviceId(), ArbitraryTokenHash(),
          ArbitraryPasswordHash(), ArbitraryRoomId(),   ArbitraryType()};
}

inline Pools SmallPools() {
  using V = std::vector<std::string>;
  return {rc::gen::elementOf(V{"@alice:example.org", "@bob:example.org"}),
          rc::gen::elementOf(V{"DEV1", "DEV2", "DEV3"}),
          rc::gen::map(rc::gen::inRange(0, 8), [](int i) { return TokenHash(std::to_string(i)); }),
          rc::gen::map(rc::gen::inRange(0, 2),
                       [](int i) {
                         return "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ" + std::to_string(i) +
                                "$aGFzaGhhc2g";
                       }),
          rc::gen::elementOf(V{"!r1:example.org", "!r2:example.org"}),
          rc::gen::elementOf(V{"m.direct", "m.push_rules", "org.example.x"})};
}

inline rc::Gen<NewDevice> Device(const Pools& p) {
  return rc::gen::exec([p] { return NewDevice{*p.device_id, *p.token_hash, *Optional(Text())}; });
}

// One valid command of any kind, identifiers drawn from p.
inline rc::Gen<AccountCommand> Command(const Pools& p) {
  return rc::gen::exec([p]() -> AccountCommand {
    switch (*rc::gen::inRange(0, 13)) {
      case 0:
        return RegisterCommand{
            *p.user_id,   *Optional(p.password_hash), *rc::gen::arbitrary<bool>(),
            *Timestamp(), *Optional(Text()),          *Optional(Device(p))};
      case 1:
        return LoginCommand{*p.user_id, *Device(p), *Timestamp()};
      case 2:
        return LogoutCommand{*p.user_id, *p.device_id};
      case 3:
        return LogoutAllCommand{*p.user_id};
      case 4:
        return SetPasswordCommand{*p.user_id, *p.password_hash, *rc::gen::arbitrary<bool>(),
                                  *Optional(p.device_id)};
      case 5:
        return DeactivateCommand{*p.user_id, *rc::gen::arbitrary<bool>()};
      case 6:
        return SetDisplayNameCommand{*p.user_id, *Optional(Text()), *Optional(Timestamp())};
      case 7:
        return SetAvatarUrlCommand{*p.user_id, *Optional(Text()), *Optional(Timestamp())};
      case 8:
        return SetDeviceDisplayNameCommand{*p.user_id, *p.device_id, *Optional(Text())};
      case 9:
        return DeleteDeviceCommand{*p.user_id, *p.device_id};
      case 11:
        return EditTagCommand{*p.user_id, *p.room_id, *p.type, *Optional(Content())};
      case 12: {
        const auto change = static_cast<PushRuleChange>(*rc::gen::inRange(0, 4));
        EditPushRuleCommand c{*p.user_id, "override", *p.type, change, *Content()};
        if (change == PushRuleChange::kPut) c.before = *Optional(p.type);
        return c;
      }
      default:
        return PutAccountDataCommand{*p.user_id, *Optional(p.room_id), *p.type, *Content()};
    }
  });
}

}  // namespace nebu::accounts::testing

namespace nebu::accounts {
// How rapidcheck prints a counterexample: its payload.
inline void showValue(const AccountCommand& command, std::ostream& os) {
  Result<std::string> payload = EncodeAccountCommand(command);
  os << (payload.ok() ? *payload : payload.status().ToString());
}
}  // namespace nebu::accounts
