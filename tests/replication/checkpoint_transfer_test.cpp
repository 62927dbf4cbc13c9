// CheckpointServer and DownloadCheckpoint over real gRPC on loopback and a real
// RocksDB (no etcd): the copy opens with the same contents; a wrong secret or cluster
// ID is refused and creates nothing on either side; a second transfer while one runs
// gets kResourceExhausted; a transfer whose client goes away leaves no checkpoint.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "engine/common/crypto.h"
#include "engine/storage/store.h"
#include "engine/testing/temp_dir.h"
#include "proto/core/core.grpc.pb.h"
#include "replication/checkpoint_client.h"
#include "replication/checkpoint_codec.h"
#include "replication/checkpoint_server.h"

namespace nebu::replication {
namespace {

namespace fs = std::filesystem;
using storage::Cf;

constexpr std::string_view kTransferSecret = "transfer-test-secret-0123456789abcdef";
constexpr std::string_view kTransferCluster = "00112233445566778899aabbccddeeff";

class CheckpointTransferTest : public ::testing::Test {
 protected:
  // A state DB with `values` values of `bytes` random bytes each (flushed), served.
  void SetUpServer(int values, size_t bytes) {
    fs::create_directories(dir_.path() + "/peer");
    auto store = storage::Store::Open({.path = dir_.path() + "/peer/db"});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    for (int i = 0; i < values; ++i) {
      rocksdb::WriteBatch batch;
      batch.Put(store_->handle(Cf::kEvents), "k" + std::to_string(i), RandomBytes(bytes));
      ASSERT_TRUE(store_->Write(batch, false).ok());
    }
    auto server = CheckpointServer::Start({.address = "127.0.0.1:0",
                                           .data_dir = dir_.path() + "/peer",
                                           .cluster_id = std::string(kTransferCluster),
                                           .secret = std::string(kTransferSecret),
                                           .db = store_->db(),
                                           .applied_revision = [] { return int64_t{77}; }});
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
    addr_ = "127.0.0.1:" + std::to_string(server_->port());
  }

  void TearDown() override {
    if (server_) server_->Stop();
  }

  bool NoCheckpointsLeft() {
    std::error_code ec;
    return fs::is_empty(dir_.path() + "/peer/checkpoints", ec);
  }

  CheckpointClientOptions Client() {
    return {.secret = std::string(kTransferSecret),
            .cluster_id = std::string(kTransferCluster),
            .node_id = "joiner"};
  }

  nebu::testing::TempDir dir_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<CheckpointServer> server_;
  std::string addr_;
};

TEST_F(CheckpointTransferTest, TheCopyOpensWithTheSameContents) {
  SetUpServer(300, 4096);  // ~1.2 MB: more than one chunk
  if (HasFatalFailure()) return;
  const std::string target = dir_.path() + "/joiner/db";
  auto got = DownloadCheckpoint(addr_, Client(), target);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->applied_revision, 77);
  EXPECT_GT(got->bytes, 300u * 4096);
  EXPECT_TRUE(NoCheckpointsLeft());
  auto copy = storage::Store::Open({.path = target});
  ASSERT_TRUE(copy.ok()) << copy.status().ToString();
  for (int i : {0, 150, 299}) {
    auto want = store_->Get(Cf::kEvents, "k" + std::to_string(i));
    auto have = (*copy)->Get(Cf::kEvents, "k" + std::to_string(i));
    ASSERT_TRUE(want.ok() && have.ok() && want->has_value());
    EXPECT_EQ(**want, **have);
  }
}

TEST_F(CheckpointTransferTest, AWrongSecretOrClusterIsRefusedAndCreatesNothing) {
  SetUpServer(10, 100);
  if (HasFatalFailure()) return;
  const std::string target = dir_.path() + "/joiner/db";
  CheckpointClientOptions wrong = Client();
  wrong.secret = "another-secret-0123456789abcdef012345";
  EXPECT_EQ(DownloadCheckpoint(addr_, wrong, target).status().code(),
            StatusCode::kUnauthenticated);
  wrong = Client();
  wrong.cluster_id = "ffeeddccbbaa99887766554433221100";
  EXPECT_EQ(DownloadCheckpoint(addr_, wrong, target).status().code(), StatusCode::kForbidden);
  wrong = Client();
  wrong.secret.clear();
  EXPECT_EQ(DownloadCheckpoint(addr_, wrong, target).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_FALSE(fs::exists(target));
  EXPECT_TRUE(NoCheckpointsLeft());
  // A replayed request (same nonce) is refused.
  auto channel = grpc::CreateChannel(addr_, grpc::InsecureChannelCredentials());
  auto stub = core::CoreService::NewStub(channel);
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  core::CheckpointRequest request = MakeCheckpointRequest(
      kTransferSecret, kTransferCluster, "joiner", RandomBytes(kCheckpointNonceBytes), now);
  for (grpc::StatusCode want : {grpc::StatusCode::OK, grpc::StatusCode::UNAUTHENTICATED}) {
    grpc::ClientContext context;
    auto reader = stub->GetCheckpoint(&context, request);
    core::CheckpointEnvelope envelope;
    while (reader->Read(&envelope)) {
    }
    EXPECT_EQ(reader->Finish().error_code(), want);
  }
}

TEST_F(CheckpointTransferTest, OneTransferAtATimeAndAnAbandonedOneLeavesNothing) {
  SetUpServer(64, 256 * 1024);  // 16 MB of incompressible values: flow control holds it
  if (HasFatalFailure()) return;
  auto channel = grpc::CreateChannel(addr_, grpc::InsecureChannelCredentials());
  auto stub = core::CoreService::NewStub(channel);
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  auto context = std::make_unique<grpc::ClientContext>();
  auto reader = stub->GetCheckpoint(context.get(),
                                    MakeCheckpointRequest(kTransferSecret, kTransferCluster, "slow",
                                                          RandomBytes(kCheckpointNonceBytes), now));
  core::CheckpointEnvelope envelope;
  ASSERT_TRUE(reader->Read(&envelope));  // the header: the transfer runs, then stalls
  EXPECT_FALSE(NoCheckpointsLeft());
  auto second = DownloadCheckpoint(addr_, Client(), dir_.path() + "/joiner/db");
  EXPECT_EQ(second.status().code(), StatusCode::kResourceExhausted) << second.status().ToString();
  EXPECT_FALSE(fs::exists(dir_.path() + "/joiner/db"));
  context->TryCancel();
  (void)reader->Finish();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!NoCheckpointsLeft() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(NoCheckpointsLeft());
  // The server is free again.
  auto third = DownloadCheckpoint(addr_, Client(), dir_.path() + "/joiner/db");
  EXPECT_TRUE(third.ok()) << third.status().ToString();
}

}  // namespace
}  // namespace nebu::replication
