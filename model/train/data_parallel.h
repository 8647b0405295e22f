// Data-parallel training over processes with LibTorch's c10d: rank 0 hosts a TCPStore at
// MASTER_ADDR:MASTER_PORT, every rank joins a Gloo process group through it (Gloo
// all-reduces CPU and CUDA tensors alike), and each optimiser step averages the trainable
// gradients over the ranks. Semantics (docs/design.md "Scale"): W ranks with micro-batch b
// train exactly as one process accumulating W micro-batches of b, because the loaders
// deal micro-batches round-robin (LoaderOptions.shard_*) and every micro-batch's random
// draws are seeded by its index in the global sequence (MicroBatchSeed), not by the rank.
// With world size 1 every call is a no-op and nothing is opened.
#ifndef OVSEG_MODEL_TRAIN_DATA_PARALLEL_H_
#define OVSEG_MODEL_TRAIN_DATA_PARALLEL_H_

#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "model/train/launch_env.h"

namespace ovseg {

class DataParallel {
 public:
  // One process, no communication.
  DataParallel();
  ~DataParallel();

  // Joins the job `env` describes: waits up to `timeout` for all ranks to reach the store
  // and for each collective afterwards (a rank that died or hangs ends the job with an
  // error instead of a hang).
  static absl::StatusOr<std::unique_ptr<DataParallel>> Connect(const LaunchEnv& env,
                                                               absl::Duration timeout);

  int rank() const { return rank_; }
  int world_size() const { return world_size_; }
  bool is_chief() const { return rank_ == 0; }  // writes, logs, evaluates and submits

  // Replaces each parameter's gradient by its mean over the ranks, as one all-reduce of
  // one flat buffer per device and dtype. A parameter without a gradient on this rank but
  // with one elsewhere counts as zeros here; one without a gradient on every rank keeps
  // none (the optimiser skips it, as it would in one process).
  void AverageGradients(const std::vector<torch::Tensor>& parameters);
  // Overwrites `tensors` on every rank with rank 0's values (start and resume: the ranks
  // begin from identical weights whatever their initialisation drew).
  void Broadcast(const std::vector<torch::Tensor>& tensors);
  // The mean of each value over the ranks (losses for the log).
  std::vector<double> Mean(std::vector<double> values);
  // Minimum and maximum of an integer over the ranks (consistency checks).
  std::pair<int64_t, int64_t> MinMax(int64_t value);
  void Barrier();

  // Runs `write` on the chief, then waits at a barrier with every rank, so the others can
  // read what it wrote (and no rank is left waiting when the write fails). Returns the
  // write's status on the chief, OK elsewhere.
  absl::Status ChiefWrites(const std::function<absl::Status()>& write);

  // OK iff every rank sees the same `dir`: rank 0 writes a token there, the others must
  // read it back. Stages hand weights to each other, and resume, through out_dir.
  absl::Status CheckSharedDirectory(const std::string& dir);

 private:
  struct Group;
  std::unique_ptr<Group> group_;
  int rank_ = 0, world_size_ = 1;
};

// The seed of this rank's micro-batch number `local_index` (step x accumulation + a): it
// is micro-batch local_index x world_size + rank of the global sequence, and its seed is
// the same whichever rank or process draws it. `dp` null means one process.
uint64_t MicroBatchSeed(uint64_t seed, const DataParallel* dp, int64_t local_index);

}  // namespace ovseg

#endif  // OVSEG_MODEL_TRAIN_DATA_PARALLEL_H_
