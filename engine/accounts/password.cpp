#include "engine/accounts/password.h"

#include <argon2.h>

#include <charconv>
#include <optional>

#include "engine/common/crypto.h"

namespace nebu::accounts {
namespace {

constexpr std::string_view kArgon2idPrefix = "$argon2id$v=19$";

// Reads "<name>=<decimal>" at the front of *in and advances past it.
std::optional<uint32_t> TakeParam(std::string_view* in, char name) {
  if (in->size() < 3 || (*in)[0] != name || (*in)[1] != '=') return std::nullopt;
  const char* begin = in->data() + 2;
  const char* end = in->data() + in->size();
  uint32_t value = 0;
  auto [ptr, ec] = std::from_chars(begin, end, value);
  if (ec != std::errc() || ptr == begin || (*begin == '0' && ptr - begin > 1)) {
    return std::nullopt;
  }
  in->remove_prefix(static_cast<size_t>(ptr - in->data()));
  return value;
}

bool TakeChar(std::string_view* in, char c) {
  if (in->empty() || in->front() != c) return false;
  in->remove_prefix(1);
  return true;
}

// Standard base64 alphabet, unpadded, non-empty (the PHC salt and hash fields).
bool IsPhcBase64(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

Status CheckPassword(std::string_view password) {
  if (password.empty()) return Status::InvalidArgument("password is empty");
  if (password.size() > kPasswordBytesMax) {
    return Status::TooLarge("password is longer than " + std::to_string(kPasswordBytesMax) +
                            " bytes");
  }
  return Status::Ok();
}

Result<std::string> HashPassword(std::string_view password) {
  NEBU_RETURN_IF_ERROR(CheckPassword(password));
  std::string salt = RandomBytes(kArgon2SaltBytes);
  size_t encoded_len = argon2_encodedlen(kArgon2Iterations, kArgon2MemoryKib, kArgon2Lanes,
                                         kArgon2SaltBytes, kArgon2HashBytes, Argon2_id);
  std::string encoded(encoded_len, '\0');
  int rc = argon2id_hash_encoded(kArgon2Iterations, kArgon2MemoryKib, kArgon2Lanes, password.data(),
                                 password.size(), salt.data(), salt.size(), kArgon2HashBytes,
                                 encoded.data(), encoded.size());
  if (rc != ARGON2_OK) {
    return Status::Internal(std::string("argon2id: ") + argon2_error_message(rc));
  }
  encoded.resize(encoded.find('\0'));  // encoded_len counts the terminator
  return encoded;
}

bool VerifyPassword(std::string_view password, std::string_view encoded) {
  if (!CheckPassword(password).ok() || !CheckPasswordHash(encoded).ok()) return false;
  std::string terminated(encoded);  // libargon2 wants a C string
  return argon2id_verify(terminated.c_str(), password.data(), password.size()) == ARGON2_OK;
}

Status CheckPasswordHash(std::string_view encoded) {
  const Status bad = Status::InvalidArgument("password hash is not an accepted argon2id string");
  if (encoded.size() > kPasswordHashBytesMax) return bad;
  if (!encoded.starts_with(kArgon2idPrefix)) return bad;
  std::string_view rest = encoded.substr(kArgon2idPrefix.size());
  std::optional<uint32_t> m = TakeParam(&rest, 'm');
  if (!m || !TakeChar(&rest, ',')) return bad;
  std::optional<uint32_t> t = TakeParam(&rest, 't');
  if (!t || !TakeChar(&rest, ',')) return bad;
  std::optional<uint32_t> p = TakeParam(&rest, 'p');
  if (!p || !TakeChar(&rest, '$')) return bad;
  if (*t < 1 || *t > kArgon2IterationsMax || *p < 1 || *p > kArgon2LanesMax || *m < 8 * *p ||
      *m > kArgon2MemoryKibMax) {
    return bad;
  }
  size_t dollar = rest.find('$');
  if (dollar == std::string_view::npos) return bad;
  if (!IsPhcBase64(rest.substr(0, dollar)) || !IsPhcBase64(rest.substr(dollar + 1))) return bad;
  return Status::Ok();
}

}  // namespace nebu::accounts
