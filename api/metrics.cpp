#include "api/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <array>
#include <mutex>
#include <vector>

namespace nebu::api {
namespace {

constexpr std::array<std::string_view, 7> kKnownMethods = {"GET",     "POST", "PUT",  "DELETE",
                                                           "OPTIONS", "HEAD", "PATCH"};

std::string MethodLabel(std::string_view method) {
  for (std::string_view known : kKnownMethods) {
    if (method == known) return std::string(known);
  }
  return "OTHER";
}

const prometheus::Histogram::BucketBoundaries& LatencyBucketsSeconds() {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
  return kBuckets;
}

const prometheus::Histogram::BucketBoundaries& CommitBucketsSeconds() {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
  return kBuckets;
}

const prometheus::Histogram::BucketBoundaries& CommitGroupBucketsCommands() {
  static const prometheus::Histogram::BucketBoundaries kBuckets = [] {
    prometheus::Histogram::BucketBoundaries bounds;
    for (size_t i = 0; i < Metrics::kCommitGroupBuckets; ++i) {
      bounds.push_back(static_cast<double>(size_t{1} << i));
    }
    return bounds;
  }();
  return kBuckets;
}

}  // namespace

struct Metrics::Impl {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  prometheus::Family<prometheus::Counter>& requests =
      prometheus::BuildCounter()
          .Name("nebu_http_requests_total")
          .Help("HTTP requests answered, by listener, route pattern, method and status")
          .Register(*registry);
  prometheus::Family<prometheus::Histogram>& latency =
      prometheus::BuildHistogram()
          .Name("nebu_http_request_duration_seconds")
          .Help("Time spent answering a complete request, by listener and route")
          .Register(*registry);

  prometheus::Histogram& commit =
      prometheus::BuildHistogram()
          .Name("nebu_commit_seconds")
          .Help("Time from proposing a command to its applied outcome (commit, fsync, apply)")
          .Register(*registry)
          .Add({}, CommitBucketsSeconds());
  prometheus::Histogram& commit_group =
      prometheus::BuildHistogram()
          .Name("nebu_commit_group_size")
          .Help("Commands per commit group (one fsynced commit-log write on a single node; "
                "one Append to the ordered log by this node in a cluster)")
          .Register(*registry)
          .Add({}, CommitGroupBucketsCommands());

  struct CounterFunction {
    std::string name;
    std::string help;
    std::function<double()> read;
  };
  struct GaugeFunction {
    std::string name;
    std::string help;
    std::function<std::vector<Sample>()> read;
  };
  std::mutex mu;
  std::vector<CounterFunction> counter_functions;  // guarded by mu
  std::vector<GaugeFunction> gauge_functions;      // guarded by mu
};

Metrics::Metrics() : impl_(std::make_unique<Impl>()) {}
Metrics::~Metrics() = default;

void Metrics::RecordRequest(std::string_view listener, std::string_view route,
                            std::string_view method, int status, double duration_seconds) {
  impl_->requests
      .Add({{"listener", std::string(listener)},
            {"route", std::string(route)},
            {"method", MethodLabel(method)},
            {"status", std::to_string(status)}})
      .Increment();
  impl_->latency
      .Add({{"listener", std::string(listener)}, {"route", std::string(route)}},
           LatencyBucketsSeconds())
      .Observe(duration_seconds);
}

void Metrics::AddCounterFunction(std::string name, std::string help,
                                 std::function<double()> read) {
  std::lock_guard lock(impl_->mu);
  impl_->counter_functions.push_back({std::move(name), std::move(help), std::move(read)});
}

void Metrics::AddGaugeFunction(std::string name, std::string help,
                               std::function<std::vector<Sample>()> read) {
  std::lock_guard lock(impl_->mu);
  impl_->gauge_functions.push_back({std::move(name), std::move(help), std::move(read)});
}

void Metrics::ObserveCommit(double seconds) { impl_->commit.Observe(seconds); }

void Metrics::ObserveCommitGroup(size_t commands) {
  impl_->commit_group.Observe(static_cast<double>(commands));
}

std::string Metrics::Serialize() const {
  std::vector<prometheus::MetricFamily> families = impl_->registry->Collect();
  std::lock_guard lock(impl_->mu);
  for (const Impl::CounterFunction& counter : impl_->counter_functions) {
    prometheus::ClientMetric metric;
    metric.counter.value = counter.read();
    families.push_back({.name = counter.name,
                        .help = counter.help,
                        .type = prometheus::MetricType::Counter,
                        .metric = {std::move(metric)}});
  }
  for (const Impl::GaugeFunction& gauge : impl_->gauge_functions) {
    prometheus::MetricFamily family{.name = gauge.name,
                                    .help = gauge.help,
                                    .type = prometheus::MetricType::Gauge,
                                    .metric = {}};
    for (Sample& sample : gauge.read()) {
      prometheus::ClientMetric metric;
      for (auto& [name, value] : sample.labels) {
        metric.label.push_back({.name = std::move(name), .value = std::move(value)});
      }
      metric.gauge.value = sample.value;
      family.metric.push_back(std::move(metric));
    }
    families.push_back(std::move(family));
  }
  return prometheus::TextSerializer().Serialize(families);
}

prometheus::Registry& Metrics::registry() { return *impl_->registry; }

}  // namespace nebu::api
