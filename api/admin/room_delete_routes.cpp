// Room deletion under /_synapse/admin (Synapse's Delete Room API):
//
//   DELETE /_synapse/admin/v2/rooms/{roomId}                  {"delete_id"}, job in background
//   GET    /_synapse/admin/v2/rooms/{roomId}/delete_status    {"results": [task...]}
//   GET    /_synapse/admin/v2/rooms/delete_status/{deleteId}  task
//   DELETE /_synapse/admin/v1/rooms/{roomId}                  the shutdown result, when done
//
// Body (both versions; must be a JSON object, at least {}): new_room_user_id (a local
// user ID), room_name (default "Content Violation Notification"), message (default
// Synapse's), block (false), purge (true), force_purge (false). Wrong types: 400
// M_BAD_JSON; a remote new_room_user_id: 400 M_INVALID_PARAM; an unknown room: 404
// M_NOT_FOUND (v2), 400 M_INVALID_PARAM without block and just the block with it (v1);
// a deletion of the room already scheduled or active: 400 M_UNKNOWN.
//
// The job (one per request, on this node's deletion pool, kRoomDeletionThreads threads,
// kRoomDeletionsQueuedMax waiting; beyond: 429 M_LIMIT_EXCEEDED) reports its status in
// the replicated record (engine/admin/room_deletions.h), so any node answers the
// status routes: scheduled (accepted), active (running), complete, failed (with
// "error"). Its steps, as Synapse's shutdown:
//   1. with purge: a legal hold on the room (compliance::FindHold) fails the job at
//      once, naming the hold; nothing is changed;
//   2. with block: the room is blocked (joins, knocks and invites are refused in apply);
//   3. with new_room_user_id: a public room is made by that user (name room_name,
//      users_default power -10), with `message` as its first m.room.message;
//   4. every local member joined to the room leaves it (its own leave event) and forgets
//      it, then joins the new room: kicked_users; one whose leave is refused:
//      failed_to_kick_users;
//   5. the room's aliases are removed (as their creators) and, with a new room, point to
//      it (by new_room_user_id): local_aliases;
//   6. with purge: refused while failed_to_kick_users is not empty unless force_purge;
//      then api::PurgeRoomHistory, whose error (a legal hold: kForbidden naming it) fails
//      the job with that message.
// The result lists hold at most admin::kRoomDeletionListedMax entries each.
// A job interrupted by a restart stays "active"; after admin::kRoomDeletionStaleMs
// without an update a new deletion of the room is accepted.
#include <boost/json.hpp>
#include <type_traits>

#include <spdlog/spdlog.h>

#include "api/admin/admin_common.h"
#include "api/compliance/purge.h"
#include "api/errors.h"
#include "engine/accounts/commands.h"
#include "engine/admin/room_deletions.h"
#include "engine/common/crypto.h"
#include "engine/compliance/compliance.h"
#include "engine/core/engine.h"
#include "engine/core/room_reads.h"
#include "engine/event/identifiers.h"

namespace nebu::api::admin_internal {
namespace {

namespace json = boost::json;

// Threads running deletion jobs on one node, and jobs waiting for one.
constexpr size_t kRoomDeletionThreads = 2;
constexpr size_t kRoomDeletionsQueuedMax = 16;
// Characters of a generated delete_id.
constexpr size_t kDeleteIdChars = 16;
// Synapse's defaults.
constexpr std::string_view kDefaultRoomName = "Content Violation Notification";
constexpr std::string_view kDefaultMessage =
    "Sharing illegal content on this server is not permitted and rooms in violation will be "
    "blocked.";
// The power level of users in the new room (Synapse: they cannot speak).
constexpr int64_t kNewRoomUsersDefaultPower = -10;

struct DeleteRequest {
  std::string room_id;
  std::string actor;
  std::optional<std::string> new_room_user_id;
  std::string room_name{kDefaultRoomName};
  std::string message{kDefaultMessage};
  bool block = false;
  bool purge = true;
  bool force_purge = false;
};

// The node's deletion pool (the last member: destroyed first, finishing its jobs while
// the context is alive; tasks use raw pointers to it).
struct Runner {
  explicit Runner(ContextPtr context_ptr)
      : context(std::move(context_ptr)),
        pool({.threads = kRoomDeletionThreads, .queue_max = kRoomDeletionsQueuedMax}) {}
  ContextPtr context;
  WorkerPool pool;
};

json::array Strings(const std::vector<std::string>& list) {
  json::array out;
  for (const std::string& s : list) out.push_back(json::value(s));
  return out;
}

json::object ShutdownJson(const admin::RoomDeletion& d) {
  return json::object{
      {"kicked_users", Strings(d.kicked_users)},
      {"failed_to_kick_users", Strings(d.failed_to_kick_users)},
      {"local_aliases", Strings(d.local_aliases)},
      {"new_room_id", d.new_room_id ? json::value(*d.new_room_id) : json::value(nullptr)}};
}

json::object TaskJson(const admin::RoomDeletion& d) {
  json::object o{{"delete_id", d.delete_id},
                 {"room_id", d.room_id},
                 {"status", d.status},
                 {"shutdown_room", ShutdownJson(d)}};
  if (d.error) o["error"] = *d.error;
  return o;
}

// Reads a typed optional field into *out; false with *error = 400 M_BAD_JSON.
template <typename T>
bool Field(const json::object& body, std::string_view key, T* out, Response* error) {
  const json::value* v = body.if_contains(key);
  if (v == nullptr || v->is_null()) return true;
  if constexpr (std::is_same_v<T, bool>) {
    if (v->is_bool()) {
      *out = v->as_bool();
      return true;
    }
    *error = ErrorResponse(400, "M_BAD_JSON", "Param '" + std::string(key) + "' must be a boolean, if given");
  } else {
    if (v->is_string()) {
      *out = std::string(v->as_string());
      return true;
    }
    *error = ErrorResponse(400, "M_BAD_JSON", "Param '" + std::string(key) + "' must be a string, if given");
  }
  return false;
}

std::variant<DeleteRequest, Response> ParseDelete(Context* context, const Call& call) {
  DeleteRequest request{.room_id = call.params.at("roomId"), .actor = call.caller.user_id};
  if (!event::IsValidRoomId(request.room_id)) {
    return ErrorResponse(400, "M_INVALID_PARAM", request.room_id + " is not a legal room ID");
  }
  if (call.request.body.empty()) return ErrorResponse(400, "M_NOT_JSON", "Content not JSON");
  auto parsed = ParseJsonBody(call.request);
  if (auto* e = std::get_if<Response>(&parsed)) return std::move(*e);
  const json::object& body = std::get<json::object>(parsed);
  Response error;
  std::string new_room_user;
  if (!Field(body, "new_room_user_id", &new_room_user, &error) ||
      !Field(body, "room_name", &request.room_name, &error) ||
      !Field(body, "message", &request.message, &error) ||
      !Field(body, "block", &request.block, &error) ||
      !Field(body, "purge", &request.purge, &error) ||
      !Field(body, "force_purge", &request.force_purge, &error)) {
    return error;
  }
  if (!new_room_user.empty()) {
    if (!event::IsValidUserId(new_room_user) ||
        !new_room_user.ends_with(":" + context->server_name())) {
      return ErrorResponse(400, "M_INVALID_PARAM", "User must be our own: " + new_room_user);
    }
    request.new_room_user_id = std::move(new_room_user);
  }
  return request;
}

// The job's state and its replicated record.
class Job {
 public:
  Job(Context* context, DeleteRequest request, std::string delete_id)
      : context_(context), request_(std::move(request)) {
    record_.delete_id = std::move(delete_id);
    record_.room_id = request_.room_id;
    record_.actor = request_.actor;
  }

  // The command recording the deletion as scheduled (apply refuses it with
  // kAlreadyExists when a deletion of the room runs).
  Result<core::Command> ScheduleCommand() { return RecordCommand(admin::kDeletionScheduled); }
  // The command recording that the job could not be started.
  Result<core::Command> NotStartedCommand(std::string error) {
    record_.error = std::move(error);
    return RecordCommand(admin::kDeletionFailed);
  }

  // Runs every step; the final status is recorded (failed with the error). Returns
  // the outcome for v1's answer.
  Status Run() {
    Status status = Report(admin::kDeletionActive);
    if (status.ok()) status = Steps();
    if (!status.ok()) {
      record_.error = status.message().substr(0, admin::kRoomDeletionErrorBytesMax);
      Status reported = Report(admin::kDeletionFailed);
      if (!reported.ok()) spdlog::error("room deletion {}: {}", record_.delete_id, reported.ToString());
      return status;
    }
    return Report(admin::kDeletionComplete);
  }

  const admin::RoomDeletion& record() const { return record_; }

 private:
  Result<core::Command> RecordCommand(std::string_view status) {
    record_.status = std::string(status);
    record_.ts = context_->NowMs();
    NEBU_ASSIGN_OR_RETURN(std::string payload, admin::EncodeAdminCommand(record_));
    return core::Command{core::CommandKind::kAudit, std::move(payload)};
  }

  Status Report(std::string_view status) { return Submit(RecordCommand(status)); }

  Status Submit(const Result<core::Command>& command) {
    if (!command.ok()) return command.status();
    core::ApplyOutcome outcome = context_->engine.Submit(*command);
    return outcome.ok() ? Status::Ok() : outcome.status();
  }

  Status SendAs(const std::string& sender, std::string type, std::optional<std::string> state_key,
                json::object content, const std::string& room_id) {
    core::SendEventRequest event;
    event.room_id = room_id;
    event.sender = sender;
    event.type = std::move(type);
    event.state_key = std::move(state_key);
    event.content = std::move(content);
    event.origin_server_ts = context_->NowMs();
    if (event.type == "m.room.member") event.sender_profile = true;
    return Submit(core::MakeSendEventCommand(event));
  }

  Status CheckHold() {
    Result<std::optional<compliance::Hold>> hold =
        compliance::FindHold(context_->engine.Read(), request_.room_id);
    if (!hold.ok()) return hold.status();
    if (!*hold) return Status::Ok();
    return Status::Forbidden("The room is under legal hold " + (*hold)->hold_id + " (case " +
                             (*hold)->case_id + "): it cannot be purged");
  }

  Status Block() {
    return Submit([&]() -> Result<core::Command> {
      NEBU_ASSIGN_OR_RETURN(std::string payload,
                            admin::EncodeAdminCommand(admin::BlockRoomCommand{
                                .room_id = request_.room_id,
                                .block = true,
                                .actor = request_.actor,
                                .ts = context_->NowMs()}));
      return core::Command{core::CommandKind::kAudit, payload};
    }());
  }

  Status CreateNewRoom() {
    rooms::CreateRoomRequest create;
    create.preset = "public_chat";
    create.name = request_.room_name;
    create.power_level_content_override =
        json::object{{"users_default", kNewRoomUsersDefaultPower}};
    std::string room_id;
    Result<core::Command> command =
        context_->engine.PlanCreateRoom(create, *request_.new_room_user_id, &room_id);
    NEBU_RETURN_IF_ERROR(Submit(command));
    record_.new_room_id = room_id;
    return SendAs(*request_.new_room_user_id, "m.room.message", std::nullopt,
                  json::object{{"msgtype", "m.text"}, {"body", request_.message}}, room_id);
  }

  // Step 4: local members leave (and forget) the room, then join the new one.
  Status MoveMembers() {
    Result<rooms::RoomState> state = context_->engine.CurrentState(request_.room_id);
    if (!state.ok()) return state.status();
    const std::string suffix = ":" + context_->server_name();
    for (const auto& [key, event] : state->events()) {
      if (key.first != "m.room.member" || !key.second.ends_with(suffix) ||
          state->MembershipOf(key.second) != rooms::Membership::kJoin) {
        continue;
      }
      const std::string& user = key.second;
      Status left = SendAs(user, "m.room.member", user, json::object{{"membership", "leave"}},
                           request_.room_id);
      auto* list = left.ok() ? &record_.kicked_users : &record_.failed_to_kick_users;
      if (list->size() < admin::kRoomDeletionListedMax) list->push_back(user);
      if (!left.ok()) {
        ++failed_to_kick_;
        spdlog::warn("room deletion {}: {} did not leave: {}", record_.delete_id, user,
                     left.ToString());
        continue;
      }
      Status forgot = Submit([&]() -> Result<core::Command> {
        NEBU_ASSIGN_OR_RETURN(std::string payload,
                              accounts::EncodeAccountCommand(accounts::ForgetRoomCommand{
                                  .user_id = user, .room_id = request_.room_id}));
        return core::Command{core::CommandKind::kAccount, payload};
      }());
      if (!forgot.ok()) spdlog::warn("room deletion: forget of {}: {}", user, forgot.ToString());
      if (record_.new_room_id && user != *request_.new_room_user_id) {
        Status joined = SendAs(user, "m.room.member", user, json::object{{"membership", "join"}},
                               *record_.new_room_id);
        if (!joined.ok()) spdlog::warn("room deletion: {} not moved: {}", user, joined.ToString());
      }
    }
    return Status::Ok();
  }

  // Step 5: the room's aliases are removed and, with a new room, point to it.
  Status MoveAliases() {
    struct Alias {
      std::string alias;
      std::optional<std::string> creator;
    };
    std::vector<Alias> aliases;
    NEBU_RETURN_IF_ERROR(core::ForEachRoomAlias(
        context_->engine.Read(), [&](std::string_view alias, std::string_view room_id,
                                     const std::optional<std::string>& creator) {
          if (room_id == request_.room_id) aliases.push_back({std::string(alias), creator});
          return Status::Ok();
        }));
    for (const Alias& a : aliases) {
      core::AliasCommand remove{.op = core::AliasCommand::Op::kDelete,
                                .alias = a.alias,
                                .sender = a.creator.value_or(request_.actor)};
      Status removed = Submit(core::MakeAliasCommand(remove));
      if (!removed.ok()) {
        spdlog::warn("room deletion: alias {} not removed: {}", a.alias, removed.ToString());
        continue;
      }
      if (record_.local_aliases.size() < admin::kRoomDeletionListedMax) {
        record_.local_aliases.push_back(a.alias);
      }
      if (!record_.new_room_id) continue;
      core::AliasCommand put{.op = core::AliasCommand::Op::kPut,
                             .alias = a.alias,
                             .room_id = *record_.new_room_id,
                             .sender = *request_.new_room_user_id};
      Status moved = Submit(core::MakeAliasCommand(put));
      if (!moved.ok()) spdlog::warn("room deletion: alias {} not moved: {}", a.alias, moved.ToString());
    }
    return Status::Ok();
  }

  Status Purge() {
    if (failed_to_kick_ > 0 && !request_.force_purge) {
      return Status::InvalidArgument(
          "Users are still joined to this room; use force_purge to purge it anyway");
    }
    Result<PurgeRoomReport> report = PurgeRoomHistory(
        context_->engine, PurgeRoomRequest{.room_id = request_.room_id, .actor = request_.actor});
    return report.ok() ? Status::Ok() : report.status();
  }

  Status Steps() {
    if (request_.purge) NEBU_RETURN_IF_ERROR(CheckHold());
    if (request_.block) NEBU_RETURN_IF_ERROR(Block());
    Result<core::RoomMeta> meta = context_->engine.GetRoom(request_.room_id);
    if (!meta.ok()) {
      // v1 with block on a room unknown here: the block is all there is to do.
      if (meta.status().code() == StatusCode::kNotFound && request_.block) return Status::Ok();
      return meta.status();
    }
    if (request_.new_room_user_id) NEBU_RETURN_IF_ERROR(CreateNewRoom());
    NEBU_RETURN_IF_ERROR(MoveMembers());
    NEBU_RETURN_IF_ERROR(Report(admin::kDeletionActive));  // the shutdown result, early
    NEBU_RETURN_IF_ERROR(MoveAliases());
    if (request_.purge) NEBU_RETURN_IF_ERROR(Purge());
    return Status::Ok();
  }

  Context* context_;
  DeleteRequest request_;
  admin::RoomDeletion record_;
  size_t failed_to_kick_ = 0;
};

Response ScheduleError(const Status& status) {
  if (status.code() == StatusCode::kAlreadyExists) {
    return ErrorResponse(400, "M_UNKNOWN", status.message());
  }
  return ErrorResponse(status);
}

// v2: schedules the job, answers {"delete_id"} and runs it in the background. v1:
// runs it and answers its shutdown result (or its error).
void StartDelete(Runner* runner, const Call& call, Finish finish, bool synchronous) {
  Context* context = runner->context.get();
  auto parsed = ParseDelete(context, call);
  if (auto* error = std::get_if<Response>(&parsed)) return finish(std::move(*error));
  DeleteRequest request = std::get<DeleteRequest>(std::move(parsed));
  Result<core::RoomMeta> meta = context->engine.GetRoom(request.room_id);
  if (!meta.ok() && meta.status().code() != StatusCode::kNotFound) {
    return finish(ErrorResponse(meta.status()));
  }
  if (!meta.ok() && (!synchronous || !request.block)) {
    return finish(synchronous ? ErrorResponse(400, "M_INVALID_PARAM",
                                              "Unknown room " + request.room_id)
                              : ErrorResponse(404, "M_NOT_FOUND",
                                              "Unknown room id " + request.room_id));
  }
  auto job = std::make_shared<Job>(context, std::move(request), RandomAlnum(kDeleteIdChars));
  Result<core::Command> schedule = job->ScheduleCommand();
  if (!schedule.ok()) return finish(ErrorResponse(schedule.status()));
  // Scheduled once the record is applied (on the apply thread: nothing here blocks).
  context->engine.SubmitAsync(*schedule, [runner, context, job, finish, synchronous,
                                          delete_id = job->record().delete_id](
                                             core::ApplyOutcome outcome) {
    if (!outcome.ok()) return finish(ScheduleError(outcome.status()));
    bool posted = runner->pool.Post([job, finish, synchronous] {
      Status ran = job->Run();
      if (!synchronous) return;
      if (!ran.ok()) return finish(ErrorResponse(ran));
      finish(JsonResponse(200, ShutdownJson(job->record())));
    });
    if (!posted) {
      Result<core::Command> failed = job->NotStartedCommand("Too many room deletions queued");
      if (failed.ok()) context->engine.SubmitAsync(*failed, [](core::ApplyOutcome) {});
      return finish(
          ErrorResponse(429, "M_LIMIT_EXCEEDED", "Too many room deletions queued on this node"));
    }
    if (!synchronous) {
      finish(JsonResponse(200, json::object{{"delete_id", delete_id}}));
    }
  });
}

void StatusByRoom(Context* context, const Call& call, Finish finish) {
  const std::string& room_id = call.params.at("roomId");
  if (!event::IsValidRoomId(room_id)) {
    return finish(ErrorResponse(400, "M_INVALID_PARAM", room_id + " is not a legal room ID"));
  }
  Result<std::vector<admin::RoomDeletion>> list =
      admin::ListRoomDeletions(context->engine.Read(), room_id);
  if (!list.ok()) return finish(ErrorResponse(list.status()));
  if (list->empty()) return finish(ErrorResponse(404, "M_NOT_FOUND", "No delete task for room_id"));
  json::array results;
  for (const admin::RoomDeletion& d : *list) results.push_back(TaskJson(d));
  finish(JsonResponse(200, json::object{{"results", std::move(results)}}));
}

void StatusById(Context* context, const Call& call, Finish finish) {
  Result<std::optional<admin::RoomDeletion>> d =
      admin::GetRoomDeletion(context->engine.Read(), call.params.at("deleteId"));
  if (!d.ok()) return finish(ErrorResponse(d.status()));
  if (!*d) return finish(ErrorResponse(404, "M_NOT_FOUND", "delete id not found"));
  finish(JsonResponse(200, TaskJson(**d)));
}

}  // namespace

void AddRoomDeleteRoutes(Router& router, const ContextPtr& context) {
  constexpr auto kAdmin = Surface::kAdmin;
  auto runner = std::make_shared<Runner>(context);
  const std::string v1 = "/_synapse/admin/v1";
  const std::string v2 = "/_synapse/admin/v2";
  // The status route is registered before /rooms/{roomId}/... so "delete_status" is
  // never taken for a room ID (a room ID starts with "!").
  AddRoute(router, context, "GET", v2 + "/rooms/delete_status/{deleteId}",
           "rooms.delete_status", kAdmin, StatusById);
  AddRoute(router, context, "GET", v2 + "/rooms/{roomId}/delete_status", "rooms.delete_status",
           kAdmin, StatusByRoom);
  AddRoute(router, context, "DELETE", v2 + "/rooms/{roomId}", "rooms.delete", kAdmin,
           [runner](Context*, const Call& call, Finish finish) {
             StartDelete(runner.get(), call, std::move(finish), false);
           });
  AddRoute(router, context, "DELETE", v1 + "/rooms/{roomId}", "rooms.delete", kAdmin,
           [runner](Context*, const Call& call, Finish finish) {
             StartDelete(runner.get(), call, std::move(finish), true);
           });
}

}  // namespace nebu::api::admin_internal
