// External identities (single sign-on): an identity provider's subject linked to a
// nebu user, replicated as core::CommandKind::kExternalId.
//
// One command, op "sso_login", does a whole single sign-on in one apply: it maps
// (idp_id, subject) to its user, or on the first login registers a new user (no
// password, display name from the provider's claims) and links the subject, and in
// the same write stores a login token (m.login.token) for that user. A subject is
// stored, never the provider's username, so a user renamed at the provider still maps
// to the same account.
//
//   SsoLoginCommand login{.idp_id = "oidc", .subject = claims.sub,
//                         .localpart = "alice", .server_name = "example.org",
//                         .displayname = "Alice", .ts = now,
//                         .login_token_hash = TokenHash(token),
//                         .login_token_expires_ms = now + kLoginTokenLifetimeMs};
//   propose Command{kExternalId, EncodeSsoLoginCommand(login)}
//   outcome: {"created": true|false, "user_id": "@alice:example.org"}
//
// Collision rule (decided in apply, so every replica picks the same ID): the
// candidates are localpart, then localpart + "1", localpart + "2", ... up to
// kLocalpartCollisionsMax more; the first user ID not taken (deactivated IDs stay
// taken) is registered. None free (or a candidate beyond the user ID grammar):
// kAlreadyExists, nothing written.
//
// Apply errors (nothing written): kInvalidArgument malformed command; kForbidden the
// linked user is deactivated or locked; kAlreadyExists no free localpart, or the
// login token hash is in use; kIoError / kCorruption from storage.
//
// Payload: canonical JSON {"displayname"?, "idp_id", "localpart", "login_token_expires_ms",
// "login_token_hash", "op": "sso_login", "server_name", "subject", "ts"}; unknown fields
// are refused. Records in Cf::kExternalIds:
//   's' [u16 len][idp_id][subject]          -> user_id
//   'u' [u16 len][user_id][idp_id]          -> subject
//
// Thread-safety: pure functions over the store; ApplyExternalIdCommand reads stored
// state, so the state machine applies it alone in its batch.
#pragma once

#include <rocksdb/write_batch.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "engine/common/status.h"
#include "engine/storage/read_view.h"
#include "engine/storage/store.h"

namespace nebu::accounts {

inline constexpr size_t kIdpIdBytesMax = 64;       // [a-z0-9._-], as the spec's idp id
inline constexpr size_t kSubjectBytesMax = 255;    // OpenID Connect: sub is <= 255 ASCII
inline constexpr size_t kLocalpartBytesMax = 200;  // the candidate before suffixes
// Numbered candidates tried after the plain localpart (localpart1 .. localpart100).
inline constexpr uint32_t kLocalpartCollisionsMax = 100;

struct SsoLoginCommand {
  std::string idp_id{};
  std::string subject{};
  std::string localpart{};    // normalised to the user ID grammar by the proposer
  std::string server_name{};  // of the user ID to register
  std::optional<std::string> displayname{};
  int64_t ts = 0;             // ms since the epoch: the user's created_ts
  std::string login_token_hash{};  // TokenHash(login token)
  int64_t login_token_expires_ms = 0;
  bool operator==(const SsoLoginCommand&) const = default;
};

[[nodiscard]] Status ValidateSsoLoginCommand(const SsoLoginCommand& c);
[[nodiscard]] Result<std::string> EncodeSsoLoginCommand(const SsoLoginCommand& c);
[[nodiscard]] Result<SsoLoginCommand> DecodeSsoLoginCommand(std::string_view payload);

// The candidate localpart of attempt n (0: localpart itself; n: localpart + n).
[[nodiscard]] std::string CollisionCandidate(std::string_view localpart, uint32_t attempt);

// Applies a kExternalId payload (see above); the outcome is canonical JSON.
[[nodiscard]] Result<std::string> ApplyExternalIdCommand(storage::Store& store,
                                                         rocksdb::WriteBatch& batch,
                                                         std::string_view payload);

// The user linked to (idp_id, subject), or nullopt.
[[nodiscard]] Result<std::optional<std::string>> ExternalIdOwner(const storage::ReadView& store,
                                                                 std::string_view idp_id,
                                                                 std::string_view subject);

// Whether the user has an external identity with any provider (the UIA of SSO users).
[[nodiscard]] Result<bool> HasExternalId(const storage::ReadView& store, std::string_view user_id);

}  // namespace nebu::accounts
