// GroupCodec: a group decodes to what was encoded; any single changed byte, and any
// truncation or extension, is kCorruption (never an assertion). Property tests
// (rapidcheck; RC_PARAMS="reproduce=..." replays a failure).
#include "replication/group_codec.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include "engine/storage/crc32c.h"
#include "engine/storage/keys.h"

namespace nebu::replication {
namespace {

using core::Command;
using core::CommandKind;
using core::GroupOrigin;

rc::Gen<Command> GenCommand() {
  return rc::gen::build<Command>(
      rc::gen::set(&Command::kind,
                   rc::gen::element(CommandKind::kRoomEvent, CommandKind::kCreateRoom,
                                    CommandKind::kAccount, CommandKind::kNoop, CommandKind::kAlias,
                                    CommandKind::kE2ee, CommandKind::kReceipt)),
      rc::gen::set(&Command::payload, rc::gen::container<std::string>(rc::gen::arbitrary<char>())));
}

rc::Gen<GroupOrigin> GenOrigin() {
  return rc::gen::build<GroupOrigin>(
      rc::gen::set(&GroupOrigin::node_id,
                   rc::gen::nonEmpty(rc::gen::container<std::string>(
                       rc::gen::element('a', 'z', 'Q', '0', '9', '.', '_', '-')))),
      rc::gen::set(&GroupOrigin::incarnation, rc::gen::arbitrary<uint64_t>()),
      rc::gen::set(&GroupOrigin::seq, rc::gen::arbitrary<uint64_t>()));
}

struct Encoded {
  GroupOrigin origin;
  std::vector<Command> commands;
  std::string bytes;
};

Encoded Generate() {
  Encoded e;
  e.origin = *GenOrigin();
  RC_PRE(e.origin.node_id.size() <= kNodeIdBytesMax);
  e.commands = *rc::gen::container<std::vector<Command>>(GenCommand());
  e.bytes = EncodeGroup(e.origin, e.commands);
  return e;
}

RC_GTEST_PROP(GroupCodecProperty, DecodeInvertsEncode, ()) {
  Encoded e = Generate();
  Result<DecodedGroup> g = DecodeGroup(e.bytes);
  RC_ASSERT(g.ok());
  RC_ASSERT(g->origin.node_id == e.origin.node_id);
  RC_ASSERT(g->origin.incarnation == e.origin.incarnation);
  RC_ASSERT(g->origin.seq == e.origin.seq);
  RC_ASSERT(g->origin.revision == 0u);
  RC_ASSERT(g->commands.size() == e.commands.size());
  for (size_t i = 0; i < e.commands.size(); ++i) {
    RC_ASSERT(g->commands[i].kind == e.commands[i].kind);
    RC_ASSERT(g->commands[i].payload == e.commands[i].payload);
  }
}

RC_GTEST_PROP(GroupCodecProperty, AnyChangedByteIsCorruption, ()) {
  Encoded e = Generate();
  const size_t at = *rc::gen::inRange<size_t>(0, e.bytes.size());
  const auto flip = *rc::gen::inRange<int>(1, 256);
  e.bytes[at] = static_cast<char>(static_cast<uint8_t>(e.bytes[at]) ^ flip);
  Result<DecodedGroup> g = DecodeGroup(e.bytes);
  RC_ASSERT(!g.ok());
  RC_ASSERT(g.status().code() == StatusCode::kCorruption);
}

RC_GTEST_PROP(GroupCodecProperty, TruncatedOrExtendedIsCorruption, ()) {
  Encoded e = Generate();
  if (*rc::gen::arbitrary<bool>()) {
    e.bytes.resize(*rc::gen::inRange<size_t>(0, e.bytes.size()));
  } else {
    e.bytes += *rc::gen::nonEmpty(rc::gen::container<std::string>(rc::gen::arbitrary<char>()));
  }
  Result<DecodedGroup> g = DecodeGroup(e.bytes);
  RC_ASSERT(!g.ok());
  RC_ASSERT(g.status().code() == StatusCode::kCorruption);
}

RC_GTEST_PROP(GroupCodecProperty, ArbitraryBytesNeverCrash, (const std::string& bytes)) {
  Result<DecodedGroup> g = DecodeGroup(bytes);
  RC_ASSERT(!g.ok());
}

TEST(GroupCodec, KeyIsNodeIncarnationAndSeqInFixedWidthHex) {
  EXPECT_EQ(GroupKey({"node-1", 0xabc, 7, 99}), "node-1/0000000000000abc/0000000000000007");
}

TEST(GroupCodec, NodeIdsAreKeyComponents) {
  EXPECT_TRUE(IsValidNodeId("nebu-1.example_A"));
  EXPECT_FALSE(IsValidNodeId(""));
  EXPECT_FALSE(IsValidNodeId("a/b"));
  EXPECT_FALSE(IsValidNodeId(std::string(kNodeIdBytesMax + 1, 'a')));
}

TEST(GroupCodec, AFullGroupOfLargestCommandsStaysUnderTheGroupLimit) {
  // The committer packs by GroupCommandBytes; check the arithmetic against real bytes.
  std::vector<Command> commands(
      3, Command{CommandKind::kNoop, std::string(core::kCommandBytesMax, 'x')});
  GroupOrigin origin{std::string(kNodeIdBytesMax, 'n'), 1, 1, 0};
  size_t expected = kGroupHeaderBytes + origin.node_id.size();
  for (const auto& c : commands) expected += GroupCommandBytes(c);
  EXPECT_EQ(EncodeGroup(origin, commands).size(), expected);
  EXPECT_LE(expected, kGroupBytesMax);
}

TEST(GroupCodec, UnknownVersionIsCorruptionEvenWithAValidChecksum) {
  std::string bytes = EncodeGroup({"n", 1, 1, 0}, {});
  bytes[0] = 2;
  bytes.resize(bytes.size() - 4);
  storage::PutU32(&bytes, storage::Crc32c(bytes));
  Result<DecodedGroup> g = DecodeGroup(bytes);
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("version"), std::string::npos);
}

}  // namespace
}  // namespace nebu::replication
