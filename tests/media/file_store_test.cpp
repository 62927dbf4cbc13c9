// Goal: FileContentStore keeps the ContentStore contract: Put makes the object readable
// under its hash with the same bytes, a second Put of the hash is OK and leaves the
// object alone, the caller's spooled file stays, nothing is left in tmp/, malformed
// hashes and size mismatches are refused, Open clears leftovers of a crash.
// Method: real files in a temporary directory.
#include "media/file_store.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "engine/common/crypto.h"
#include "engine/testing/temp_dir.h"

namespace nebu::media {
namespace {

namespace fs = std::filesystem;

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

fs::path Spool(const fs::path& dir, const std::string& name, const std::string& bytes) {
  fs::path p = dir / name;
  std::ofstream(p, std::ios::binary) << bytes;
  return p;
}

size_t Count(const fs::path& dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

TEST(FileContentStoreTest, PutThenFetchReturnsTheBytesAndKeepsTheSpooledFile) {
  nebu::testing::TempDir dir;
  auto store = FileContentStore::Open(fs::path(dir.path()) / "media");
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  const std::string bytes = "hello media";
  const std::string hash = HexEncode(Sha256(bytes));
  const fs::path spooled = Spool(fs::path(dir.path()), "spool1", bytes);
  EXPECT_FALSE(*(*store)->Exists(hash));
  EXPECT_EQ((*store)->Fetch(hash).status().code(), StatusCode::kNotFound);
  ASSERT_TRUE((*store)->Put(hash, spooled, bytes.size()).ok());
  EXPECT_TRUE(fs::exists(spooled));
  auto path = (*store)->Fetch(hash);
  ASSERT_TRUE(path.ok());
  EXPECT_EQ(ReadAll(*path), bytes);
  EXPECT_EQ(*path, (*store)->PathOf(hash));
  EXPECT_EQ(Count(fs::path(dir.path()) / "media" / "tmp"), 0u);
  // Again, from another spool file: OK, the object unchanged.
  fs::remove(spooled);
  const fs::path again = Spool(fs::path(dir.path()), "spool2", bytes);
  ASSERT_TRUE((*store)->Put(hash, again, bytes.size()).ok());
  EXPECT_EQ(ReadAll(*path), bytes);
  EXPECT_EQ((*store)->name(), "file");
}

TEST(FileContentStoreTest, EmptyObjectAndCopyAcrossFilesystems) {
  nebu::testing::TempDir disk;
  nebu::testing::TempDir tmpfs{nebu::testing::TempDir::kTmpfs};
  auto store = FileContentStore::Open(fs::path(disk.path()) / "media");
  ASSERT_TRUE(store.ok());
  const std::string hash = HexEncode(Sha256(""));
  ASSERT_TRUE((*store)->Put(hash, Spool(fs::path(tmpfs.path()), "empty", ""), 0).ok());
  EXPECT_EQ(ReadAll(*(*store)->Fetch(hash)), "");
  const std::string big(3 * FileContentStore::kCopyChunkBytes + 17, 'x');
  const std::string big_hash = HexEncode(Sha256(big));
  ASSERT_TRUE((*store)->Put(big_hash, Spool(fs::path(tmpfs.path()), "big", big), big.size()).ok());
  EXPECT_EQ(ReadAll(*(*store)->Fetch(big_hash)), big);
}

TEST(FileContentStoreTest, RefusesMalformedHashesAndSizeMismatches) {
  nebu::testing::TempDir dir;
  auto store = FileContentStore::Open(fs::path(dir.path()) / "media");
  ASSERT_TRUE(store.ok());
  const fs::path spooled = Spool(fs::path(dir.path()), "s", "abc");
  for (std::string bad : {std::string(), std::string("../../etc/passwd"), std::string(64, 'A'), std::string(63, 'a')}) {
    EXPECT_EQ((*store)->Put(bad, spooled, 3).code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ((*store)->Exists(bad).status().code(), StatusCode::kInvalidArgument);
  }
  const std::string hash = HexEncode(Sha256("abc"));
  EXPECT_EQ((*store)->Put(hash, spooled, 4).code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(*(*store)->Exists(hash));
  EXPECT_NE((*store)->Put(hash, fs::path(dir.path()) / "missing", 3).code(), StatusCode::kOk);
}

TEST(FileContentStoreTest, OpenClearsLeftoverTemporaryFiles) {
  nebu::testing::TempDir dir;
  ASSERT_TRUE(FileContentStore::Open(fs::path(dir.path()) / "media").ok());
  Spool(fs::path(dir.path()) / "media" / "tmp", ".tmp-crashed", "partial");
  ASSERT_TRUE(FileContentStore::Open(fs::path(dir.path()) / "media").ok());
  EXPECT_EQ(Count(fs::path(dir.path()) / "media" / "tmp"), 0u);
}

TEST(FileContentStoreTest, WriteFileDurablyReplacesAtomically) {
  nebu::testing::TempDir dir;
  const fs::path p = fs::path(dir.path()) / "a" / "b" / "thumb";
  ASSERT_TRUE(WriteFileDurably(p, "one").ok());
  ASSERT_TRUE(WriteFileDurably(p, "two").ok());
  EXPECT_EQ(ReadAll(p), "two");
  EXPECT_EQ(Count(p.parent_path()), 1u);
}

}  // namespace
}  // namespace nebu::media
