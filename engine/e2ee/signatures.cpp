#include "engine/e2ee/signatures.h"

#include <openssl/evp.h>

#include <memory>
#include <string>

#include "engine/common/crypto.h"
#include "engine/event/canonical_json.h"

namespace nebu::e2ee {
namespace {

constexpr size_t kEd25519PublicKeyBytes = 32;
constexpr size_t kEd25519SignatureBytes = 64;

struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

}  // namespace

Status VerifyJsonSignature(const boost::json::object& signed_object, std::string_view signer,
                           std::string_view key_id, std::string_view public_key) {
  const boost::json::value* signatures = signed_object.if_contains("signatures");
  const boost::json::value* by_signer =
      signatures && signatures->is_object() ? signatures->as_object().if_contains(signer) : nullptr;
  const boost::json::value* signature =
      by_signer && by_signer->is_object() ? by_signer->as_object().if_contains(key_id) : nullptr;
  if (signature == nullptr || !signature->is_string()) {
    return Status::InvalidArgument("no signature by " + std::string(key_id));
  }
  Result<std::string> signature_bytes = Base64Decode(signature->as_string());
  if (!signature_bytes.ok() || signature_bytes->size() != kEd25519SignatureBytes) {
    return Status::InvalidArgument("malformed signature");
  }
  Result<std::string> key_bytes = Base64Decode(public_key);
  if (!key_bytes.ok() || key_bytes->size() != kEd25519PublicKeyBytes) {
    return Status::InvalidArgument("malformed ed25519 public key");
  }
  boost::json::object unsigned_copy = signed_object;
  unsigned_copy.erase("signatures");
  unsigned_copy.erase("unsigned");
  NEBU_ASSIGN_OR_RETURN(std::string message, event::CanonicalJson(unsigned_copy));

  std::unique_ptr<EVP_PKEY, PkeyFree> key(EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(key_bytes->data()),
      key_bytes->size()));
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!key || !ctx) return Status::InvalidArgument("unusable ed25519 public key");
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1 ||
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature_bytes->data()),
                       signature_bytes->size(),
                       reinterpret_cast<const unsigned char*>(message.data()),
                       message.size()) != 1) {
    return Status::InvalidArgument("invalid signature by " + std::string(key_id));
  }
  return Status::Ok();
}

std::optional<std::string> CrossSigningPublicKey(const boost::json::object& key) {
  const boost::json::value* keys = key.if_contains("keys");
  if (keys == nullptr || !keys->is_object() || keys->as_object().size() != 1) return std::nullopt;
  std::string_view id = keys->as_object().begin()->key();
  if (!id.starts_with("ed25519:") || id.size() == 8) return std::nullopt;
  return std::string(id.substr(8));
}

Status CheckSignedByMaster(const boost::json::object* master, const boost::json::object& key,
                           std::string_view user_id) {
  std::optional<std::string> master_public;
  if (master != nullptr) master_public = CrossSigningPublicKey(*master);
  if (!master_public) return Status::InvalidArgument(std::string(kNoMasterSigningKey));
  if (!VerifyJsonSignature(key, user_id, "ed25519:" + *master_public, *master_public).ok()) {
    return Status::InvalidArgument(std::string(kNotSignedByMaster));
  }
  return Status::Ok();
}

}  // namespace nebu::e2ee
