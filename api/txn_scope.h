// Transaction IDs as the engine stores them: scoped per endpoint (send vs redact) and
// room, so the same client txn ID used elsewhere is another transaction (spec:
// "Transaction identifiers"); the engine scopes them per device. Length-prefixing the
// room keeps the mapping injective, so the client's ID can be read back.
//
//   std::string scoped = ScopedTxnId("send", room_id, "m123");   // "send:19:!r:hs...m123"
//   ClientTxnId(scoped) == "m123"
//
// Thread-safety: pure functions.
#pragma once

#include <charconv>
#include <optional>
#include <string>
#include <string_view>

namespace nebu::api {

inline std::string ScopedTxnId(std::string_view endpoint, std::string_view room_id,
                               std::string_view txn_id) {
  return std::string(endpoint) + ":" + std::to_string(room_id.size()) + ":" + std::string(room_id) +
         std::string(txn_id);
}

// The client's txn ID inside a ScopedTxnId; nullopt when `scoped` is not one.
inline std::optional<std::string_view> ClientTxnId(std::string_view scoped) {
  size_t colon = scoped.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string_view rest = scoped.substr(colon + 1);
  size_t room_size = 0;
  auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), room_size);
  if (ec != std::errc() || end == rest.data() + rest.size() || *end != ':') return std::nullopt;
  rest.remove_prefix(static_cast<size_t>(end - rest.data()) + 1);
  if (rest.size() < room_size) return std::nullopt;
  return rest.substr(room_size);
}

}  // namespace nebu::api
