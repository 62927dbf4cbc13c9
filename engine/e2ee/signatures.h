// Matrix JSON signatures (Client-Server API appendix § Signing JSON) with ed25519:
// the signature covers the canonical JSON of the object without its "signatures" and
// "unsigned" members; keys and signatures are unpadded base64.
//
//   Status s = VerifyJsonSignature(self_signing_key, "@a:hs", "ed25519:" + master_pub,
//                                  master_pub);
//   if (!s.ok()) ...  // answer M_INVALID_SIGNATURE
//
// Thread-safety: pure functions (OpenSSL's EVP calls are thread-safe).
#pragma once

#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "engine/common/status.h"

namespace nebu::e2ee {

// OK when signed_object.signatures[signer][key_id] is a valid ed25519 signature by
// public_key. kInvalidArgument (with the reason) when the signature is absent, not
// base64, of the wrong length, the key is malformed, or the signature does not verify;
// kBadJson when the object has no canonical form.
[[nodiscard]] Status VerifyJsonSignature(const boost::json::object& signed_object,
                                         std::string_view signer, std::string_view key_id,
                                         std::string_view public_key);

// The public key of a cross-signing key object: its one "ed25519:<public key>" entry
// of "keys"; nullopt unless "keys" holds exactly one such entry.
[[nodiscard]] std::optional<std::string> CrossSigningPublicKey(const boost::json::object& key);

// Message prefixes of the kInvalidArgument CheckSignedByMaster gives (the API answers
// 400 M_MISSING_PARAM and 400 M_INVALID_SIGNATURE).
inline constexpr std::string_view kNoMasterSigningKey = "No master signing key is available";
inline constexpr std::string_view kNotSignedByMaster =
    "Self-signing and user-signing keys must be signed by the master key";

// OK when `key` (a self-signing or user-signing key of user_id) carries a valid
// signature by `master` (the master key in effect; nullptr when the user has none).
// kInvalidArgument with kNoMasterSigningKey (no usable master key) or
// kNotSignedByMaster (no valid signature by it).
[[nodiscard]] Status CheckSignedByMaster(const boost::json::object* master,
                                         const boost::json::object& key,
                                         std::string_view user_id);

}  // namespace nebu::e2ee
