#include "engine/core/engine.h"

#include <boost/json.hpp>
#include <filesystem>

#include "engine/common/crypto.h"
#include "engine/core/room_reads.h"
#include "engine/core/state_machine.h"
#include "engine/event/canonical_json.h"
#include "engine/storage/keys.h"
#include "engine/storage/room_log.h"

namespace nebu::core {

using storage::Cf;

namespace {
constexpr size_t kRoomIdRandomChars = 18;

// Creates the data directory (and missing parents) and makes a new one 0700: it
// holds every account's secrets. An existing directory keeps its mode.
Status CreateDataDir(const std::string& dir) {
  std::error_code ec;
  const bool created = std::filesystem::create_directories(dir, ec);
  if (ec) return Status::IoError("cannot create " + dir + ": " + ec.message());
  if (!created) return Status::Ok();
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::replace, ec);
  if (ec) return Status::IoError("cannot make " + dir + " 0700: " + ec.message());
  return Status::Ok();
}
}  // namespace

Engine::Engine(const EngineOptions& options)
    : options_(options), clock_(options.clock ? options.clock : &SystemClock::Get()) {}

Engine::~Engine() {
  if (committer_) committer_->Stop();
}

Result<std::unique_ptr<Engine>> Engine::Open(const EngineOptions& options) {
  std::unique_ptr<Engine> engine(new Engine(options));
  NEBU_RETURN_IF_ERROR(CreateDataDir(options.data_dir));
  NEBU_ASSIGN_OR_RETURN(engine->store_,
                        storage::Store::Open({.path = options.data_dir + "/db",
                                              .open_files_max = storage::kStateDbOpenFilesMax}));
  NEBU_ASSIGN_OR_RETURN(
      engine->log_store_,
      storage::Store::Open({.path = options.data_dir + "/log",
                            .open_files_max = storage::kCommitLogOpenFilesMax}));
  engine->state_machine_ = std::make_unique<StateMachine>(*engine->store_, engine->notifier_);
  NEBU_RETURN_IF_ERROR(engine->state_machine_->Load());
  if (options.make_committer) {
    NEBU_ASSIGN_OR_RETURN(engine->committer_,
                          options.make_committer(*engine->log_store_, *engine->state_machine_));
    NEBU_CHECK(engine->committer_ != nullptr, "make_committer returned no committer");
  } else {
    engine->committer_ = std::make_unique<LocalCommitter>(
        *engine->log_store_, *engine->state_machine_, options.commit);
  }
  NEBU_RETURN_IF_ERROR(engine->committer_->Start());
  return engine;
}

LogIndex Engine::applied_index() const { return state_machine_->applied_index(); }

GroupPosition Engine::applied_group() const { return state_machine_->applied_group(); }

Applier& Engine::applier() { return *state_machine_; }

Status Engine::WriteStatus() const {
  NEBU_RETURN_IF_ERROR(committer_->write_status());
  const uint64_t floor = options_.commit.disk_free_bytes_min;
  Result<uint64_t> free_bytes = log_store_->FreeBytes();
  if (floor > 0 && free_bytes.ok() && *free_bytes < floor) {
    return Status::NoSpace("disk full: " + std::to_string(*free_bytes) + " bytes free of the " +
                           std::to_string(floor) + " writes need");
  }
  return Status::Ok();
}

ApplyOutcome Engine::Submit(Command command) {
  return ProposeAndWait(*committer_, std::move(command));
}

void Engine::SubmitAsync(Command command, ProposalDone done) {
  committer_->Propose(std::move(command), std::move(done));
}

Result<CreatedRoom> Engine::CreateRoom(const rooms::CreateRoomRequest& request,
                                       std::string_view creator) {
  std::string room_id;
  NEBU_ASSIGN_OR_RETURN(Command command, PlanCreateRoom(request, creator, &room_id));
  NEBU_ASSIGN_OR_RETURN(std::string out, Submit(std::move(command)));
  NEBU_ASSIGN_OR_RETURN(auto events, DecodeAppended(out));
  return CreatedRoom{std::move(room_id), std::move(events)};
}

Result<Command> Engine::PlanCreateRoom(const rooms::CreateRoomRequest& request,
                                       std::string_view creator, std::string* room_id) {
  std::optional<std::string> alias;
  if (request.room_alias_name) {
    alias = "#" + *request.room_alias_name + ":" + options_.server_name;
  }
  NEBU_ASSIGN_OR_RETURN(auto drafts, rooms::PlanRoomCreation(request, creator, alias));
  CreateRoomCommand command;
  // The creator's join carries their profile, as every join does (clients show it);
  // apply reads it (RoomApplier), so a profile change ordered before lands in it.
  command.creator_profile = true;
  command.room_id = "!" + RandomAlnum(kRoomIdRandomChars) + ":" + options_.server_name;
  command.room_version = request.room_version;
  command.origin_server_ts = clock_->NowUnixMs();
  command.events = std::move(drafts);
  command.alias = alias;
  command.publish = request.visibility == "public";
  *room_id = command.room_id;
  return MakeCreateRoomCommand(command);
}

Result<Command> Engine::PlanRoomUpgrade(std::string_view room_id, event::RoomVersion new_version,
                                        std::string_view sender, std::string* new_room_id) {
  RoomUpgradeCommand command{.room_id = std::string(room_id),
                             .new_room_id = "!" + RandomAlnum(kRoomIdRandomChars) + ":" +
                                            options_.server_name,
                             .new_version = new_version,
                             .sender = std::string(sender),
                             .origin_server_ts = clock_->NowUnixMs()};
  *new_room_id = command.new_room_id;
  return MakeRoomUpgradeCommand(command);
}

Result<AppendedEvent> Engine::SendEvent(SendEventRequest request) {
  if (request.origin_server_ts == 0) request.origin_server_ts = clock_->NowUnixMs();
  NEBU_ASSIGN_OR_RETURN(Command proposal, MakeSendEventCommand(request));
  NEBU_ASSIGN_OR_RETURN(std::string out, Submit(std::move(proposal)));
  NEBU_ASSIGN_OR_RETURN(auto events, DecodeAppended(out));
  if (events.size() != 1) return Status::Internal("send produced no single event");
  return std::move(events.front());
}

Result<RoomMeta> Engine::GetRoom(std::string_view room_id) {
  return LoadRoomMeta(*store_, room_id);
}

Result<storage::EventRecord> Engine::GetEvent(std::string_view event_id) {
  return ReadEvent(*store_, event_id);
}

Result<rooms::RoomState> Engine::CurrentState(std::string_view room_id) {
  return core::CurrentState(*store_, room_id);
}

Result<rooms::RoomState> Engine::StateAt(std::string_view room_id, storage::Sequence seq) {
  return core::StateAt(*store_, room_id, seq);
}

rooms::Membership Engine::MembershipOf(std::string_view user_id, storage::RoomNumber room) {
  return core::MembershipOf(*store_, user_id, room);
}

Result<std::optional<std::string>> Engine::RoomIdOf(storage::RoomNumber room) {
  return core::RoomIdOf(*store_, room);
}

Result<std::vector<std::pair<std::string, rooms::Membership>>> Engine::RoomsOf(
    std::string_view user_id) {
  return core::RoomsOf(*store_, user_id);
}

Status Engine::ScanRoom(std::string_view room_id, storage::Sequence from, storage::Sequence to,
                        size_t limit,
                        const std::function<bool(const storage::EventView&)>& visit) {
  return core::ScanRoom(*store_, room_id, from, to, limit, visit);
}

Snapshot Engine::Read() const {
  // The position first, then the snapshot: the state machine writes a flush's batch
  // before it advances the notifier (StateMachine::Flush), so every write up to the
  // position read here is in RocksDB before the snapshot is taken.
  const StreamPosition position = notifier_.current();
  return Snapshot(storage::ReadView::Pinned(*store_), position);
}

}  // namespace nebu::core
