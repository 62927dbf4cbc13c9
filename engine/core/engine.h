// Engine: the facade the API layer talks to. It owns one node's store, committer,
// state machine and notifier.
//
//   NEBU_ASSIGN_OR_RETURN(auto engine, Engine::Open({.data_dir = "./nebu-data"}));
//   NEBU_ASSIGN_OR_RETURN(auto room, engine->CreateRoom(request, "@alice:localhost"));
//   NEBU_ASSIGN_OR_RETURN(auto sent, engine->SendEvent({.room_id = room.room_id, ...}));
//
// Every mutation is a Command that goes propose -> commit -> apply; a call returns
// after the command is durable (fsynced here; on a quorum once replicated) and
// applied, with what the state machine decided. Reads are served from applied state
// and see every write whose call has returned.
//
// Thread-safety: all methods are safe from any thread. Destroying the Engine
// finishes accepted writes, then closes the store.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/common/clock.h"
#include "engine/common/status.h"
#include "engine/core/committer.h"
#include "engine/core/notifier.h"
#include "engine/core/room_applier.h"
#include "engine/core/snapshot.h"
#include "engine/rooms/room_creation.h"
#include "engine/rooms/room_state.h"
#include "engine/storage/envelope.h"
#include "engine/storage/store.h"

namespace nebu::core {

// Makes the engine's committer over the commit log (<data_dir>/log) and the state
// machine; called once by Engine::Open after the state machine loaded its applied
// position, before the engine calls Start() on the result. The cluster passes one
// that makes the etcd committer (replication/); an error fails Open with it.
using CommitterFactory = std::function<Result<std::unique_ptr<Committer>>(
    storage::Store& commit_log, Applier& applier)>;

struct EngineOptions {
  std::string data_dir = "./nebu-data";
  std::string server_name = "localhost";
  Clock* clock = nullptr;  // nullptr: SystemClock
  // The local committer's options when make_committer is unset; also its
  // disk_free_bytes_min is the floor WriteStatus() reports under, whatever the committer.
  LocalCommitterOptions commit;
  CommitterFactory make_committer;  // nullptr: a LocalCommitter with `commit`
};

struct CreatedRoom {
  std::string room_id;
  std::vector<AppendedEvent> events;  // in log order, create first
};

class StateMachine;

class Engine {
 public:
  // File descriptors the engine may hold open (both RocksDBs, store.h): the process
  // reserves them before sizing its connection limits (app/main.cpp).
  static constexpr int kFdsMax =
      storage::kStateDbOpenFilesMax + storage::kCommitLogOpenFilesMax + 2 * storage::kStoreOtherFilesMax;

  // Opens (creating) <data_dir>/db (state) and <data_dir>/log (commit log),
  // re-applies committed but unapplied commands, and starts the write path. A data
  // directory it creates gets mode 0700 (the process's umask decides the modes of the
  // files in it). kIoError if the directory is unusable or locked.
  static Result<std::unique_ptr<Engine>> Open(const EngineOptions& options);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // ---- writes (block until committed and applied) ----
  // Every write may also fail, with nothing committed, with kTooLarge (a command over
  // kCommandBytesMax), kNoSpace (disk full; writes resume when space is freed) or
  // kUnavailable ("writes stopped: <cause>" after a storage failure in apply, until a
  // restart). See Committer::Propose.
  // Plans the initial events (rooms/room_creation.h), picks a room id, and appends
  // them atomically: all or none. kAlreadyExists if the alias is taken; kForbidden,
  // kBadJson, kInvalidArgument from planning or authorization.
  Result<CreatedRoom> CreateRoom(const rooms::CreateRoomRequest& request,
                                 std::string_view creator);
  // The command CreateRoom submits, for callers that submit it without blocking
  // (SubmitAsync; api/ answers POST /createRoom so): planned events, a fresh room ID
  // (also in *room_id). The planning errors of CreateRoom; the rest come at apply.
  Result<Command> PlanCreateRoom(const rooms::CreateRoomRequest& request,
                                 std::string_view creator, std::string* room_id);
  // The kRoomUpgrade command of `sender` upgrading room_id to new_version, with a
  // fresh replacement room ID (also in *new_room_id); every check comes at apply
  // (RoomApplier::ApplyRoomUpgrade).
  Result<Command> PlanRoomUpgrade(std::string_view room_id, event::RoomVersion new_version,
                                  std::string_view sender, std::string* new_room_id);
  // Appends one event. origin_server_ts 0 means now. A repeated (sender, device,
  // txn id) returns the first event with deduplicated = true. kNotFound (room),
  // kForbidden (auth rules), kTooLarge (65,536 bytes), kBadJson.
  Result<AppendedEvent> SendEvent(SendEventRequest request);
  // Any command (accounts, ...): the state machine's outcome.
  ApplyOutcome Submit(Command command);
  // The same without blocking: done runs on the apply thread.
  void SubmitAsync(Command command, ProposalDone done);

  // ---- reads ----
  // A read view pinned at the applied stream position (see snapshot.h for the
  // invariant): requests read through one, so what they answer is consistent. Pass
  // it to the read functions of core/room_reads.h, accounts, e2ee, receipts. Cheap
  // (one RocksDB snapshot); hold it for one request, never beyond the Engine.
  Snapshot Read() const;
  // An unpinned view: every read through it sees the latest state. For long-lived
  // holders that pin their own snapshot per unit of work (ReadView::Pin: the projector).
  storage::ReadView Latest() const { return storage::ReadView(*store_); }
  // The methods below read the latest state (each call on its own): the free
  // functions of room_reads.h on `Read()` are the consistent form.
  Result<RoomMeta> GetRoom(std::string_view room_id);
  // kNotFound for an unknown id; kCorruption if the stored bytes fail verification.
  Result<storage::EventRecord> GetEvent(std::string_view event_id);
  Result<rooms::RoomState> CurrentState(std::string_view room_id);
  // The room's state just after the event at `seq` (seq 0: empty).
  Result<rooms::RoomState> StateAt(std::string_view room_id, storage::Sequence seq);
  rooms::Membership MembershipOf(std::string_view user_id, storage::RoomNumber room);
  // The room ID of a room number; nullopt for a number no room has.
  Result<std::optional<std::string>> RoomIdOf(storage::RoomNumber room);
  // Every room the user has a membership record in, with that membership.
  Result<std::vector<std::pair<std::string, rooms::Membership>>> RoomsOf(std::string_view user_id);
  // RoomLog::Scan on a room by id.
  Status ScanRoom(std::string_view room_id, storage::Sequence from, storage::Sequence to,
                  size_t limit, const std::function<bool(const storage::EventView&)>& visit);

  // ---- health ----
  // OK while writes are accepted; otherwise the committer's reason (kUnavailable
  // "writes stopped: <cause>" once a storage failure in apply stopped them, until a
  // restart; a replicated committer's own, e.g. "cluster: etcd unreachable"), or
  // kNoSpace while the commit log's disk is under the free-space floor
  // (options.commit.disk_free_bytes_min, kDiskFreeBytesMin by default). For /ready.
  Status WriteStatus() const;

  // The state machine's applied position, read-only (a replicated setup reports it:
  // /ready, the node registry, cluster verify). Safe from any thread.
  LogIndex applied_index() const;
  GroupPosition applied_group() const;
  // The state machine behind the committer (for a committer made outside Open).
  Applier& applier();

  Notifier& notifier() { return notifier_; }
  // The store itself, for the engine, digests and tests; requests read through Read().
  storage::Store& store() { return *store_; }
  storage::Store& commit_log_store() { return *log_store_; }
  const Clock& clock() const { return *clock_; }
  const std::string& server_name() const { return options_.server_name; }
  StreamPosition stream_position() const { return notifier_.current(); }

 private:
  explicit Engine(const EngineOptions& options);

  EngineOptions options_;
  Clock* clock_;
  std::unique_ptr<storage::Store> store_;      // derived state: <data_dir>/db
  std::unique_ptr<storage::Store> log_store_;  // the commit log: <data_dir>/log
  Notifier notifier_;
  std::unique_ptr<StateMachine> state_machine_;
  std::unique_ptr<Committer> committer_;
};

}  // namespace nebu::core
