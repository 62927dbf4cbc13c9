#include "app/backup_service.h"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>

#include "api/errors.h"
#include "app/config.h"
#include "engine/common/crypto.h"

namespace nebu::app {

namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

// "127.0.0.1:5000", "[::1]:5000", "[::ffff:127.0.0.1]:5000".
bool IsLoopbackPeer(std::string_view address) {
  return address.starts_with("127.") || address.starts_with("[::1]") ||
         address.starts_with("[::ffff:127.");
}

std::optional<api::Response> Refuse(const api::Request& request, const std::string& token) {
  if (!IsLoopbackPeer(request.remote_address)) {
    return api::ErrorResponse(403, "M_FORBIDDEN", "Backups are requested from the node's host only");
  }
  std::optional<std::string_view> header = request.headers.Get("Authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (!header || !header->starts_with(kBearer) || header->size() == kBearer.size()) {
    return api::ErrorResponse(401, "M_MISSING_TOKEN",
                              "The token in <data_dir>/backup.token is required");
  }
  if (!SecretsEqual(header->substr(kBearer.size()), token)) {
    return api::ErrorResponse(403, "M_FORBIDDEN", "Wrong backup token");
  }
  return std::nullopt;
}

Status WriteToken(const std::string& data_dir, const std::string& token) {
  fs::path path = fs::path(data_dir) / kBackupTokenFile;
  NEBU_RETURN_IF_ERROR(WriteFileAtomically(path, token));
  std::error_code ec;
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace, ec);
  if (ec) return Status::IoError("cannot restrict " + path.string() + ": " + ec.message());
  return Status::Ok();
}

}  // namespace

json::object SummaryJson(const BackupSummary& s) {
  const BackupManifest& m = s.manifest;
  return {{"id", m.id},
          {"previous", m.previous},
          {"events", m.events},
          {"applied_index", m.applied_index},
          {"stream_position", m.stream_position},
          {"files", m.files.size()},
          {"bytes", m.bytes()},
          {"files_reused", s.files_reused},
          {"objects_written", s.objects_written},
          {"bytes_written", s.bytes_written},
          {"backups_removed", s.backups_removed},
          {"objects_removed", s.objects_removed},
          {"seconds", s.seconds},
          {"line", SummaryLine(s)}};
}

BackupService::BackupService(core::Engine& engine, BackupServiceOptions options)
    : engine_(engine), options_(std::move(options)) {}

Result<std::unique_ptr<BackupService>> BackupService::Start(core::Engine& engine,
                                                            BackupServiceOptions options,
                                                            api::Router& ops,
                                                            api::Metrics& metrics) {
  std::unique_ptr<BackupService> service(new BackupService(engine, std::move(options)));
  service->token_ = HexEncode(RandomBytes(kBackupTokenBytes));
  NEBU_RETURN_IF_ERROR(WriteToken(service->options_.data_dir, service->token_));
  service->AddRoutes(ops);
  BackupService* raw = service.get();
  metrics.AddCounterFunction("nebu_backups_total", "Backups this process completed",
                             [raw] { return static_cast<double>(raw->succeeded_.load()); });
  metrics.AddCounterFunction("nebu_backup_failures_total", "Backups this process failed",
                             [raw] { return static_cast<double>(raw->failed_.load()); });
  if (!service->options_.schedule_dest.empty()) {
    service->scheduler_ = std::thread([raw] { raw->ScheduleLoop(); });
    spdlog::info("backup: every {} s into {}, keeping {}", service->options_.interval_ms / 1000,
                 service->options_.schedule_dest, service->options_.keep);
  }
  return service;
}

BackupService::~BackupService() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (scheduler_.joinable()) scheduler_.join();
  if (worker_.joinable()) worker_.join();
}

Result<uint64_t> BackupService::StartJob(const std::string& dest, size_t keep) {
  NEBU_ASSIGN_OR_RETURN(std::unique_ptr<BackupTarget> target, OpenBackupTarget(dest, options_.s3));
  std::lock_guard lock(mu_);
  if (stopping_) return Status::Unavailable("the node is stopping");
  if (running_) return Status::AlreadyExists("a backup is running (job " + std::to_string(job_) + ")");
  if (worker_.joinable()) worker_.join();  // finished: it cleared running_ last
  running_ = true;
  ++job_;
  dest_ = target->where();
  state_ = "running";
  error_.clear();
  summary_.clear();
  progress_ = std::make_unique<BackupProgress>();
  worker_ = std::thread([this, job = job_, t = std::move(target), keep]() mutable {
    Run(job, std::move(t), keep);
  });
  return job_;
}

void BackupService::Run(uint64_t job, std::unique_ptr<BackupTarget> target, size_t keep) {
  BackupProgress* progress = nullptr;
  {
    std::lock_guard lock(mu_);
    progress = progress_.get();
  }
  spdlog::info("backup: job {} into {} started", job, target->where());
  Result<BackupSummary> done = CreateBackup(engine_,
                                            *target,
                                            {.data_dir = options_.data_dir,
                                             .nebu_version = options_.nebu_version,
                                             .cluster_id = options_.cluster_id,
                                             .keep = keep},
                                            progress);
  std::lock_guard lock(mu_);
  if (done.ok()) {
    ++succeeded_;
    state_ = "done";
    summary_ = SummaryJson(*done);
    spdlog::info("backup: job {}: {}", job, SummaryLine(*done));
  } else {
    ++failed_;
    state_ = "failed";
    error_ = done.status().ToString();
    spdlog::error("backup: job {} into {} failed: {}", job, target->where(), error_);
  }
  running_ = false;
}

json::object BackupService::StatusJson() {
  std::lock_guard lock(mu_);
  json::object o{{"state", state_}, {"job", job_}, {"dest", dest_}};
  if (progress_) {
    o["phase"] = PhaseName(progress_->phase.load());
    o["files_done"] = progress_->files_done.load();
    o["files_total"] = progress_->files_total.load();
    o["bytes_done"] = progress_->bytes_done.load();
    o["bytes_total"] = progress_->bytes_total.load();
  }
  if (state_ == "done") o["summary"] = summary_;
  if (state_ == "failed") o["error"] = error_;
  return o;
}

void BackupService::ScheduleLoop() {
  for (;;) {
    {
      std::unique_lock lock(mu_);
      if (cv_.wait_for(lock, std::chrono::milliseconds(options_.interval_ms),
                       [this] { return stopping_; })) {
        return;
      }
    }
    Result<uint64_t> job = StartJob(options_.schedule_dest, options_.keep);
    if (!job.ok()) {
      if (job.status().code() != StatusCode::kAlreadyExists) ++failed_;
      spdlog::warn("backup: scheduled backup into {} not started: {}", options_.schedule_dest,
                   job.status().ToString());
    }
  }
}

void BackupService::AddRoutes(api::Router& ops) {
  ops.Add(
      "POST", "/_nebu/backup",
      [this](const api::Request& request, const api::PathParams&) {
        if (auto refused = Refuse(request, token_)) return *refused;
        boost::system::error_code ec;
        json::value body = json::parse(request.body, ec);
        if (ec || !body.is_object()) return api::ErrorResponse(400, "M_NOT_JSON", "Body is not a JSON object");
        const json::value* dest = body.as_object().if_contains("dest");
        const json::value* keep = body.as_object().if_contains("keep");
        if (dest == nullptr || !dest->is_string()) {
          return api::ErrorResponse(400, "M_BAD_JSON", "\"dest\" (a string) is required");
        }
        std::string d(dest->as_string());
        if (!d.starts_with("s3://") && !fs::path(d).is_absolute()) {
          return api::ErrorResponse(400, "M_INVALID_PARAM", "\"dest\" must be an absolute path or s3:// URL");
        }
        if (keep != nullptr && !(keep->is_uint64() || (keep->is_int64() && keep->as_int64() >= 0))) {
          return api::ErrorResponse(400, "M_BAD_JSON", "\"keep\" must be a non-negative integer");
        }
        size_t k = keep == nullptr ? 0 : static_cast<size_t>(keep->to_number<uint64_t>());
        if (k > kBackupKeepMax) return api::ErrorResponse(400, "M_INVALID_PARAM", "\"keep\" is over 10000");
        Result<uint64_t> job = StartJob(d, k);
        if (!job.ok() && job.status().code() == StatusCode::kAlreadyExists) {
          return api::ErrorResponse(409, "M_UNKNOWN", job.status().message());
        }
        if (!job.ok() && job.status().code() == StatusCode::kInvalidArgument) {
          return api::ErrorResponse(400, "M_INVALID_PARAM", job.status().message());
        }
        if (!job.ok()) return api::ErrorResponse(job.status());
        return api::JsonResponse(202, json::object{{"job", *job}});
      },
      {.body_bytes_max = kBackupRequestBytesMax});
  ops.Add("GET", "/_nebu/backup", [this](const api::Request& request, const api::PathParams&) {
    if (auto refused = Refuse(request, token_)) return *refused;
    return api::JsonResponse(200, StatusJson());
  });
}

}  // namespace nebu::app
