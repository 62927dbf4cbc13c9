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

}  // namespace nebu::e2ee
