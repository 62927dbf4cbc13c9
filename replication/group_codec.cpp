#include "replication/group_codec.h"

#include <cstdio>

#include "engine/storage/crc32c.h"
#include "engine/storage/keys.h"

namespace nebu::replication {

namespace {

Status Bad(const std::string& what) { return Status::Corruption("replicated group: " + what); }

// Reads a big-endian integer of N bytes at *in and advances it; false if truncated.
template <typename T>
bool Take(std::string_view* in, T* out) {
  if (in->size() < sizeof(T)) return false;
  T v = 0;
  for (size_t i = 0; i < sizeof(T); ++i)
    v = static_cast<T>((v << 8) | static_cast<uint8_t>((*in)[i]));
  in->remove_prefix(sizeof(T));
  *out = v;
  return true;
}

}  // namespace

size_t GroupCommandBytes(const core::Command& command) {
  return kGroupPerCommandBytes + 1 + command.payload.size();
}

bool IsValidNodeId(std::string_view node_id) {
  if (node_id.empty() || node_id.size() > kNodeIdBytesMax) return false;
  for (char c : node_id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string EncodeGroup(const core::GroupOrigin& origin,
                        const std::vector<core::Command>& commands) {
  NEBU_CHECK(IsValidNodeId(origin.node_id), "group from an invalid node ID");
  NEBU_CHECK(commands.size() <= kGroupCommandsMax, "group over kGroupCommandsMax");
  std::string out;
  out.push_back(static_cast<char>(kGroupFormatVersion));
  out.push_back(static_cast<char>(origin.node_id.size() >> 8));
  out.push_back(static_cast<char>(origin.node_id.size() & 0xff));
  out.append(origin.node_id);
  storage::PutU64(&out, origin.incarnation);
  storage::PutU64(&out, origin.seq);
  storage::PutU32(&out, static_cast<uint32_t>(commands.size()));
  for (const auto& c : commands) {
    NEBU_CHECK(c.payload.size() <= core::kCommandBytesMax, "command over kCommandBytesMax");
    std::string bytes = core::EncodeCommand(c);
    storage::PutU32(&out, static_cast<uint32_t>(bytes.size()));
    out.append(bytes);
  }
  storage::PutU32(&out, storage::Crc32c(out));
  NEBU_CHECK(out.size() <= kGroupBytesMax, "group over kGroupBytesMax");
  return out;
}

Result<DecodedGroup> DecodeGroup(std::string_view bytes) {
  if (bytes.size() < kGroupHeaderBytes) return Bad("truncated");
  if (bytes.size() > kGroupBytesMax) return Bad("over kGroupBytesMax");
  std::string_view body = bytes.substr(0, bytes.size() - 4);
  std::string_view tail = bytes.substr(bytes.size() - 4);
  uint32_t stored_crc = 0;
  (void)Take(&tail, &stored_crc);
  if (storage::Crc32c(body) != stored_crc) return Bad("checksum mismatch");

  uint8_t version = 0;
  uint16_t node_len = 0;
  if (!Take(&body, &version)) return Bad("truncated");
  if (version != kGroupFormatVersion) return Bad("unknown version " + std::to_string(version));
  if (!Take(&body, &node_len) || body.size() < node_len) return Bad("truncated node ID");
  DecodedGroup g;
  g.origin.node_id = std::string(body.substr(0, node_len));
  body.remove_prefix(node_len);
  if (!IsValidNodeId(g.origin.node_id)) return Bad("invalid node ID");
  uint32_t count = 0;
  if (!Take(&body, &g.origin.incarnation) || !Take(&body, &g.origin.seq) || !Take(&body, &count)) {
    return Bad("truncated header");
  }
  if (count > kGroupCommandsMax) return Bad("over kGroupCommandsMax commands");
  g.commands.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t len = 0;
    if (!Take(&body, &len) || body.size() < len) return Bad("truncated command");
    if (len > core::kCommandBytesMax + 1) return Bad("command over kCommandBytesMax");
    Result<core::Command> c = core::DecodeCommand(body.substr(0, len));
    if (!c.ok()) return Bad("command " + std::to_string(i) + ": " + c.status().message());
    body.remove_prefix(len);
    g.commands.push_back(std::move(*c));
  }
  if (!body.empty()) return Bad("trailing bytes");
  return g;
}

std::string GroupKey(const core::GroupOrigin& origin) {
  char hex[2 * 16 + 3];
  std::snprintf(hex, sizeof(hex), "/%016llx/%016llx",
                static_cast<unsigned long long>(origin.incarnation),
                static_cast<unsigned long long>(origin.seq));
  return origin.node_id + hex;
}

}  // namespace nebu::replication
