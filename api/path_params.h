// Path and query parameter validation at the router boundary: no request value that
// is not well-formed text reaches a handler (and through it the engine, whose command
// builders and keys assume valid UTF-8 within Matrix's size limits).
//
// Every `{name}` path parameter, once percent-decoded, must be valid UTF-8 (RFC 3629:
// no overlong forms, no surrogates), hold no U+0000, and fit its byte cap; names with a
// grammar in the spec (appendices § Identifier Grammar) must also match it:
//
//   name            rule                                                     cap (bytes)
//   roomId          `!opaque:server_name`            (event::IsValidRoomId)   255
//   userId          `@localpart:server_name`, historical localpart grammar
//                                                    (event::IsValidUserId)   255
//   roomAlias       `#alias:server_name`          (event::IsValidRoomAlias)   255
//   roomIdOrAlias   a roomId or a roomAlias                                   255
//   eventId         `$` + non-empty opaque part (the hash format depends on
//                   the room version; an unknown ID is the route's 404)        255
//   eventType       non-empty                      (event::IsValidEventType)  255
//   stateKey        may be empty                   (event::IsValidStateKey)   255
//   type            an account data type, non-empty                           255
//   txnId           a transaction ID, non-empty                               255
//   deviceId        non-empty                                                 255
//   tag             non-empty (spec § Room Tagging: at most 255 bytes)         255
//   filterId, kind, ruleId, receiptType, relType, version: non-empty          255
//   any other name  UTF-8 without U+0000 only                                 255
//
// The handler keeps the route's own checks (an unknown room is still its 403/404, a
// push rule kind it does not know its 400): this layer only guarantees well-formed
// values. A value that breaks its rule answers 400 M_INVALID_PARAM naming the
// parameter, before any handler runs; nothing changes.
//
// Query values: every query parameter a handler can read (Request::Query) must be
// valid UTF-8 without U+0000 (names too); else 400 M_INVALID_PARAM. Their size is
// bounded by the server's header limit.
//
//   if (auto error = ValidatePathParam("roomId", "\xFF")) return *error;  // 400
//
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nebu::api {

// Byte caps of decoded path parameters (see the table above). The spec's identifier
// limit is 255 bytes (§ Identifier Grammar); event types and state keys share it.
inline constexpr size_t kPathIdBytesMax = 255;
inline constexpr size_t kTxnIdBytesMax = 255;
inline constexpr size_t kPathParamBytesMaxDefault = 255;

// Why `value` is not acceptable as path parameter `name`, or nullopt when it is.
// The reason is a short English sentence for the error message.
[[nodiscard]] std::optional<std::string> PathParamError(std::string_view name,
                                                        std::string_view value);

// The same for one decoded query parameter (name and value).
[[nodiscard]] std::optional<std::string> QueryParamError(std::string_view name,
                                                         std::string_view value);

// The first error among `query`'s parameters, or nullopt.
[[nodiscard]] std::optional<std::string> QueryError(
    const std::vector<std::pair<std::string, std::string>>& query);

}  // namespace nebu::api
