#include "engine/core/command.h"

namespace nebu::core {

std::string EncodeCommand(const Command& command) {
  std::string out;
  out.reserve(1 + command.payload.size());
  out.push_back(static_cast<char>(command.kind));
  out += command.payload;
  return out;
}

Result<Command> DecodeCommand(std::string_view bytes) {
  if (bytes.empty()) return Status::Corruption("empty command");
  if (bytes.size() > kCommandBytesMax + 1) return Status::Corruption("command too large");
  auto kind = static_cast<CommandKind>(static_cast<uint8_t>(bytes[0]));
  switch (kind) {
    case CommandKind::kRoomEvent:
    case CommandKind::kCreateRoom:
    case CommandKind::kAccount:
    case CommandKind::kNoop:
    case CommandKind::kAlias:
    case CommandKind::kE2ee:
    case CommandKind::kReceipt:
    case CommandKind::kKeyBackup:
    case CommandKind::kPusher:
    case CommandKind::kReport:
    case CommandKind::kRoomUpgrade:
    case CommandKind::kMedia:
    case CommandKind::kExternalId:
    case CommandKind::kAudit:
    case CommandKind::kPurge:
      return Command{kind, std::string(bytes.substr(1))};
  }
  return Status::Corruption("unknown command kind " + std::to_string(bytes[0]));
}

}  // namespace nebu::core
