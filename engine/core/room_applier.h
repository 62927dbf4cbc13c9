// RoomApplier: the room part of the state machine (create rooms, append events).
//
// Commands (payloads are canonical JSON, built by the helpers below on the node
// that received the request, so apply is deterministic):
//   kCreateRoom {room_id, room_version, origin_server_ts, events:[draft...], alias?,
//                publish?, creator_profile?}
//   kRoomEvent  {room_id, sender, device_id?, txn_id?, type, state_key?, content,
//                origin_server_ts, redacts?, sender_profile?, target_profile?,
//                restricted_join?}
//
// Profiles are read in apply, not at propose time (a proposer's view may be stale):
// with creator_profile, the creator's m.room.member join gets displayname/avatar_url
// from the creator's stored profile; with sender_profile, an m.room.member join of
// the sender by the sender (or a knock of the sender) does; with target_profile, an
// m.room.member invite gets the invitee's (state_key's) profile, so clients can show
// "alice invited Bob". A field the profile lacks is left as the draft has
// it; an unknown user changes nothing. Profiles change only in account commands,
// which the state machine applies alone with the batch flushed before and after, so
// the store read here sees every profile change ordered before this command. Commands
// without the flags (older logs) keep the content they carry.
// Apply builds the PDU (prev_events = the room's last event, depth, auth_events,
// content hash, reference-hash event ID), checks the room version 11 authorization
// rules against the current state, and adds to the batch: the envelope in the
// room's log, the event-id index, the stream entry, current state + state history
// for state events, membership records for m.room.member, the txn id, and the
// relations index entry of an event with content.m.relates_to (core/relations.h).
//
// Restricted joins: with restricted_join, an m.room.member join of the sender by the
// sender into a room whose join rule is restricted or knock_restricted, by a user who
// is not joined, invited or banned, is checked against the rule's `allow` list (the
// m.room_membership conditions, at most kJoinAllowConditionsMax; others are ignored):
// the sender must be joined now to one of those rooms on this server. Then a member
// who is joined with at least the invite level and on the sender's server is written
// into content.join_authorised_via_users_server: the candidates are the users
// power_levels names at or above the invite level, and the creator, highest level
// first, then by user ID, at most kJoinAuthoriserCandidatesMax examined (a room whose
// only inviters come from users_default finds none). Refusals: none of the allowed
// rooms exists here: kInvalidArgument "M_UNABLE_TO_AUTHORISE_JOIN: ..."; the sender is
// joined to none of them: kForbidden; no authoriser: kInvalidArgument
// "M_UNABLE_TO_GRANT_JOIN: ...". The auth rules then check the authoriser again
// (rooms/auth_rules.h, rule 4.3.5).
//
// Blocked rooms: an m.room.member join, knock or invite into a room with an admin block
// (engine/admin/admin.h "block_room") is refused with kForbidden, read from the store
// (block commands are applied alone, flushed, so the read sees every block ordered
// before the event). Leaves, kicks and bans still apply; so do other events of members
// already in the room.
//
// Redactions: every m.room.redaction event, whatever sent it (POST /redact gives
// `redacts`; PUT /send and /state bodies give content.redacts; both must agree),
// must name an event of the same room (kInvalidArgument otherwise, for unknown
// events too) sent by the redacter or redacted by a user at the room's redact power
// level (kForbidden otherwise); one without a target is kBadJson. In v10 rooms the
// target is stored at the top level (content.redacts moved there), in v11 in
// content. The first accepted redaction of an event is indexed (Cf::kRedactions).
//
// Thread-safety: used only from the state machine's apply thread.
#pragma once

#include <boost/json/object.hpp>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "engine/accounts/accounts.h"
#include "engine/core/command.h"
#include "engine/event/event.h"
#include "engine/rooms/room_creation.h"
#include "engine/rooms/room_state.h"
#include "engine/rooms/room_upgrade.h"
#include "engine/storage/room_log.h"
#include "engine/storage/store.h"

namespace nebu::core {

using storage::RoomNumber;
using storage::Sequence;
using storage::StreamPosition;

struct SendEventRequest {
  // An m.room.member join of the sender by the sender: apply adds the sender's stored
  // profile to content (see the header comment).
  bool sender_profile = false;
  // An m.room.member invite: apply adds the invitee's stored profile to content.
  bool target_profile = false;
  // An own join: apply authorises a join through a restricted join rule's `allow`.
  bool restricted_join = false;
  std::string room_id;
  std::string sender;
  std::string device_id;           // empty: no txn dedup
  std::string txn_id;              // empty: no txn dedup
  std::string type;
  std::optional<std::string> state_key;
  boost::json::object content;
  int64_t origin_server_ts = 0;
  std::optional<std::string> redacts;
};

// Bounds of restricted joins (header comment): `allow` conditions read per join, and
// candidate authorising users examined per join.
inline constexpr size_t kJoinAllowConditionsMax = 32;
inline constexpr size_t kJoinAuthoriserCandidatesMax = 64;
// The errcodes a refused restricted join names at the start of its status message.
inline constexpr std::string_view kUnableToAuthoriseJoin = "M_UNABLE_TO_AUTHORISE_JOIN";
inline constexpr std::string_view kUnableToGrantJoin = "M_UNABLE_TO_GRANT_JOIN";

struct CreateRoomCommand {
  std::string room_id;
  event::RoomVersion room_version = event::kDefaultRoomVersion;
  int64_t origin_server_ts = 0;
  std::vector<rooms::EventDraft> events;
  std::optional<std::string> alias;
  bool publish = false;  // createRoom visibility "public": listed in the room directory
  bool creator_profile = false;  // apply adds the creator's stored profile to their join
};

// The room directory: add (kPut) or remove (kDelete) a room alias. Put needs the
// sender joined to the room and the alias free; delete needs the sender to be the
// alias's creator or to have the power level of m.room.canonical_alias in the room.
// kPublish / kUnpublish list or unlist room_id in the published room directory
// (alias unused): the sender must be joined with the power level of
// m.room.canonical_alias (who may name the room may list it).
struct AliasCommand {
  enum class Op : uint8_t { kPut, kDelete, kPublish, kUnpublish };
  Op op = Op::kPut;
  std::string alias;
  std::string room_id;  // kPut only
  std::string sender;
};

// A room upgrade (spec "Room Upgrades"; the plan is engine/rooms/room_upgrade.h):
// the proposer picks new_room_id; apply does the rest from the state it applies on.
struct RoomUpgradeCommand {
  std::string room_id;      // the room to upgrade
  std::string new_room_id;  // the replacement room's ID (fresh)
  event::RoomVersion new_version = event::kDefaultRoomVersion;
  std::string sender;
  int64_t origin_server_ts = 0;
};

// The command builders serialize request values as canonical JSON; kBadJson when one
// cannot be (a string that is not UTF-8, a float or an out-of-range integer in
// content), so bad input is refused at propose time and never reaches the log.
Result<Command> MakeSendEventCommand(const SendEventRequest& request);
Result<Command> MakeAliasCommand(const AliasCommand& command);
Result<Command> MakeCreateRoomCommand(const CreateRoomCommand& command);
Result<Command> MakeRoomUpgradeCommand(const RoomUpgradeCommand& command);

// The outcome of an applied event: {"event_id","room_id","sequence","stream_position"}.
struct AppendedEvent {
  std::string event_id;
  std::string room_id;
  Sequence sequence = 0;
  StreamPosition stream_position = 0;
  bool deduplicated = false;  // the txn id was seen before; this is the earlier event
};
Result<std::string> EncodeAppended(const std::vector<AppendedEvent>& events);
Result<std::vector<AppendedEvent>> DecodeAppended(std::string_view json);

// Per-room facts the apply thread keeps in memory (derived from the log on first use).
struct RoomMeta {
  RoomNumber number = 0;
  std::string room_id;
  event::RoomVersion version = event::kDefaultRoomVersion;
  Sequence last_seq = 0;
  std::string last_event_id;
  int64_t depth = 0;
};

// The room record stored under RoomNumberKey: {"room_id","room_version"}.
Result<RoomMeta> LoadRoomMeta(const storage::ReadView& store, std::string_view room_id);

class RoomApplier {
 public:
  // Mutable counters the state machine persists with each batch.
  struct Counters {
    StreamPosition stream_position = 0;
    RoomNumber next_room_number = 1;
  };

  explicit RoomApplier(storage::Store& store) : store_(store), log_(store) {}

  // Both add to batch and advance counters only on success; on a rejection the
  // caller rolls the batch back to its save point and keeps its counters. Several
  // commands may be staged in one batch before it is written: the applier's own
  // caches and staged indexes answer reads of what is staged.
  Result<std::string> ApplyCreateRoom(std::string_view payload, rocksdb::WriteBatch& batch,
                                      Counters& counters);
  Result<std::string> ApplySendEvent(std::string_view payload, rocksdb::WriteBatch& batch,
                                     Counters& counters);

  // The member events of a profile change (accounts::MemberEventRefresh): one
  // m.room.member join by user_id, content {"membership":"join", displayname?,
  // avatar_url?} from refresh.profile, origin_server_ts refresh.origin_server_ts, in
  // the rooms the user is joined to numbered above refresh.after_room, in room-number
  // order, at most refresh.rooms_max of them (more_after: the last one's number when
  // joined rooms remain beyond them). The joined rooms are read from the store, so the
  // state machine calls this only with nothing staged (right after the account
  // command, which it applies alone): the profile and the member events are then
  // written in one batch. A room whose auth rules refuse the event (kForbidden) is
  // skipped; any other error is returned, after which the caller rolls the batch back
  // (the caches are dropped). Returns the appended events.
  struct ProfileMemberEvents {
    std::vector<AppendedEvent> events;
    std::optional<RoomNumber> more_after;
  };
  Result<ProfileMemberEvents> AppendProfileMemberEvents(
      const accounts::MemberEventRefresh& refresh, rocksdb::WriteBatch& batch,
      Counters& counters);

  // kAlias: reads the stored directory, so the state machine applies it alone (with
  // nothing else staged). kAlreadyExists, kNotFound, kForbidden, kInvalidArgument.
  Result<std::string> ApplyAlias(std::string_view payload, rocksdb::WriteBatch& batch);

  // kRoomUpgrade (room_upgrade_apply.cpp), all in one batch or nothing: the
  // m.room.tombstone in the old room (its authorization is the spec's permission
  // check), the replacement room (rooms::PlanReplacementRoom, its create event's
  // predecessor naming the tombstone; the upgrader's join carries their stored
  // profile), then in the old room an empty m.room.canonical_alias (when it had one)
  // and the restricted power levels (rooms::RestrictedPowerLevels), each skipped when
  // the upgrader lacks the power for it; every local alias of the old room is pointed
  // to the new one, and a published old room is unpublished and the new one
  // published. Reads the stored memberships and aliases, so the state machine applies
  // it alone. Returns the appended events (EncodeAppended), the tombstone first.
  // kNotFound for an unknown room, kAlreadyExists when new_room_id is taken,
  // kForbidden when the upgrader may not send the tombstone (not joined, or below its
  // level), kInvalidArgument for malformed IDs; on any error nothing is staged and
  // the caches are dropped (Abort) once the old room was touched.
  Result<std::string> ApplyRoomUpgrade(std::string_view payload, rocksdb::WriteBatch& batch,
                                       Counters& counters);

  // Called after the batch was written: forgets staged indexes, trims the caches.
  void AfterFlush();
  // Called when the batch could not be written: drops every cache (they may hold
  // state that never reached the disk); they reload from the store on demand.
  void Abort();

 private:
  struct CachedState {
    std::string event_id;
    boost::json::object event;
  };
  // Orders (type, state_key) keys and finds them by string_view pairs.
  struct KeyLess {
    using is_transparent = void;
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      std::string_view a1 = a.first, b1 = b.first;
      if (a1 != b1) return a1 < b1;
      return std::string_view(a.second) < std::string_view(b.second);
    }
  };
  struct RoomCache {
    RoomMeta meta;
    // State events loaded for authorization, by (type, state_key); nullopt caches
    // an absent key. Coherent because every state write passes through here.
    std::map<rooms::RoomState::Key, std::optional<CachedState>, KeyLess> state;
  };

  Result<RoomCache*> Room(std::string_view room_id);
  // ApplyRoomUpgrade's steps (room_upgrade_apply.cpp).
  Result<std::vector<AppendedEvent>> AppendReplacementRoom(const rooms::UpgradePlan& plan,
                                                           int64_t ts, rocksdb::WriteBatch& batch,
                                                           Counters& counters);
  Status AppendOldRoomRestrictions(RoomCache& old, std::string_view sender, int64_t ts,
                                   rocksdb::WriteBatch& batch, Counters& counters,
                                   std::vector<AppendedEvent>* appended);
  Status MoveDirectoryEntries(std::string_view old_room_id, std::string_view new_room_id,
                              rocksdb::WriteBatch& batch);
  // Sets content's displayname/avatar_url from user_id's stored profile (fields it
  // lacks stay as they are); an unknown user changes nothing.
  Status AddStoredProfile(std::string_view user_id, boost::json::object& content);
  // Restricted joins (header comment; room_applier_join.cpp): adds
  // join_authorised_via_users_server to an own join's content when the room's join
  // rule needs it; OK and no change when it does not.
  Status AuthoriseRestrictedJoin(RoomCache& room, rooms::EventDraft& draft);
  // Whether user_id is joined to room_id now (false for a room unknown here).
  Result<bool> JoinedTo(std::string_view room_id, std::string_view user_id);
  // Appends draft to the room numbered `number` (AppendEvent).
  Result<AppendedEvent> AppendMemberEventIn(RoomNumber number, const rooms::EventDraft& draft,
                                            int64_t ts, rocksdb::WriteBatch& batch,
                                            Counters& counters);
  Result<const std::optional<CachedState>*> StateEntry(RoomCache& room, std::string_view type,
                                                       std::string_view state_key);
  Status LoadAuthState(RoomCache& room, const boost::json::object& pdu, rooms::RoomState& state,
                       boost::json::array& auth_ids);
  // OK when `sender` may redact `redacts`: an event of this room (else
  // kInvalidArgument, the same for unknown events and other rooms' events) sent by
  // `sender` or with `sender` at the redact power level (else kForbidden).
  Status CheckRedaction(RoomCache& room, std::string_view redacts, std::string_view sender,
                        const rooms::RoomState& state);
  // Checks, builds and adds one event to batch; updates room's cache and counters.
  // On error nothing of this event was added.
  Result<AppendedEvent> AppendEvent(RoomCache& room, const rooms::EventDraft& draft, int64_t ts,
                                    const std::optional<std::string>& redacts,
                                    rocksdb::WriteBatch& batch, Counters& counters);
  void WriteIndexes(RoomCache& room, const boost::json::object& pdu, const std::string& event_id,
                    Sequence seq, StreamPosition pos, rocksdb::WriteBatch& batch);

  // Where a staged (not yet written) event sits, for redactions in the same batch.
  struct StagedEvent {
    RoomNumber room;
    std::string sender;
  };
  Result<std::optional<StagedEvent>> FindEvent(std::string_view event_id);
  // The state event at (type, state_key) into state, if the room has one.
  Status LoadStateInto(RoomCache& room, std::string_view type, std::string_view state_key,
                       rooms::RoomState& state);

  storage::Store& store_;
  storage::RoomLog log_;
  // Never evicted while a batch is staged (only in AfterFlush): staged state lives
  // only here until the batch is written.
  std::unordered_map<std::string, std::unique_ptr<RoomCache>> rooms_;
  std::unordered_map<std::string, AppendedEvent> staged_txns_;   // txn key -> event
  std::unordered_map<std::string, StagedEvent> staged_events_;   // event id -> where
  std::unordered_set<std::string> staged_redactions_;            // targets indexed in the batch
  std::unordered_map<std::string, std::string> staged_aliases_;  // alias -> room id
};

}  // namespace nebu::core
