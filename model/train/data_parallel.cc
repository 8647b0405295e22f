#include "model/train/data_parallel.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "datasets/seed_mixing.h"

namespace ovseg {

struct DataParallel::Group {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::Backend> backend;
};

namespace {

constexpr char kSharedDirFile[] = ".ovseg-data-parallel-check";
constexpr char kSharedDirKey[] = "ovseg/shared_dir_token";

// The network device Gloo binds: the interface GLOO_SOCKET_IFNAME names (as PyTorch
// honours it), loopback when the job is on loopback, else the address this host's name
// resolves to.
std::shared_ptr<::gloo::transport::Device> GlooDevice(const LaunchEnv& env) {
  if (const char* interface = std::getenv("GLOO_SOCKET_IFNAME"); interface && *interface) {
    return c10d::ProcessGroupGloo::createDeviceForInterface(interface);
  }
  if (env.master_addr == "localhost" || absl::StartsWith(env.master_addr, "127.")) {
    return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  }
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

void WaitForCollective(const c10::intrusive_ptr<c10d::Work>& work) { work->wait(); }

}  // namespace

DataParallel::DataParallel() = default;
DataParallel::~DataParallel() = default;

absl::StatusOr<std::unique_ptr<DataParallel>> DataParallel::Connect(const LaunchEnv& env,
                                                                    absl::Duration timeout) {
  auto dp = std::make_unique<DataParallel>();
  if (!env.distributed()) return dp;
  dp->rank_ = env.rank;
  dp->world_size_ = env.world_size;
  const auto ms = std::chrono::milliseconds(absl::ToInt64Milliseconds(timeout));
  try {
    c10d::TCPStoreOptions options;
    options.port = static_cast<uint16_t>(env.master_port);
    options.isServer = env.rank == 0;
    options.numWorkers = static_cast<size_t>(env.world_size);
    options.waitWorkers = true;
    options.timeout = ms;
    dp->group_ = std::make_unique<Group>();
    dp->group_->store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, options);
    auto gloo = c10d::ProcessGroupGloo::Options::create(ms);
    gloo->devices.push_back(GlooDevice(env));
    dp->group_->backend = c10::make_intrusive<c10d::ProcessGroupGloo>(dp->group_->store, env.rank,
                                                                      env.world_size, gloo);
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("data-parallel rank ", env.rank, " of ",
                                               env.world_size, ": cannot join through ",
                                               env.master_addr, ":", env.master_port, " within ",
                                               absl::FormatDuration(timeout), ": ", e.what()));
  }
  return dp;
}

void DataParallel::AverageGradients(const std::vector<torch::Tensor>& parameters) {
  if (world_size_ == 1) return;
  // Which parameters have a gradient on any rank. One that has none anywhere (a part the
  // graph never reached, such as TeVA when it is off) keeps none, so the optimiser skips
  // it exactly as one process would, instead of decaying it under a zero gradient.
  std::vector<int32_t> local(parameters.size());
  for (size_t i = 0; i < parameters.size(); ++i) local[i] = parameters[i].grad().defined();
  std::vector<torch::Tensor> has_grad = {torch::tensor(local, torch::kInt32)};
  c10d::AllreduceOptions any;
  any.reduceOp = c10d::ReduceOp::MAX;
  WaitForCollective(group_->backend->allreduce(has_grad, any));
  const auto anywhere = has_grad[0].accessor<int32_t, 1>();
  // One flat buffer per (device, dtype): one collective instead of one per tensor.
  std::map<std::pair<std::string, int>, std::vector<torch::Tensor>> buckets;
  for (size_t i = 0; i < parameters.size(); ++i) {
    if (anywhere[static_cast<int64_t>(i)] == 0) continue;
    const torch::Tensor& p = parameters[i];
    torch::Tensor& grad = const_cast<torch::Tensor&>(p).mutable_grad();
    if (!grad.defined()) grad = torch::zeros_like(p);
    buckets[{p.device().str(), static_cast<int>(grad.scalar_type())}].push_back(grad);
  }
  for (auto& [key, grads] : buckets) {
    std::vector<torch::Tensor> flat_views;
    for (const torch::Tensor& g : grads) flat_views.push_back(g.reshape({-1}));
    std::vector<torch::Tensor> flat = {torch::cat(flat_views)};
    WaitForCollective(group_->backend->allreduce(flat));
    flat[0].div_(world_size_);
    int64_t offset = 0;
    for (torch::Tensor& g : grads) {
      g.copy_(flat[0].narrow(0, offset, g.numel()).view_as(g));
      offset += g.numel();
    }
  }
}

void DataParallel::Broadcast(const std::vector<torch::Tensor>& tensors) {
  if (world_size_ == 1) return;
  torch::NoGradGuard no_grad;
  for (const torch::Tensor& t : tensors) {
    std::vector<torch::Tensor> one = {t.detach().contiguous()};
    WaitForCollective(group_->backend->broadcast(one));
    if (one[0].data_ptr() != t.data_ptr()) const_cast<torch::Tensor&>(t).copy_(one[0]);
  }
}

std::vector<double> DataParallel::Mean(std::vector<double> values) {
  if (world_size_ == 1 || values.empty()) return values;
  std::vector<torch::Tensor> t = {torch::tensor(values, torch::kFloat64)};
  WaitForCollective(group_->backend->allreduce(t));
  for (size_t i = 0; i < values.size(); ++i) {
    values[i] = t[0][static_cast<int64_t>(i)].item<double>() / world_size_;
  }
  return values;
}

std::pair<int64_t, int64_t> DataParallel::MinMax(int64_t value) {
  if (world_size_ == 1) return {value, value};
  std::vector<torch::Tensor> low = {torch::tensor({value}, torch::kInt64)};
  std::vector<torch::Tensor> high = {torch::tensor({value}, torch::kInt64)};
  c10d::AllreduceOptions min, max;
  min.reduceOp = c10d::ReduceOp::MIN;
  max.reduceOp = c10d::ReduceOp::MAX;
  WaitForCollective(group_->backend->allreduce(low, min));
  WaitForCollective(group_->backend->allreduce(high, max));
  return {low[0].item<int64_t>(), high[0].item<int64_t>()};
}

void DataParallel::Barrier() {
  if (world_size_ == 1) return;
  WaitForCollective(group_->backend->barrier());
}

absl::Status DataParallel::ChiefWrites(const std::function<absl::Status()>& write) {
  const absl::Status written = is_chief() ? write() : absl::OkStatus();
  Barrier();
  return written;
}

absl::Status DataParallel::CheckSharedDirectory(const std::string& dir) {
  if (world_size_ == 1) return absl::OkStatus();
  const std::string path = (std::filesystem::path(dir) / kSharedDirFile).string();
  if (is_chief()) {
    const std::string token =
        std::to_string(std::random_device()()) + "-" +
        std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
    std::ofstream(path) << token;
    group_->store->set(kSharedDirKey, std::vector<uint8_t>(token.begin(), token.end()));
  }
  const std::vector<uint8_t> expected = group_->store->get(kSharedDirKey);
  std::string seen;
  if (!is_chief()) {
    std::ifstream in(path);
    std::getline(in, seen);
  }
  const bool shared = is_chief() || seen == std::string(expected.begin(), expected.end());
  const int64_t all_shared = MinMax(shared ? 1 : 0).first;
  Barrier();
  std::error_code ignored;  // a leftover token file is harmless: the next run writes anew
  if (is_chief()) std::filesystem::remove(path, ignored);
  if (all_shared == 1) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "out_dir ", dir, " is not one directory shared by all ", world_size_, " data-parallel ranks",
      shared ? "" : absl::StrCat(" (rank ", rank_, " cannot read rank 0's ", path, ")"),
      ": stages hand their weights to each other and resume through it; give every rank the "
      "same volume (a ReadWriteMany volume on Kubernetes)"));
}

uint64_t MicroBatchSeed(uint64_t seed, const DataParallel* dp, int64_t local_index) {
  const int64_t global = dp == nullptr ? local_index : local_index * dp->world_size() + dp->rank();
  return MixSeed(seed ^ 0x4D494352ull /* "MICR" */, static_cast<uint64_t>(global));
}

}  // namespace ovseg
