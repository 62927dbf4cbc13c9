#include "app/backup_format.h"

#include <openssl/evp.h>

#include <boost/json.hpp>
#include <fstream>
#include <memory>

namespace nebu::app {

namespace json = boost::json;

namespace {

Status Bad(std::string_view what) {
  return Status::Corruption("backup manifest: bad or missing " + std::string(what));
}

Result<std::string> GetString(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) return Bad(key);
  return std::string(v->as_string());
}

Result<uint64_t> GetU64(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return Bad(key);
  if (v->is_uint64()) return v->as_uint64();
  if (v->is_int64() && v->as_int64() >= 0) return static_cast<uint64_t>(v->as_int64());
  return Bad(key);
}

Result<json::object> ParseObject(std::string_view text, std::string_view what) {
  if (text.size() > kBackupManifestBytesMax) {
    return Status::Corruption(std::string(what) + " is over " +
                              std::to_string(kBackupManifestBytesMax) + " bytes");
  }
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return Status::Corruption(std::string(what) + " is not a JSON object");
  return std::move(v.as_object());
}

Result<std::vector<BackupFile>> DecodeFiles(const json::object& o) {
  const json::value* files = o.if_contains("files");
  if (files == nullptr || !files->is_array()) return Bad("files");
  std::vector<BackupFile> out;
  for (const json::value& f : files->as_array()) {
    if (!f.is_object()) return Bad("files[]");
    BackupFile file;
    NEBU_ASSIGN_OR_RETURN(file.path, GetString(f.as_object(), "path"));
    NEBU_ASSIGN_OR_RETURN(file.size, GetU64(f.as_object(), "size"));
    NEBU_ASSIGN_OR_RETURN(file.sha256, GetString(f.as_object(), "sha256"));
    const json::value* linked = f.as_object().if_contains("linked");
    file.linked = linked != nullptr && linked->is_bool() && linked->as_bool();
    if (!IsBackupFilePath(file.path)) return Bad("files[].path " + file.path);
    if (!IsSha256Hex(file.sha256)) return Bad("files[].sha256 of " + file.path);
    out.push_back(std::move(file));
  }
  return out;
}

}  // namespace

uint64_t BackupManifest::bytes() const {
  uint64_t total = 0;
  for (const BackupFile& f : files) total += f.size;
  return total;
}

std::string EncodeManifest(const BackupManifest& m) {
  json::array files;
  for (const BackupFile& f : m.files) {
    files.push_back(json::object{
        {"path", f.path}, {"size", f.size}, {"sha256", f.sha256}, {"linked", f.linked}});
  }
  json::object rooms;
  for (const auto& [room, digest] : m.room_digests) rooms[std::to_string(room)] = digest;
  json::object o{{"format", m.format},
                 {"id", m.id},
                 {"previous", m.previous},
                 {"nebu_version", m.nebu_version},
                 {"server_name", m.server_name},
                 {"cluster_id", m.cluster_id},
                 {"created_ms", m.created_ms},
                 {"applied_index", m.applied_index},
                 {"stream_position", m.stream_position},
                 {"group_revision", m.group_revision},
                 {"sync_epoch", m.sync_epoch},
                 {"lineage", m.lineage},
                 {"events", m.events},
                 {"bytes", m.bytes()},
                 {"state_digest", m.state_digest},
                 {"room_digests", std::move(rooms)},
                 {"files", std::move(files)}};
  return json::serialize(o);
}

Result<BackupManifest> DecodeManifest(std::string_view text) {
  NEBU_ASSIGN_OR_RETURN(json::object o, ParseObject(text, "backup manifest"));
  BackupManifest m;
  NEBU_ASSIGN_OR_RETURN(uint64_t format, GetU64(o, "format"));
  if (format != kBackupFormatVersion) {
    return Status::Corruption("backup manifest: format " + std::to_string(format) +
                              " is not one this nebu reads (" +
                              std::to_string(kBackupFormatVersion) + ")");
  }
  NEBU_ASSIGN_OR_RETURN(m.id, GetString(o, "id"));
  if (!IsBackupId(m.id)) return Bad("id");
  NEBU_ASSIGN_OR_RETURN(m.previous, GetString(o, "previous"));
  NEBU_ASSIGN_OR_RETURN(m.nebu_version, GetString(o, "nebu_version"));
  NEBU_ASSIGN_OR_RETURN(m.server_name, GetString(o, "server_name"));
  NEBU_ASSIGN_OR_RETURN(m.cluster_id, GetString(o, "cluster_id"));
  NEBU_ASSIGN_OR_RETURN(uint64_t created, GetU64(o, "created_ms"));
  m.created_ms = static_cast<int64_t>(created);
  NEBU_ASSIGN_OR_RETURN(m.applied_index, GetU64(o, "applied_index"));
  NEBU_ASSIGN_OR_RETURN(m.stream_position, GetU64(o, "stream_position"));
  NEBU_ASSIGN_OR_RETURN(m.group_revision, GetU64(o, "group_revision"));
  NEBU_ASSIGN_OR_RETURN(m.sync_epoch, GetU64(o, "sync_epoch"));
  NEBU_ASSIGN_OR_RETURN(m.lineage, GetString(o, "lineage"));
  NEBU_ASSIGN_OR_RETURN(m.events, GetU64(o, "events"));
  NEBU_ASSIGN_OR_RETURN(m.state_digest, GetString(o, "state_digest"));
  if (!IsSha256Hex(m.state_digest)) return Bad("state_digest");
  const json::value* rooms = o.if_contains("room_digests");
  if (rooms == nullptr || !rooms->is_object()) return Bad("room_digests");
  for (const auto& [key, value] : rooms->as_object()) {
    char* end = nullptr;
    std::string k(key);
    uint64_t room = std::strtoull(k.c_str(), &end, 10);
    if (k.empty() || *end != '\0' || !value.is_string() || !IsSha256Hex(value.as_string())) {
      return Bad("room_digests." + k);
    }
    m.room_digests[room] = std::string(value.as_string());
  }
  NEBU_ASSIGN_OR_RETURN(m.files, DecodeFiles(o));
  return m;
}

std::string EncodeIndex(const std::vector<std::string>& ids) {
  json::array a;
  for (const std::string& id : ids) a.push_back(json::string(id));
  return json::serialize(json::object{{"format", kBackupFormatVersion}, {"backups", std::move(a)}});
}

Result<std::vector<std::string>> DecodeIndex(std::string_view text) {
  NEBU_ASSIGN_OR_RETURN(json::object o, ParseObject(text, "backup index"));
  const json::value* a = o.if_contains("backups");
  if (a == nullptr || !a->is_array()) return Status::Corruption("backup index: no backups list");
  std::vector<std::string> ids;
  for (const json::value& v : a->as_array()) {
    if (!v.is_string() || !IsBackupId(v.as_string())) {
      return Status::Corruption("backup index: a bad backup id");
    }
    ids.emplace_back(v.as_string());
  }
  return ids;
}

std::string ObjectName(std::string_view sha256) {
  return "objects/" + std::string(sha256.substr(0, 2)) + "/" + std::string(sha256);
}

std::string ManifestName(std::string_view id) { return "manifests/" + std::string(id) + ".json"; }

bool IsSha256Hex(std::string_view text) {
  if (text.size() != 64) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool IsBackupId(std::string_view text) {
  if (text.empty() || text.size() > 64) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-')) {
      return false;
    }
  }
  return true;
}

bool IsBackupFilePath(std::string_view path) {
  std::string_view name;
  if (path.starts_with("db/")) {
    name = path.substr(3);
  } else if (path.starts_with("log/")) {
    name = path.substr(4);
  } else {
    return false;
  }
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string_view::npos &&
         name.find('\0') == std::string_view::npos;
}

Result<std::string> HashFile(const std::filesystem::path& file, const BytesCallback& on_bytes) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return Status::IoError("cannot read " + file.string());
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
    return Status::Internal("SHA-256 unavailable");
  }
  std::string buffer(kBackupChunkBytes, '\0');
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    std::streamsize got = in.gcount();
    if (got <= 0) break;
    EVP_DigestUpdate(ctx.get(), buffer.data(), static_cast<size_t>(got));
    if (on_bytes) on_bytes(static_cast<uint64_t>(got));
  }
  if (in.bad()) return Status::IoError("cannot read " + file.string());
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &length);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 15]);
  }
  return hex;
}

}  // namespace nebu::app
