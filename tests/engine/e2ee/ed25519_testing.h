// Ed25519Key: a fresh ed25519 key pair (OpenSSL) that signs JSON objects the Matrix
// way, for tests of signature checks.
//
//   Ed25519Key master;
//   master.Sign(self_signing_key, "@a:hs", master.public_key());  // adds signatures[..]
#pragma once

#include <openssl/evp.h>

#include <boost/json.hpp>
#include <memory>
#include <string>

#include "engine/common/crypto.h"
#include "engine/common/status.h"
#include "engine/event/canonical_json.h"

namespace nebu::e2ee::testing {

class Ed25519Key {
 public:
  Ed25519Key() {
    EVP_PKEY* key = nullptr;
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr);
    NEBU_CHECK(ctx != nullptr && EVP_PKEY_keygen_init(ctx) == 1 && EVP_PKEY_keygen(ctx, &key) == 1);
    EVP_PKEY_CTX_free(ctx);
    key_.reset(key);
    unsigned char raw[32];
    size_t length = sizeof(raw);
    NEBU_CHECK(EVP_PKEY_get_raw_public_key(key, raw, &length) == 1);
    public_key_ = Base64Unpadded(std::string_view(reinterpret_cast<char*>(raw), length));
  }

  // Unpadded base64 of the 32-byte public key.
  const std::string& public_key() const { return public_key_; }

  // Sets o["signatures"][user]["ed25519:" + key_name] to this key's signature of o.
  void Sign(boost::json::object& o, const std::string& user, const std::string& key_name) const {
    boost::json::object copy = o;
    copy.erase("signatures");
    copy.erase("unsigned");
    Result<std::string> message = event::CanonicalJson(copy);
    NEBU_CHECK(message.ok());
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    unsigned char signature[64];
    size_t length = sizeof(signature);
    NEBU_CHECK(EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, key_.get()) == 1 &&
               EVP_DigestSign(ctx, signature, &length,
                              reinterpret_cast<const unsigned char*>(message->data()),
                              message->size()) == 1);
    EVP_MD_CTX_free(ctx);
    boost::json::value& all = o["signatures"];
    if (!all.is_object()) all = boost::json::object{};
    boost::json::value& mine = all.as_object()[user];
    if (!mine.is_object()) mine = boost::json::object{};
    mine.as_object()["ed25519:" + key_name] =
        Base64Unpadded(std::string_view(reinterpret_cast<char*>(signature), length));
  }

 private:
  struct Free {
    void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
  };
  std::unique_ptr<EVP_PKEY, Free> key_;
  std::string public_key_;
};

}  // namespace nebu::e2ee::testing
