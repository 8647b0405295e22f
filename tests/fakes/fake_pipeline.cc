#include "tests/fakes/fake_pipeline.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <functional>

#include "absl/time/clock.h"

namespace ovseg::testing {

void FakeSegmentationPipeline::set_compute_delay(absl::Duration delay) {
  absl::MutexLock lock(&mu_);
  options_.compute_delay = delay;
}

std::vector<absl::StatusOr<PipelineResult>> FakeSegmentationPipeline::Run(
    absl::Span<const PipelineRequest> batch) {
  const int n = batches_.fetch_add(1);
  if (n == 0 && options_.warmup_delay > absl::ZeroDuration()) {
    absl::SleepFor(options_.warmup_delay);
  }
  absl::Duration delay;
  {
    absl::MutexLock lock(&mu_);
    delay = options_.compute_delay;
  }
  running_.fetch_add(1);
  if (options_.cores == 0) {
    if (delay > absl::ZeroDuration()) absl::SleepFor(delay);
  } else {
    // Progress in steps of about 1 ms: each step's wall time times the share of a core
    // the calls running then get.
    absl::Duration done = absl::ZeroDuration();
    absl::Time last = absl::Now();
    while (done < delay) {
      absl::SleepFor(absl::Milliseconds(1));
      const double share = std::min(1.0, static_cast<double>(options_.cores) / running_.load());
      const absl::Time now = absl::Now();
      done += (now - last) * share;
      last = now;
    }
  }
  running_.fetch_sub(1);
  {
    absl::MutexLock lock(&mu_);
    batch_sizes_.push_back(static_cast<int>(batch.size()));
    if (!batch.empty()) last_content_ = {batch.back().content_width, batch.back().content_height};
  }
  std::vector<absl::StatusOr<PipelineResult>> out;
  for (const PipelineRequest& r : batch) {
    PipelineResult result;
    result.width = r.ContentWidth();
    result.height = r.ContentHeight();
    const int labels = r.vocabulary->num_labels;
    const int stripes = std::min(labels, result.width);
    const bool overlapping = r.task == SegmentTask::kInstance || r.task == SegmentTask::kProposals;
    if (!overlapping) result.segment_id_map.assign(size_t(result.width) * result.height, 0);
    for (int i = 0; i < stripes; ++i) {
      PipelineSegment s;
      s.label_index = i;
      s.score = 0.9f - 0.01f * static_cast<float>(i % 50);
      s.is_thing = r.is_thing[i];
      const int x0 = i * result.width / stripes, x1 = (i + 1) * result.width / stripes;
      if (overlapping) s.soft_mask.assign(size_t(result.width) * result.height, 0);
      for (int y = 0; y < result.height; ++y) {
        for (int x = x0; x < x1; ++x) {
          const size_t at = size_t(y) * result.width + x;
          if (overlapping) {
            s.soft_mask[at] = 255;
          } else {
            result.segment_id_map[at] = i + 1;
          }
        }
      }
      result.segments.push_back(std::move(s));
    }
    out.push_back(std::move(result));
  }
  return out;
}

PipelineInfo FakeSegmentationPipeline::Info() const {
  PipelineInfo info;
  info.model_name = "fake-stripes";
  info.model_version = options_.version;
  info.device = "cpu";
  info.head_modes = {HeadMode::kMask, HeadMode::kDense, HeadMode::kFused};
  info.tasks = {SegmentTask::kSemantic, SegmentTask::kPanoptic, SegmentTask::kInstance,
                SegmentTask::kProposals};
  return info;
}

std::vector<int> FakeSegmentationPipeline::batch_sizes() const {
  absl::MutexLock lock(&mu_);
  return batch_sizes_;
}

std::pair<int, int> FakeSegmentationPipeline::last_content() const {
  absl::MutexLock lock(&mu_);
  return last_content_;
}

int CurrentThreadNice() {
  return getpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)));
}

std::set<int> FakeTextEncoder::nice_values() const {
  absl::MutexLock lock(&mu_);
  return nice_values_;
}

absl::StatusOr<std::vector<float>> FakeTextEncoder::Encode(absl::Span<const std::string> prompts) {
  {
    absl::MutexLock lock(&mu_);
    nice_values_.insert(CurrentThreadNice());
  }
  std::vector<float> out;
  out.reserve(prompts.size() * dim_);
  for (const std::string& p : prompts) {
    size_t h = std::hash<std::string>()(fingerprint_ + "|" + p);
    for (int d = 0; d < dim_; ++d) {
      h = h * 6364136223846793005ULL + 1442695040888963407ULL;
      out.push_back(static_cast<float>((h >> 33) % 2001) / 1000.0f - 1.0f);
    }
  }
  prompts_encoded_.fetch_add(static_cast<int>(prompts.size()));
  return out;
}

}  // namespace ovseg::testing
