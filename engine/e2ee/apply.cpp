// ApplyE2eeCommand: the deterministic state-machine side of e2ee.h.
//
// Each handler reads stored state (never the pending batch), decides, then stages its
// writes; the state machine's save point removes them if the handler fails.
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <functional>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include "engine/accounts/accounts.h"
#include "engine/e2ee/e2ee.h"
#include "engine/e2ee/keys.h"
#include "engine/e2ee/signatures.h"
#include "engine/event/canonical_json.h"

namespace nebu::e2ee {
namespace {

namespace json = boost::json;
using storage::Cf;

Result<uint64_t> DecodeCount(const std::string& bytes) {
  if (bytes.size() != 8) return Status::Corruption("bad e2ee counter");
  return storage::GetU64(bytes.data());
}

class Applier {
 public:
  Applier(storage::Store& store, rocksdb::WriteBatch& batch, storage::StreamAppender& stream)
      : store_(store), batch_(batch), stream_(stream) {}

  Result<std::string> Apply(const UploadKeysCommand& c);
  Result<std::string> Apply(const ClaimKeysCommand& c);
  Result<std::string> Apply(const UploadSigningKeysCommand& c);
  Result<std::string> Apply(const UploadSignaturesCommand& c);
  Result<std::string> Apply(const SendToDeviceCommand& c);
  Result<std::string> Apply(const DeleteToDeviceCommand& c);
  Result<std::string> Apply(const PruneDevicesCommand& c);

 private:
  // kForbidden when the upload would leave more than kFallbackKeysPerDeviceMax.
  Status CheckFallbackQuota(const UploadKeysCommand& c);
  // Counters of a to-device queue, read once per command and staged.
  struct QueueCounts {
    std::map<std::pair<std::string, std::string>, uint64_t> device;  // (user, device)
    std::map<std::pair<std::string, std::string>, uint64_t> from_sender;
  };
  Result<uint64_t*> Counter(std::map<std::pair<std::string, std::string>, uint64_t>& staged,
                            const std::pair<std::string, std::string>& who,
                            const std::string& key) {
    auto it = staged.find(who);
    if (it == staged.end()) {
      NEBU_ASSIGN_OR_RETURN(uint64_t n, ReadCount(Cf::kToDevice, key));
      it = staged.emplace(who, n).first;
    }
    return &it->second;
  }

  Status Put(Cf cf, std::string_view key, std::string_view value) {
    return storage::FromRocks(batch_.Put(store_.handle(cf), key, value));
  }
  Status Delete(Cf cf, std::string_view key) {
    return storage::FromRocks(batch_.Delete(store_.handle(cf), key));
  }
  Result<uint64_t> ReadCount(Cf cf, const std::string& key) {
    NEBU_ASSIGN_OR_RETURN(auto bytes, store_.Get(cf, key));
    if (!bytes) return uint64_t{0};
    return DecodeCount(*bytes);
  }
  Status WriteCount(Cf cf, const std::string& key, uint64_t n) {
    return n == 0 ? Delete(cf, key) : Put(cf, key, storage::U64Key(n));
  }
  // Visits every (key, value) under prefix in order; stops early when visit says false.
  Status Scan(Cf cf, std::string_view prefix,
              const std::function<bool(std::string_view, std::string_view)>& visit) {
    std::unique_ptr<rocksdb::Iterator> it = store_.NewIterator(cf);
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      if (!visit(it->key().ToStringView(), it->value().ToStringView())) break;
    }
    return storage::FromRocks(it->status());
  }
  // Deletes every key under prefix whose device (the second part after skip bytes)
  // is not in `keep`; returns those devices.
  Result<std::set<std::string>> DeleteGone(Cf cf, std::string_view prefix, size_t skip,
                                           const std::set<std::string, std::less<>>& keep);

  storage::Store& store_;
  rocksdb::WriteBatch& batch_;
  storage::StreamAppender& stream_;
};

// ---- upload_keys ----

Status Applier::CheckFallbackQuota(const UploadKeysCommand& c) {
  if (c.fallback_keys.empty()) return Status::Ok();
  std::set<std::string, std::less<>> algorithms;
  NEBU_RETURN_IF_ERROR(Scan(Cf::kOneTimeKeys,
                            internal::TaggedKey(internal::kTagFallback, {c.user_id, c.device_id}),
                            [&](std::string_view key, std::string_view) {
                              auto parts = internal::DecodeParts(key, 3, 1);
                              if (parts) algorithms.emplace((*parts)[2]);
                              return true;
                            }));
  for (const auto& entry : c.fallback_keys) algorithms.emplace(SplitKeyName(entry.key())->first);
  if (algorithms.size() > kFallbackKeysPerDeviceMax) {
    return Status::Forbidden("quota: a device holds at most " +
                             std::to_string(kFallbackKeysPerDeviceMax) + " fallback keys");
  }
  return Status::Ok();
}

Result<std::string> Applier::Apply(const UploadKeysCommand& c) {
  NEBU_RETURN_IF_ERROR(accounts::GetDevice(store_, c.user_id, c.device_id).status());
  if (c.device_keys) {
    NEBU_ASSIGN_OR_RETURN(std::string text, event::CanonicalJson(*c.device_keys));
    const std::string key = internal::DeviceKeysKey(c.user_id, c.device_id);
    NEBU_ASSIGN_OR_RETURN(auto stored, store_.Get(Cf::kDeviceKeys, key));
    if (stored != text) {
      NEBU_RETURN_IF_ERROR(Put(Cf::kDeviceKeys, key, text));
      stream_.Append(storage::StreamEntry::DeviceKeys(c.user_id));
    }
  }
  // Counts as stored, then this upload's additions.
  std::map<std::string, uint64_t> counts;
  NEBU_RETURN_IF_ERROR(Scan(Cf::kOneTimeKeys,
                            internal::TaggedKey(internal::kTagKeyCount, {c.user_id, c.device_id}),
                            [&](std::string_view key, std::string_view value) {
                              auto parts = internal::DecodeParts(key, 3, 1);
                              if (parts && value.size() == 8) {
                                counts[std::string((*parts)[2])] = storage::GetU64(value.data());
                              }
                              return true;
                            }));
  uint64_t total = 0;
  for (const auto& [algorithm, n] : counts) total += n;
  std::set<std::string> changed_algorithms;
  for (const auto& [name, key_value] : c.one_time_keys) {
    auto [algorithm, key_id] = *SplitKeyName(name);
    NEBU_ASSIGN_OR_RETURN(std::string text, event::CanonicalJson(key_value));
    const std::string key = internal::OneTimeKeyKey(c.user_id, c.device_id, algorithm, key_id);
    NEBU_ASSIGN_OR_RETURN(auto stored, store_.Get(Cf::kOneTimeKeys, key));
    if (stored) {
      if (*stored == text) continue;  // the same key again (a retried upload)
      return Status::InvalidArgument("one-time key " + std::string(name) +
                                     " already exists with different content");
    }
    if (total >= kOneTimeKeysPerDeviceMax) {
      return Status::Forbidden("quota: a device holds at most " +
                               std::to_string(kOneTimeKeysPerDeviceMax) +
                               " one-time keys (all algorithms)");
    }
    ++total;
    ++counts[std::string(algorithm)];
    changed_algorithms.emplace(algorithm);
    NEBU_RETURN_IF_ERROR(Put(Cf::kOneTimeKeys, key, text));
  }
  for (const std::string& algorithm : changed_algorithms) {
    NEBU_RETURN_IF_ERROR(WriteCount(Cf::kOneTimeKeys,
                                    internal::KeyCountKey(c.user_id, c.device_id, algorithm),
                                    counts[algorithm]));
  }
  NEBU_RETURN_IF_ERROR(CheckFallbackQuota(c));
  for (const auto& [name, key_value] : c.fallback_keys) {
    auto [algorithm, key_id] = *SplitKeyName(name);
    NEBU_ASSIGN_OR_RETURN(std::string text, event::CanonicalJson(key_value));
    const std::string key = internal::FallbackKey(c.user_id, c.device_id, algorithm);
    NEBU_ASSIGN_OR_RETURN(auto stored, store_.Get(Cf::kOneTimeKeys, key));
    if (stored) {
      auto old = internal::DecodeFallback(*stored);
      if (!old) return Status::Corruption("bad fallback key record");
      if (old->key_id == key_id && old->json == text) continue;  // same key: keep `used`
    }
    NEBU_RETURN_IF_ERROR(
        Put(Cf::kOneTimeKeys, key, internal::EncodeFallback({false, std::string(key_id), text})));
  }
  json::object out_counts;
  out_counts[kSignedCurve25519] = 0;
  for (const auto& [algorithm, n] : counts) out_counts[algorithm] = static_cast<int64_t>(n);
  return event::CanonicalJson(json::object{{"one_time_key_counts", std::move(out_counts)}});
}

// ---- claim_keys ----

Result<std::string> Applier::Apply(const ClaimKeysCommand& c) {
  json::object result;
  for (const KeyClaim& claim : c.claims) {
    std::optional<std::pair<std::string, std::string>> found;  // key name, JSON
    const std::string prefix = internal::TaggedKey(
        internal::kTagOneTimeKey, {claim.user_id, claim.device_id, claim.algorithm});
    std::string found_key;
    NEBU_RETURN_IF_ERROR(
        Scan(Cf::kOneTimeKeys, prefix, [&](std::string_view key, std::string_view value) {
          auto parts = internal::DecodeParts(key, 4, 1);
          if (!parts) return true;  // reported as not found below; nothing else matches
          found.emplace(claim.algorithm + ":" + std::string((*parts)[3]), std::string(value));
          found_key = std::string(key);
          return false;
        }));
    if (found) {
      NEBU_RETURN_IF_ERROR(Delete(Cf::kOneTimeKeys, found_key));
      const std::string count_key =
          internal::KeyCountKey(claim.user_id, claim.device_id, claim.algorithm);
      NEBU_ASSIGN_OR_RETURN(uint64_t count, ReadCount(Cf::kOneTimeKeys, count_key));
      if (count == 0) return Status::Corruption("one-time key count below the stored keys");
      NEBU_RETURN_IF_ERROR(WriteCount(Cf::kOneTimeKeys, count_key, count - 1));
    } else {
      const std::string key =
          internal::FallbackKey(claim.user_id, claim.device_id, claim.algorithm);
      NEBU_ASSIGN_OR_RETURN(auto stored, store_.Get(Cf::kOneTimeKeys, key));
      if (!stored) continue;
      auto record = internal::DecodeFallback(*stored);
      if (!record) return Status::Corruption("bad fallback key record");
      if (!record->used) {
        record->used = true;
        NEBU_RETURN_IF_ERROR(Put(Cf::kOneTimeKeys, key, internal::EncodeFallback(*record)));
      }
      found.emplace(claim.algorithm + ":" + record->key_id, record->json);
    }
    NEBU_ASSIGN_OR_RETURN(json::value key_value, event::ParseJson(found->second));
    json::value& user = result[claim.user_id];
    if (!user.is_object()) user = json::object{};
    json::value& device = user.as_object()[claim.device_id];
    if (!device.is_object()) device = json::object{};
    device.as_object()[found->first] = std::move(key_value);
  }
  return event::CanonicalJson(json::object{{"one_time_keys", std::move(result)}});
}

// ---- cross-signing ----

// check_master_signature: the sub-keys against the master key in effect now.
Status CheckAgainstAppliedMaster(storage::Store& store, const UploadSigningKeysCommand& c) {
  if (!c.check_master_signature || (!c.self_signing_key && !c.user_signing_key)) {
    return Status::Ok();
  }
  std::optional<json::object> master = c.master_key;
  if (!master) {
    NEBU_ASSIGN_OR_RETURN(
        auto stored, store.Get(Cf::kCrossSigning, internal::SigningKeyKey(c.user_id, kUsageMaster)));
    if (stored) {
      NEBU_ASSIGN_OR_RETURN(json::value parsed, event::ParseJson(*stored));
      if (!parsed.is_object()) return Status::Corruption("stored master key is not an object");
      master = std::move(parsed.as_object());
    }
  }
  for (const std::optional<json::object>* sub : {&c.self_signing_key, &c.user_signing_key}) {
    if (*sub) NEBU_RETURN_IF_ERROR(CheckSignedByMaster(master ? &*master : nullptr, **sub, c.user_id));
  }
  return Status::Ok();
}

Result<std::string> Applier::Apply(const UploadSigningKeysCommand& c) {
  NEBU_RETURN_IF_ERROR(CheckAgainstAppliedMaster(store_, c));
  const std::pair<std::string_view, const std::optional<json::object>*> keys[] = {
      {kUsageMaster, &c.master_key},
      {kUsageSelfSigning, &c.self_signing_key},
      {kUsageUserSigning, &c.user_signing_key}};
  // Reads and the compare-and-set first, writes after.
  std::vector<std::pair<std::string, std::string>> writes;  // key, canonical text
  for (const auto& [usage, key_object] : keys) {
    if (!*key_object) continue;
    NEBU_ASSIGN_OR_RETURN(std::string text, event::CanonicalJson(**key_object));
    std::string key = internal::SigningKeyKey(c.user_id, usage);
    NEBU_ASSIGN_OR_RETURN(auto stored, store_.Get(Cf::kCrossSigning, key));
    if (stored == text) continue;
    writes.emplace_back(std::move(key), std::move(text));
  }
  if (c.without_uia && !writes.empty()) {
    NEBU_ASSIGN_OR_RETURN(
        auto master, store_.Get(Cf::kCrossSigning, internal::SigningKeyKey(c.user_id, kUsageMaster)));
    if (master) return Status::AlreadyExists("cross-signing keys exist");
  }
  for (const auto& [key, text] : writes) NEBU_RETURN_IF_ERROR(Put(Cf::kCrossSigning, key, text));
  const bool changed = !writes.empty();
  if (changed) stream_.Append(storage::StreamEntry::DeviceKeys(c.user_id));
  return std::string("{}");
}

// check_signatures: *verdict is OK when the entry verifies against the applied
// state, else why not; the returned status is a read error.
Status CheckAgainstApplied(storage::Store& store, const std::string& signer,
                           const SignatureEntry& s, Status* verdict) {
  std::string why;
  NEBU_ASSIGN_OR_RETURN(auto target,
                        FindSignatureTarget(store, signer, s.target_user, s.target_key_id, &why));
  *verdict = Status::InvalidArgument("No valid signature by a key allowed to sign this key");
  if (!target) {
    *verdict = Status::InvalidArgument(why);
    return Status::Ok();
  }
  auto allowed = target->allowed_signers.find(s.signer_key_id);
  if (allowed == target->allowed_signers.end()) return Status::Ok();
  json::object signed_copy = std::move(target->stored);
  signed_copy["signatures"] =
      json::object{{signer, json::object{{s.signer_key_id, s.signature}}}};
  if (VerifyJsonSignature(signed_copy, signer, s.signer_key_id, allowed->second).ok()) {
    *verdict = Status::Ok();
  }
  return Status::Ok();
}

Result<std::string> Applier::Apply(const UploadSignaturesCommand& c) {
  std::set<std::string> changed_users;
  json::object failures;
  for (const SignatureEntry& s : c.signatures) {
    if (c.check_signatures) {
      Status verified;
      NEBU_RETURN_IF_ERROR(CheckAgainstApplied(store_, c.signer, s, &verified));
      if (!verified.ok()) {
        json::value& user = failures[s.target_user];
        if (!user.is_object()) user = json::object{};
        user.as_object()[s.target_key_id] =
            json::object{{"errcode", "M_INVALID_SIGNATURE"}, {"error", verified.message()}};
        continue;
      }
    }
    const std::string key =
        internal::SignatureKey(s.target_user, s.target_key_id, c.signer, s.signer_key_id);
    NEBU_ASSIGN_OR_RETURN(auto stored, store_.Get(Cf::kCrossSigning, key));
    if (stored == s.signature) continue;
    NEBU_RETURN_IF_ERROR(Put(Cf::kCrossSigning, key, s.signature));
    changed_users.insert(s.target_user);
  }
  for (const std::string& user : changed_users) {
    stream_.Append(storage::StreamEntry::DeviceKeys(user));
  }
  if (failures.empty()) return std::string("{}");
  return event::CanonicalJson(json::object{{"failures", std::move(failures)}});
}

// ---- to-device ----

Result<std::string> Applier::Apply(const SendToDeviceCommand& c) {
  const std::string txn_key = internal::TxnKey(c.sender, c.sender_device, c.txn_id);
  NEBU_ASSIGN_OR_RETURN(auto seen, store_.Get(Cf::kToDevice, txn_key));
  if (seen) return std::string("{\"queued\":0}");
  NEBU_RETURN_IF_ERROR(Put(Cf::kToDevice, txn_key, ""));
  QueueCounts counts;
  uint64_t queued = 0;
  uint64_t over_quota = 0;
  for (const ToDeviceTarget& m : c.messages) {
    std::vector<std::string> devices;
    if (m.device_id == "*") {
      NEBU_ASSIGN_OR_RETURN(auto all, accounts::ListDevices(store_, m.user_id));
      for (accounts::Device& d : all) devices.push_back(std::move(d.device_id));
    } else {
      auto device = accounts::GetDevice(store_, m.user_id, m.device_id);
      if (device.ok()) {
        devices.push_back(m.device_id);
      } else if (device.status().code() != StatusCode::kNotFound) {
        return device.status();
      }
    }
    if (devices.empty()) continue;  // unknown user or device: dropped, like Synapse
    NEBU_ASSIGN_OR_RETURN(std::string message,
                          event::CanonicalJson(json::object{
                              {"content", m.content}, {"sender", c.sender}, {"type", c.type}}));
    std::optional<storage::StreamPosition> position;
    for (const std::string& device : devices) {
      std::pair<std::string, std::string> who{m.user_id, device};
      NEBU_ASSIGN_OR_RETURN(uint64_t * size,
                            Counter(counts.device, who, internal::QueueCountKey(m.user_id, device)));
      NEBU_ASSIGN_OR_RETURN(
          uint64_t * from_sender,
          Counter(counts.from_sender, who, internal::SenderCountKey(m.user_id, device, c.sender)));
      if (*size >= kToDeviceQueueMax) continue;  // full: dropped
      if (*from_sender >= kToDeviceFromSenderMax) {
        ++over_quota;
        continue;
      }
      if (!position)
        position = stream_.Append(storage::StreamEntry::ToDevice(m.user_id, m.device_id));
      ++*size;
      ++*from_sender;
      ++queued;
      NEBU_RETURN_IF_ERROR(
          Put(Cf::kToDevice, internal::ToDeviceKey(m.user_id, device, *position), message));
    }
  }
  if (queued == 0 && over_quota > 0) {
    return Status::Forbidden("quota: a device holds at most " +
                             std::to_string(kToDeviceFromSenderMax) +
                             " to-device messages from one sender");
  }
  for (const auto& [who, n] : counts.device) {
    NEBU_RETURN_IF_ERROR(
        WriteCount(Cf::kToDevice, internal::QueueCountKey(who.first, who.second), n));
  }
  for (const auto& [who, n] : counts.from_sender) {
    NEBU_RETURN_IF_ERROR(WriteCount(
        Cf::kToDevice, internal::SenderCountKey(who.first, who.second, c.sender), n));
  }
  return event::CanonicalJson(json::object{{"queued", static_cast<int64_t>(queued)}});
}

// The sender of a stored message ("" when unreadable: its count is then not lowered,
// which only errs towards the quota).
std::string MessageSender(std::string_view message) {
  boost::system::error_code ec;
  json::value v = json::parse(message, ec);
  if (ec || !v.is_object()) return {};
  const json::value* sender = v.as_object().if_contains("sender");
  return sender && sender->is_string() ? std::string(sender->as_string()) : std::string();
}

Result<std::string> Applier::Apply(const DeleteToDeviceCommand& c) {
  const std::string prefix = internal::TaggedKey(internal::kTagMessage, {c.user_id, c.device_id});
  uint64_t deleted = 0;
  std::vector<std::string> keys;
  std::map<std::string, uint64_t> per_sender;  // deleted messages of each sender
  NEBU_RETURN_IF_ERROR(Scan(Cf::kToDevice, prefix, [&](std::string_view key, std::string_view value) {
    std::string_view rest = key.substr(prefix.size());
    if (rest.size() != 8 || storage::GetU64(rest.data()) > c.upto) return false;
    keys.emplace_back(key);
    ++per_sender[MessageSender(value)];
    return true;
  }));
  for (const auto& [sender, n] : per_sender) {
    const std::string count_key = internal::SenderCountKey(c.user_id, c.device_id, sender);
    NEBU_ASSIGN_OR_RETURN(uint64_t stored, ReadCount(Cf::kToDevice, count_key));
    NEBU_RETURN_IF_ERROR(WriteCount(Cf::kToDevice, count_key, stored > n ? stored - n : 0));
  }
  for (const std::string& key : keys) {
    NEBU_RETURN_IF_ERROR(Delete(Cf::kToDevice, key));
    ++deleted;
  }
  if (deleted > 0) {
    const std::string count_key = internal::QueueCountKey(c.user_id, c.device_id);
    NEBU_ASSIGN_OR_RETURN(uint64_t n, ReadCount(Cf::kToDevice, count_key));
    NEBU_RETURN_IF_ERROR(WriteCount(Cf::kToDevice, count_key, n > deleted ? n - deleted : 0));
  }
  return std::string("{}");
}

// ---- prune_devices ----

Result<std::set<std::string>> Applier::DeleteGone(Cf cf, std::string_view prefix, size_t skip,
                                                  const std::set<std::string, std::less<>>& keep) {
  std::vector<std::string> doomed;
  std::set<std::string> gone;
  NEBU_RETURN_IF_ERROR(Scan(cf, prefix, [&](std::string_view key, std::string_view) {
    std::string_view rest;
    auto parts = internal::DecodeParts(key, 2, skip, &rest);
    if (parts && !keep.contains((*parts)[1])) {
      doomed.emplace_back(key);
      gone.emplace((*parts)[1]);
    }
    return true;
  }));
  for (const std::string& key : doomed) NEBU_RETURN_IF_ERROR(Delete(cf, key));
  return gone;
}

Result<std::string> Applier::Apply(const PruneDevicesCommand& c) {
  NEBU_ASSIGN_OR_RETURN(auto devices, accounts::ListDevices(store_, c.user_id));
  std::set<std::string, std::less<>> keep;
  for (const accounts::Device& d : devices) keep.insert(d.device_id);
  NEBU_ASSIGN_OR_RETURN(
      std::set<std::string> gone,
      DeleteGone(Cf::kDeviceKeys, internal::DeviceKeysPrefix(c.user_id), 0, keep));
  for (char tag : {internal::kTagOneTimeKey, internal::kTagKeyCount, internal::kTagFallback}) {
    NEBU_RETURN_IF_ERROR(
        DeleteGone(Cf::kOneTimeKeys, internal::TaggedKey(tag, {c.user_id}), 1, keep).status());
  }
  for (char tag : {internal::kTagMessage, internal::kTagQueueCount, internal::kTagTxn,
                   internal::kTagSenderCount}) {
    NEBU_RETURN_IF_ERROR(
        DeleteGone(Cf::kToDevice, internal::TaggedKey(tag, {c.user_id}), 1, keep).status());
  }
  // Signatures on the gone devices' keys (cross-signing keys' signatures stay).
  for (const std::string& device : gone) {
    std::vector<std::string> doomed;
    NEBU_RETURN_IF_ERROR(Scan(Cf::kCrossSigning,
                              internal::TaggedKey(internal::kTagSignature, {c.user_id, device}),
                              [&](std::string_view key, std::string_view) {
                                doomed.emplace_back(key);
                                return true;
                              }));
    for (const std::string& key : doomed) NEBU_RETURN_IF_ERROR(Delete(Cf::kCrossSigning, key));
  }
  if (!gone.empty()) {
    stream_.Append(storage::StreamEntry::DeviceKeys(c.user_id, /*device_left=*/true));
  }
  return std::string("{}");
}

}  // namespace

Result<std::string> ApplyE2eeCommand(storage::Store& store, rocksdb::WriteBatch& batch,
                                     std::string_view payload, storage::StreamAppender& stream) {
  NEBU_ASSIGN_OR_RETURN(E2eeCommand command, DecodeE2eeCommand(payload));
  Applier applier(store, batch, stream);
  return std::visit([&](const auto& c) { return applier.Apply(c); }, command);
}

}  // namespace nebu::e2ee
