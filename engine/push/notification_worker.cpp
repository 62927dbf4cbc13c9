#include "engine/push/notification_worker.h"

#include <boost/json/parse.hpp>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <unordered_map>
#include <vector>

#include "engine/accounts/accounts.h"
#include "engine/accounts/push_rules.h"
#include "engine/core/engine.h"
#include "engine/core/room_reads.h"
#include "engine/core/stream_reader.h"
#include "engine/push/internal/keys.h"
#include "engine/push/notifications.h"
#include "engine/push/room_context.h"
#include "engine/push/rule_eval.h"
#include "engine/receipts/receipts.h"
#include "engine/storage/room_log.h"
#include "engine/storage/store.h"

namespace nebu::push {

namespace json = boost::json;
using storage::Cf;
using storage::RoomNumber;
using storage::Sequence;
using storage::StreamPosition;

namespace {

std::string U64Value(uint64_t v) {
  std::string out;
  storage::PutU64(&out, v);
  return out;
}

Result<json::object> ParseObject(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return Status::Corruption("stored JSON is not an object");
  return std::move(v.as_object());
}

// "main", or the root of the thread the event is in (m.relates_to rel_type m.thread).
std::string ThreadOf(const json::object& event) {
  const json::value* rel = PropertyAt(event, "content.m\\.relates_to");
  if (rel && rel->is_object()) {
    const json::value* type = rel->as_object().if_contains("rel_type");
    const json::value* root = rel->as_object().if_contains("event_id");
    if (type && type->is_string() && type->as_string() == "m.thread" && root &&
        root->is_string() && !root->as_string().empty()) {
      return std::string(root->as_string());
    }
  }
  return std::string(kMainThreadId);
}

Status WorkerIteratorStatus(const rocksdb::Iterator& it) {
  if (!it.status().ok()) return Status::IoError(it.status().ToString());
  return Status::Ok();
}

}  // namespace

// One unit of work: a batch, the counts it changed (read through from the snapshot),
// and the per-user record bookkeeping for the kNotificationsPerUserMax bound.
class NotificationWorker::Impl {
 public:
  explicit Impl(core::Engine& engine) : engine_(engine), store_(engine.store()) {}

  // Processes one unit after `cursor`; sets *cursor to its end. *more: stream left.
  Status Unit(StreamPosition* cursor, bool* more) {
    const core::Snapshot snap = engine_.Read();
    *more = false;
    if (snap.position() <= *cursor) return Status::Ok();
    batch_.Clear();
    ops_.clear();
    values_.clear();
    encoded_for_ = nullptr;
    counts_.clear();
    records_.clear();
    size_t entries = 0;
    notifications_ = 0;
    StreamPosition last = *cursor;
    Status status = Status::Ok();
    NEBU_RETURN_IF_ERROR(core::ScanStream(
        snap, *cursor, snap.position(),
        [&](StreamPosition position, const storage::StreamEntry& entry) {
          if (entry.kind == storage::StreamKind::kReceipt && entries > 0) {
            *more = true;  // a receipt reads unread entries: it starts a unit
            return false;
          }
          status = Entry(snap, position, entry);
          if (!status.ok()) return false;
          last = position;
          ++entries;
          if (entries >= kWorkerEntriesPerBatchMax ||
              notifications_ >= kWorkerNotificationsPerBatchMax) {
            *more = last < snap.position();
            return false;
          }
          return true;
        }));
    NEBU_RETURN_IF_ERROR(status);
    for (const auto& [key, counts] : counts_) {
      if (counts.notifications == 0 && counts.highlights == 0) {
        StageDelete(key);
      } else {
        Stage(key, internal::EncodeCounts(counts));
      }
    }
    for (const auto& [user, state] : records_) Stage(CountKey(user), U64Value(state.count));
    Stage(std::string(internal::kCursorKey), U64Value(last));
    FillBatch();
    NEBU_RETURN_IF_ERROR(store_.Write(batch_, /*sync=*/false));
    *cursor = last;
    return Status::Ok();
  }

  // Wipes the family when its format version differs; returns the cursor.
  Result<StreamPosition> Prepare() {
    NEBU_ASSIGN_OR_RETURN(auto version, store_.Get(Cf::kNotifications, internal::kVersionKey));
    const std::string want = U64Value(kNotificationsFormatVersion);
    if (version && *version == want) return NotificationsCursor(storage::ReadView(store_));
    if (version) spdlog::info("push: notifications format changed; rebuilding from the stream");
    rocksdb::WriteBatch batch;
    batch.DeleteRange(store_.handle(Cf::kNotifications), "", "\xff");
    batch.Put(store_.handle(Cf::kNotifications), internal::kVersionKey, want);
    batch.Put(store_.handle(Cf::kNotifications), internal::kCursorKey, U64Value(0));
    NEBU_RETURN_IF_ERROR(store_.Write(batch, /*sync=*/false));
    return StreamPosition{0};
  }

 private:
  // Per-user notification records: how many are stored and the position of the last
  // one deleted for the bound (the oldest go first).
  struct RecordState {
    uint64_t count = 0;
    StreamPosition deleted_through = 0;
    std::vector<StreamPosition> added;  // records this unit added, oldest first
  };

  // One write of the unit: a value of values_, or a delete.
  struct Op {
    std::string key;
    uint32_t value = 0;
  };
  static constexpr uint32_t kDeleteOp = UINT32_MAX;

  void Stage(std::string key, std::string value) {
    values_.push_back(std::move(value));
    ops_.push_back({std::move(key), static_cast<uint32_t>(values_.size() - 1)});
  }
  void StageDelete(std::string key) { ops_.push_back({std::move(key), kDeleteOp}); }

  // The unit's writes in key order (a stable sort: writes to one key keep their order,
  // so the batch leaves the same state), which RocksDB inserts far faster.
  void FillBatch() {
    std::stable_sort(ops_.begin(), ops_.end(),
                     [](const Op& a, const Op& b) { return a.key < b.key; });
    auto* cf = store_.handle(Cf::kNotifications);
    for (const Op& op : ops_) {
      if (op.value == kDeleteOp) {
        batch_.Delete(cf, op.key);
      } else {
        batch_.Put(cf, op.key, values_[op.value]);
      }
    }
  }

  static std::string CountKey(std::string_view user_id) {
    std::string k(1, 'k');
    storage::PutLengthPrefixed(&k, user_id);
    return k;
  }

  Status Entry(const storage::ReadView& snap, StreamPosition position,
               const storage::StreamEntry& entry) {
    switch (entry.kind) {
      case storage::StreamKind::kRoomEvent:
        return RoomEvent(snap, position, entry.room, entry.sequence);
      case storage::StreamKind::kReceipt:
        return ReceiptEntry(snap, position, entry);
      case storage::StreamKind::kAccountData:
        if (entry.a.empty() && entry.b == accounts::kPushRulesType) rulesets_.erase(entry.user);
        return Status::Ok();
      default:
        return Status::Ok();
    }
  }

  Result<RoomContext*> ContextFor(const storage::ReadView& snap, RoomNumber room, Sequence seq) {
    auto it = rooms_.find(room);
    if (it != rooms_.end() && it->second.sequence + 1 == seq) return &it->second;
    std::string room_id;
    if (it != rooms_.end()) {
      room_id = it->second.room_id;
    } else {
      NEBU_ASSIGN_OR_RETURN(auto id, core::RoomIdOf(snap, room));
      if (!id) return Status::Corruption("stream names an unknown room");
      room_id = std::move(*id);
    }
    NEBU_ASSIGN_OR_RETURN(RoomContext ctx, RoomContext::Load(snap, room, std::move(room_id), seq - 1));
    if (it == rooms_.end() && rooms_.size() >= kRoomContextsCachedMax) rooms_.clear();
    RoomContext& slot = rooms_[room];
    slot = std::move(ctx);
    return &slot;
  }

  Result<const CompiledRuleset*> RulesetFor(const storage::ReadView& snap, const std::string& user) {
    if (auto it = rulesets_.find(user); it != rulesets_.end()) return &it->second;
    auto stored = accounts::GetAccountData(snap, user, std::nullopt, accounts::kPushRulesType);
    std::optional<json::object> global;
    if (stored.ok()) {
      NEBU_ASSIGN_OR_RETURN(json::object data, ParseObject(*stored));
      if (const json::value* g = data.if_contains("global"); g && g->is_object()) {
        global = g->as_object();
      }
    } else if (stored.status().code() != StatusCode::kNotFound) {
      return stored.status();
    }
    if (rulesets_.size() >= kRuleSetsCachedMax || interner_.size() >= kConditionsInternedMax) {
      // The ids of the interner's conditions are in the rule sets and the memo.
      rulesets_.clear();
      interner_ = ConditionInterner();
      memo_.Reset();
    }
    auto [it, inserted] = rulesets_.emplace(
        user, CompiledRuleset(accounts::EffectivePushRuleset(user, global ? &*global : nullptr),
                              &interner_));
    return &it->second;
  }

  Result<UnreadCounts*> CountsAt(const storage::ReadView& snap, const std::string& key) {
    auto it = counts_.find(key);
    if (it == counts_.end()) {
      NEBU_ASSIGN_OR_RETURN(auto value, snap.Get(Cf::kNotifications, key));
      UnreadCounts counts;
      if (value) {
        auto decoded = internal::DecodeCounts(*value);
        if (!decoded) return Status::Corruption("malformed unread counts");
        counts = *decoded;
      }
      it = counts_.emplace(key, counts).first;
    }
    return &it->second;
  }

  Status RoomEvent(const storage::ReadView& snap, StreamPosition position, RoomNumber room,
                   Sequence seq) {
    NEBU_ASSIGN_OR_RETURN(storage::EventRecord record, storage::RoomLog(snap).Read(room, seq));
    NEBU_ASSIGN_OR_RETURN(json::object event, ParseObject(record.json));
    NEBU_ASSIGN_OR_RETURN(RoomContext * ctx, ContextFor(snap, room, seq));
    // (user, display name in the room)
    std::vector<std::pair<const std::string*, std::string_view>> recipients;
    for (const auto& [user, name] : ctx->joined) {
      if (recipients.size() == kMembersEvaluatedPerEventMax) break;
      if (user != record.sender) recipients.emplace_back(&user, name);
    }
    std::string invitee;
    if (record.type == "m.room.member" && record.state_key && !ctx->joined.contains(*record.state_key)) {
      const json::value* m = PropertyAt(event, "content.membership");
      if (m && m->is_string() && m->as_string() == "invite") invitee = *record.state_key;
    }
    if (!invitee.empty() && invitee != record.sender) recipients.emplace_back(&invitee, "");
    if (!recipients.empty()) {
      const PreparedEvent prepared(event);
      const PushRoom push_room{.room_id = ctx->room_id,
                               .joined_member_count = ctx->joined.size(),
                               .power_levels = ctx->power_levels ? &*ctx->power_levels : nullptr,
                               .creator = ctx->creator};
      Notification n{.position = position, .room_id = ctx->room_id, .event_id = record.event_id,
                     .sequence = seq, .ts = record.origin_server_ts, .thread_id = ThreadOf(event)};
      encoded_for_ = nullptr;
      memo_.Reset();
      for (const auto& [user, display_name] : recipients) {
        NEBU_ASSIGN_OR_RETURN(const CompiledRuleset* ruleset, RulesetFor(snap, *user));
        const PushActions* actions = ruleset->Evaluate(
            prepared, push_room, {.user_id = *user, .display_name = display_name}, &memo_);
        if (!actions || !actions->notify) continue;
        NEBU_RETURN_IF_ERROR(AddNotification(snap, *user, room, n, *actions));
      }
    }
    ctx->Advance(event);
    return Status::Ok();
  }

  // n: the event's record, its actions and highlight are set here from `actions`.
  Status AddNotification(const storage::ReadView& snap, const std::string& user, RoomNumber room,
                         Notification& n, const PushActions& actions) {
    // Recipients whose rules gave the same actions share one encoded record.
    if (encoded_for_ != &n || encoded_highlight_ != actions.highlight ||
        n.actions != actions.actions) {
      n.actions = actions.actions;
      n.highlight = actions.highlight;
      values_.push_back(internal::EncodeRecord(n));
      encoded_ = static_cast<uint32_t>(values_.size() - 1);
      encoded_for_ = &n;
      encoded_highlight_ = n.highlight;
      values_.push_back(internal::EncodeUnread(n.highlight, n.thread_id));
    }
    ops_.push_back({internal::RecordKey(user, n.position), encoded_});
    ops_.push_back({internal::UnreadKey(user, room, n.sequence), encoded_ + 1});
    for (const std::string& key :
         {internal::CountsKey(user, room), internal::ThreadCountsKey(user, room, n.thread_id)}) {
      NEBU_ASSIGN_OR_RETURN(UnreadCounts * counts, CountsAt(snap, key));
      ++counts->notifications;
      if (n.highlight) ++counts->highlights;
    }
    ++notifications_;
    return BoundRecords(snap, user, n.position);
  }

  // Keeps the user's newest kNotificationsPerUserMax records: deletes the oldest when a
  // record makes one too many (the same on every node: it depends on the count only).
  Status BoundRecords(const storage::ReadView& snap, const std::string& user,
                      StreamPosition added) {
    auto [it, inserted] = records_.try_emplace(user);
    RecordState& state = it->second;
    if (inserted) {
      NEBU_ASSIGN_OR_RETURN(auto value, snap.Get(Cf::kNotifications, CountKey(user)));
      if (value && value->size() == 8) state.count = storage::GetU64(value->data());
    }
    state.added.push_back(added);
    if (++state.count <= kNotificationsPerUserMax) return Status::Ok();
    // The oldest record: in the snapshot after what this unit deleted, else the
    // oldest one this unit added (a user may get many in one unit).
    const std::string prefix = internal::RecordPrefix(user);
    auto iter = snap.NewIterator(Cf::kNotifications);
    iter->Seek(internal::RecordKey(user, state.deleted_through + 1));
    StreamPosition oldest = added;
    if (iter->Valid() && iter->key().starts_with(prefix)) {
      oldest = storage::GetU64(iter->key().data() + iter->key().size() - 8);
    } else {
      NEBU_RETURN_IF_ERROR(WorkerIteratorStatus(*iter));
      std::vector<StreamPosition>& list = state.added;
      if (!list.empty()) {
        oldest = list.front();
        list.erase(list.begin());
      }
    }
    StageDelete(internal::RecordKey(user, oldest));
    state.deleted_through = oldest;
    --state.count;
    return Status::Ok();
  }

  // A receipt: the user's unread entries of the room at or before its event (in its
  // thread) are read.
  Status ReceiptEntry(const storage::ReadView& snap, StreamPosition position,
                      const storage::StreamEntry& entry) {
    NEBU_ASSIGN_OR_RETURN(auto receipts,
                          receipts::ReceiptsInRoom(snap, entry.room, position - 1, position));
    for (const receipts::Receipt& r : receipts) {
      if (r.position != position || r.user_id != entry.user) continue;  // superseded
      auto located = core::LocateEvent(snap, r.event_id);
      if (!located.ok()) {
        if (located.status().code() == StatusCode::kNotFound) continue;
        return located.status();
      }
      NEBU_RETURN_IF_ERROR(MarkRead(snap, r.user_id, entry.room, located->second, r.thread_id));
    }
    return Status::Ok();
  }

  Status MarkRead(const storage::ReadView& snap, const std::string& user, RoomNumber room,
                  Sequence through, std::string_view thread_id) {
    const std::string prefix = internal::UnreadPrefix(user, room);
    auto it = snap.NewIterator(Cf::kNotifications);
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      const Sequence seq = storage::GetU64(it->key().data() + it->key().size() - 8);
      if (seq > through) break;
      auto unread = internal::DecodeUnread(it->value().ToStringView());
      if (!unread) return Status::Corruption("malformed unread entry");
      if (!thread_id.empty() && unread->thread_id != thread_id) continue;
      StageDelete(it->key().ToString());
      for (const std::string& key : {internal::CountsKey(user, room),
                                     internal::ThreadCountsKey(user, room, unread->thread_id)}) {
        NEBU_ASSIGN_OR_RETURN(UnreadCounts * counts, CountsAt(snap, key));
        if (counts->notifications > 0) --counts->notifications;
        if (unread->highlight && counts->highlights > 0) --counts->highlights;
      }
    }
    return WorkerIteratorStatus(*it);
  }

  core::Engine& engine_;
  storage::Store& store_;
  rocksdb::WriteBatch batch_;
  // This unit's counts by key, and its users with new records (the order of the batch's
  // writes to distinct keys does not matter, so hash maps).
  std::unordered_map<std::string, UnreadCounts> counts_;
  std::unordered_map<std::string, RecordState> records_;
  std::vector<Op> ops_;               // the unit's writes, in the order they arose
  std::vector<std::string> values_;   // their values
  size_t notifications_ = 0;
  // values_[encoded_] is the last encoded record (values_[encoded_ + 1] its unread
  // entry), for encoded_for_ with n.actions and encoded_highlight_.
  uint32_t encoded_ = 0;
  const Notification* encoded_for_ = nullptr;
  bool encoded_highlight_ = false;
  std::map<RoomNumber, RoomContext> rooms_;
  std::unordered_map<std::string, CompiledRuleset> rulesets_;
  ConditionInterner interner_;
  ConditionMemo memo_;  // the current event's
};

NotificationWorker::NotificationWorker(core::Engine& engine)
    : engine_(engine), impl_(std::make_unique<Impl>(engine)) {}

NotificationWorker::~NotificationWorker() { Stop(); }

Status NotificationWorker::Start() {
  NEBU_ASSIGN_OR_RETURN(StreamPosition cursor, impl_->Prepare());
  notifier_.Advance(cursor);
  start_head_ = engine_.stream_position();
  caught_up_ = cursor >= start_head_;
  {
    std::lock_guard lock(wake_->mu);
    wake_->stop = false;
  }
  thread_ = std::thread([this] { Loop(); });
  return Status::Ok();
}

void NotificationWorker::Stop() {
  {
    std::lock_guard lock(wake_->mu);
    wake_->stop = true;
  }
  wake_->cv.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status NotificationWorker::RunOnce() {
  StreamPosition cursor = notifier_.current();
  if (cursor == 0) {
    NEBU_ASSIGN_OR_RETURN(cursor, impl_->Prepare());
  }
  bool more = true;
  while (more) {
    NEBU_RETURN_IF_ERROR(impl_->Unit(&cursor, &more));
    notifier_.Advance(cursor);
  }
  return Status::Ok();
}

void NotificationWorker::Hold(bool held) {
  std::lock_guard lock(wake_->mu);
  wake_->held = held;
  wake_->cv.notify_all();
}

void NotificationWorker::Loop() {
  StreamPosition cursor = notifier_.current();
  const std::shared_ptr<Wake> wake = wake_;
  while (true) {
    {
      std::unique_lock lock(wake->mu);
      wake->cv.wait(lock, [&] { return wake->stop || !wake->held; });
      if (wake->stop) return;
      wake->woken = false;
    }
    bool more = false;
    Status status = impl_->Unit(&cursor, &more);
    if (!status.ok()) {
      spdlog::error("push: notification worker: {} (retrying)", status.ToString());
      std::unique_lock lock(wake->mu);
      wake->cv.wait_for(lock, std::chrono::milliseconds(kWorkerRetryMs), [&] { return wake->stop; });
      continue;
    }
    notifier_.Advance(cursor);
    if (cursor >= start_head_) caught_up_ = true;
    if (more) continue;
    const core::Notifier::SubscriptionId id =
        engine_.notifier().Subscribe(cursor, [wake](StreamPosition) {
          std::lock_guard lock(wake->mu);
          wake->woken = true;
          wake->cv.notify_all();
        });
    bool fired = false;
    {
      std::unique_lock lock(wake->mu);
      wake->cv.wait(lock, [&] { return wake->stop || wake->woken; });
      fired = wake->woken;
    }
    if (!fired && id != 0) engine_.notifier().Unsubscribe(id);
  }
}

}  // namespace nebu::push
