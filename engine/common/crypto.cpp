#include "engine/common/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <climits>

namespace nebu {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";
constexpr char kBase64Std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kBase64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr char kAlnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
constexpr size_t kAlnumCount = sizeof(kAlnum) - 1;  // 62
constexpr uint8_t kNotBase64 = 0xff;

std::string_view AsView(const Sha256Digest& digest) {
  return {reinterpret_cast<const char*>(digest.data()), digest.size()};
}

// Unpadded base64 of bytes with the given 64-character alphabet.
std::string EncodeBase64(std::string_view bytes, const char* alphabet) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  size_t n = bytes.size();
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t w = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8) | p[i + 2];
    out.push_back(alphabet[(w >> 18) & 63]);
    out.push_back(alphabet[(w >> 12) & 63]);
    out.push_back(alphabet[(w >> 6) & 63]);
    out.push_back(alphabet[w & 63]);
  }
  if (n - i == 1) {
    uint32_t w = uint32_t{p[i]} << 16;
    out.push_back(alphabet[(w >> 18) & 63]);
    out.push_back(alphabet[(w >> 12) & 63]);
  } else if (n - i == 2) {
    uint32_t w = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8);
    out.push_back(alphabet[(w >> 18) & 63]);
    out.push_back(alphabet[(w >> 12) & 63]);
    out.push_back(alphabet[(w >> 6) & 63]);
  }
  return out;
}

struct DecodeTable {
  uint8_t value[256];
  constexpr DecodeTable() : value{} {
    for (auto& v : value) v = kNotBase64;
    for (uint8_t i = 0; i < 64; ++i) value[static_cast<uint8_t>(kBase64Std[i])] = i;
  }
};
constexpr DecodeTable kDecode;

// Fetched once: EVP_sha256() makes OpenSSL 3 look the provider up (under a lock)
// on every call.
const EVP_MD* Sha256Md() {
  static const EVP_MD* md = [] {
    EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    NEBU_CHECK(fetched != nullptr, "EVP_MD_fetch(SHA256) failed");
    return fetched;
  }();
  return md;
}

}  // namespace

Sha256Digest Sha256(std::string_view bytes) {
  Sha256Digest digest{};
  unsigned int len = 0;
  int ok = EVP_Digest(bytes.data(), bytes.size(), digest.data(), &len, Sha256Md(), nullptr);
  NEBU_CHECK(ok == 1 && len == digest.size(), "EVP_Digest(SHA-256) failed");
  return digest;
}

std::string HexEncode(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kHexDigits[c >> 4]);
    out.push_back(kHexDigits[c & 15]);
  }
  return out;
}

std::string HexEncode(const Sha256Digest& digest) { return HexEncode(AsView(digest)); }

std::string Base64Unpadded(std::string_view bytes) { return EncodeBase64(bytes, kBase64Std); }
std::string Base64Unpadded(const Sha256Digest& digest) {
  return EncodeBase64(AsView(digest), kBase64Std);
}
std::string Base64UrlUnpadded(std::string_view bytes) { return EncodeBase64(bytes, kBase64Url); }
std::string Base64UrlUnpadded(const Sha256Digest& digest) {
  return EncodeBase64(AsView(digest), kBase64Url);
}

Result<std::string> Base64Decode(std::string_view text) {
  // Padding is allowed only to complete the last quantum to 4 characters.
  if (text.size() % 4 == 0 && !text.empty()) {
    size_t pad = 0;
    while (pad < 2 && text[text.size() - 1 - pad] == '=') ++pad;
    text.remove_suffix(pad);
  }
  if (text.size() % 4 == 1) return Status::InvalidArgument("base64: bad length");
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : text) {
    uint8_t v = kDecode.value[c];
    if (v == kNotBase64) return Status::InvalidArgument("base64: bad character");
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  // Leftover bits of the last character must be zero (canonical encoding).
  if ((acc & ((1u << bits) - 1)) != 0) return Status::InvalidArgument("base64: trailing bits");
  return out;
}

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (n == 0) return out;
  NEBU_CHECK(n <= static_cast<size_t>(INT_MAX), "RandomBytes: too many bytes");
  int ok = RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n));
  NEBU_CHECK(ok == 1, "RAND_bytes failed");
  return out;
}

std::string RandomAlnum(size_t n) {
  // Rejection sampling keeps the distribution uniform: 248 = 4 * 62.
  constexpr unsigned kAcceptBelow = 256 - 256 % kAlnumCount;
  std::string out;
  out.reserve(n);
  while (out.size() < n) {
    std::string bytes = RandomBytes(n - out.size() + 8);
    for (unsigned char c : bytes) {
      if (c >= kAcceptBelow) continue;
      out.push_back(kAlnum[c % kAlnumCount]);
      if (out.size() == n) break;
    }
  }
  return out;
}

bool SecretsEqual(std::string_view presented, std::string_view expected) {
  const Sha256Digest a = Sha256(presented);
  const Sha256Digest b = Sha256(expected);
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace nebu
