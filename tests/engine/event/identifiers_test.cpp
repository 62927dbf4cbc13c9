// Goal: identifier checks accept exactly the spec grammar (appendices § Identifier
// Grammar) and the project limits in identifiers.h.
// Method: valid/invalid tables, with the spec's own examples, plus boundary lengths.
#include "engine/event/identifiers.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <string>

namespace nebu::event {
namespace {

TEST(ServerNameTest, AcceptsSpecExamplesAndPlainNames) {
  for (std::string_view name :
       {"matrix.org", "matrix.org:8888", "1.2.3.4", "1.2.3.4:1234", "[1234:5678::abcd]",
        "[1234:5678::abcd]:5678", "localhost", "localhost:0", "a", "MATRIX.ORG", "x-y.example.com",
        "example.com:65535", "[::1]", "[::ffff:1.2.3.4]:80", "255.255.255.255", "1.2.3",
        "123.example"}) {
    EXPECT_TRUE(IsValidServerName(name)) << name;
  }
}

TEST(ServerNameTest, RejectsMalformedNames) {
  for (std::string_view name : {"",
                                ":8080",
                                "matrix.org:",
                                "matrix.org:123456",
                                "matrix.org:65536",
                                "matrix.org:8a",
                                "matrix org",
                                "matrix_org",
                                "matrix..org",
                                ".matrix.org",
                                "matrix.org.",
                                "256.1.1.1",
                                "1.2.3.999",
                                "[1234:5678::abcd",
                                "1234:5678::abcd",
                                "[]",
                                "[g::1]",
                                "[:::]",
                                "[1:2:3:4:5:6:7:8:9]",
                                "exa@mple.com",
                                "ex/ample",
                                "例え.jp"}) {
    EXPECT_FALSE(IsValidServerName(name)) << name;
  }
}

TEST(ServerNameTest, LimitsDnsNamesTo255Bytes) {
  std::string name(255, 'a');
  EXPECT_TRUE(IsValidServerName(name));
  name.push_back('a');
  EXPECT_FALSE(IsValidServerName(name));
}

TEST(NewLocalpartTest, AcceptsTheStrictGrammar) {
  for (std::string_view lp : {"alice", "a", "0", "a.b_c=d-e/f+g", "bob42"}) {
    EXPECT_TRUE(IsValidNewLocalpart(lp, "example.org")) << lp;
  }
}

TEST(NewLocalpartTest, RejectsUpperCaseSymbolsAndEmpty) {
  for (std::string_view lp : {"", "Alice", "a b", "a:b", "a@b", "a#", "é", "a*", "a!", "a\n"}) {
    EXPECT_FALSE(IsValidNewLocalpart(lp, "example.org")) << lp;
  }
}

TEST(NewLocalpartTest, KeepsTheWholeUserIdWithin255Bytes) {
  std::string server = "example.org";                              // 11 bytes
  std::string fits(kIdentifierBytesMax - 2 - server.size(), 'a');  // "@" + lp + ":" + server
  EXPECT_TRUE(IsValidNewLocalpart(fits, server));
  EXPECT_FALSE(IsValidNewLocalpart(fits + "a", server));
}

TEST(UserIdTest, AcceptsCurrentAndHistoricalLocalparts) {
  for (std::string_view id : {"@alice:example.org", "@a:b", "@Alice:example.org",
                              "@a b!#$%^&*()~:example.org", "@:example.org", "@日本:example.org",
                              "@alice:[::1]:8448", "@alice:1.2.3.4", "@a\x7f:example.org"}) {
    EXPECT_TRUE(IsValidUserId(id)) << id;
  }
}

TEST(UserIdTest, RejectsMissingPartsNulAndBadServers) {
  for (std::string_view id : {"", "@", "alice:example.org", "@alice", "@alice:",
                              "#alice:example.org", "@alice:exa mple.org", "@al\xff:example.org"}) {
    EXPECT_FALSE(IsValidUserId(id)) << id;
  }
  EXPECT_FALSE(IsValidUserId(std::string_view("@a\0b:example.org", 16)));
}

TEST(UserIdTest, LimitsTheWholeIdTo255Bytes) {
  std::string id = "@" + std::string(kIdentifierBytesMax - 13, 'a') + ":example.org";
  EXPECT_EQ(id.size(), kIdentifierBytesMax);
  EXPECT_TRUE(IsValidUserId(id));
  EXPECT_FALSE(IsValidUserId("@a" + id.substr(1)));
}

TEST(RoomIdTest, AcceptsOpaqueLocalpartWithDomain) {
  for (std::string_view id : {"!abc:example.org", "!AbC123:example.org:8448", "!x:domain",
                              "!uXDCzlYgCTHtiWCkEx:jki.re", "!a/b+c:[::1]"}) {
    EXPECT_TRUE(IsValidRoomId(id)) << id;
  }
}

TEST(RoomIdTest, RejectsMissingDomainOrLocalpart) {
  for (std::string_view id :
       {"", "!", "!abc", "!:example.org", "abc:example.org", "$abc:example.org", "!abc:"}) {
    EXPECT_FALSE(IsValidRoomId(id)) << id;
  }
}

TEST(RoomAliasTest, AcceptsAliases) {
  for (std::string_view a :
       {"#room:example.org", "#Room-Name_1:example.org:8448", "#日本語:example.org"}) {
    EXPECT_TRUE(IsValidRoomAlias(a)) << a;
  }
}

TEST(RoomAliasTest, RejectsMalformedAliases) {
  for (std::string_view a : {"", "#", "#room", "#:example.org", "!room:example.org", "#room:"}) {
    EXPECT_FALSE(IsValidRoomAlias(a)) << a;
  }
  std::string long_alias = "#" + std::string(kIdentifierBytesMax, 'a') + ":example.org";
  EXPECT_FALSE(IsValidRoomAlias(long_alias));
}

TEST(EventIdTest, AcceptsRoomVersion4PlusIds) {
  // The spec's example (rooms/fragments/v4-event-ids.md) and a gomatrixserverlib vector.
  EXPECT_TRUE(IsValidEventId("$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg"));
  EXPECT_TRUE(IsValidEventId("$RrGxF28UrHLmoASHndYb9Jb_1SFww2ptmtur9INS438"));
}

TEST(EventIdTest, RejectsOtherShapes) {
  for (std::string_view id :
       {"", "$", "$abc", "$0:domain", "Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg",
        "$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Z",
        "$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zgg",
        "$RrGxF28UrHLmoASHndYb9Jb/1SFww2ptmtur9INS438",
        "!Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg"}) {
    EXPECT_FALSE(IsValidEventId(id)) << id;
  }
}

TEST(EventTypeTest, AcceptsNonEmptyUpTo255Bytes) {
  EXPECT_TRUE(IsValidEventType("m.room.message"));
  EXPECT_TRUE(IsValidEventType(std::string(kEventTypeBytesMax, 'x')));
  EXPECT_FALSE(IsValidEventType(""));
  EXPECT_FALSE(IsValidEventType(std::string(kEventTypeBytesMax + 1, 'x')));
  EXPECT_FALSE(IsValidEventType(std::string("m.\0x", 4)));  // no SQL text column stores NUL
}

TEST(StateKeyTest, AcceptsEmptyUpTo255Bytes) {
  EXPECT_TRUE(IsValidStateKey(""));
  EXPECT_TRUE(IsValidStateKey("@alice:example.org"));
  EXPECT_TRUE(IsValidStateKey(std::string(kStateKeyBytesMax, 'x')));
  EXPECT_FALSE(IsValidStateKey(std::string(kStateKeyBytesMax + 1, 'x')));
  EXPECT_FALSE(IsValidStateKey(std::string("a\0b", 3)));
}

TEST(IdPartsTest, SplitsAtTheFirstColon) {
  EXPECT_EQ(ServerNameOf("@alice:example.org:8448"), "example.org:8448");
  EXPECT_EQ(LocalpartOf("@alice:example.org:8448"), "alice");
  EXPECT_EQ(ServerNameOf("!r:[::1]"), "[::1]");
  EXPECT_EQ(LocalpartOf("#:x"), "");
  EXPECT_EQ(ServerNameOf("$abc"), "");
  EXPECT_EQ(LocalpartOf("$abc"), "");
  EXPECT_EQ(ServerNameOf(""), "");
}

TEST(Utf8Test, AcceptsWellFormedText) {
  for (std::string_view s :
       {"", "ascii only, longer than eight bytes", "é", "日本語", "\xf0\x9f\x98\x80",
        "\xef\xbf\xbf", "\xf4\x8f\xbf\xbf", "\xed\x9f\xbf"}) {
    EXPECT_TRUE(IsValidUtf8(s)) << s;
  }
  EXPECT_TRUE(IsValidUtf8(std::string_view("\0", 1)));
}

TEST(Utf8Test, RejectsMalformedText) {
  for (std::string_view s :
       {"\x80", "\xc0\xaf", "\xc1\xbf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xed\xbf\xbf",
        "\xf0\x80\x80\xaf", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xff", "\xc3",
        "abcdefgh\xe6\x97", "\xe6\x97\x41", "12345678\x80"}) {
    EXPECT_FALSE(IsValidUtf8(s)) << testing::PrintToString(s);
  }
}

// Encodes code point cp (no surrogates) as UTF-8.
std::string EncodeUtf8(uint32_t cp) {
  std::string out;
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
  return out;
}

RC_GTEST_PROP(Utf8Property, EveryEncodedScalarValueIsValid, ()) {
  auto cp = *rc::gen::suchThat(rc::gen::inRange<uint32_t>(0, 0x110000),
                               [](uint32_t c) { return c < 0xD800 || c > 0xDFFF; });
  RC_ASSERT(IsValidUtf8(EncodeUtf8(cp)));
}

RC_GTEST_PROP(Utf8Property, AgreesWithATruncationOfAValidString,
              (const std::vector<uint16_t>& cps)) {
  std::string s;
  for (uint16_t c : cps) {
    if (c < 0xD800 || c > 0xDFFF) s += EncodeUtf8(c);
  }
  RC_ASSERT(IsValidUtf8(s));
  if (!s.empty() && static_cast<unsigned char>(s.back()) >= 0x80) {
    RC_ASSERT(!IsValidUtf8(s.substr(0, s.size() - 1)));  // cut inside the last sequence
  }
}

}  // namespace
}  // namespace nebu::event
