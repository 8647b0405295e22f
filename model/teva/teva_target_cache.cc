#include "model/teva/teva_target_cache.h"

#include <algorithm>

namespace ovseg {

std::shared_ptr<const TevaTargets> TevaTargetCache::Get(
    const std::string& key, const std::function<TevaTargets()>& compute) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = index_.find(key);
    if (it != index_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);
      ++stats_.hits;
      return it->second->second;
    }
    ++stats_.misses;
  }
  // Computed outside the lock: a concurrent miss on the same key computes twice and keeps
  // one, which is cheaper than serialising every vocabulary behind one projection.
  auto targets = std::make_shared<const TevaTargets>(compute());
  const int64_t bytes = targets->Bytes();
  if (bytes > max_bytes_) return targets;
  std::lock_guard<std::mutex> lock(mu_);
  if (index_.count(key) != 0) return targets;
  while (stats_.bytes + bytes > max_bytes_ && !lru_.empty()) {
    stats_.bytes -= lru_.back().second->Bytes();
    index_.erase(lru_.back().first);
    lru_.pop_back();
    ++stats_.evictions;
  }
  lru_.emplace_front(key, targets);
  index_[key] = lru_.begin();
  stats_.bytes += bytes;
  return targets;
}

TevaTargetCache::Stats TevaTargetCache::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  Stats s = stats_;
  s.entries = static_cast<int64_t>(lru_.size());
  return s;
}

std::shared_ptr<const TevaTargets> BatchTevaTargets(
    const std::vector<std::shared_ptr<const TevaTargets>>& per_request) {
  TORCH_CHECK(!per_request.empty(), "BatchTevaTargets: no requests");
  const int64_t b = static_cast<int64_t>(per_request.size());
  if (b == 1) return per_request[0];
  const bool shared = std::all_of(per_request.begin(), per_request.end(),
                                  [&](const auto& t) { return t == per_request[0]; });
  auto batch = std::make_shared<TevaTargets>();
  const TevaTargets& first = *per_request[0];
  if (shared) {
    for (size_t i = 0; i < first.keys.size(); ++i) {
      batch->keys.push_back(first.keys[i].expand({b, -1, -1, -1}));
      batch->values.push_back(first.values[i].expand({b, -1, -1, -1}));
    }
    batch->valid = first.valid.expand({b, -1});
    return batch;
  }
  int64_t longest = 0;
  for (const auto& t : per_request) longest = std::max(longest, t->num_targets());
  batch->valid = torch::zeros({b, longest}, first.valid.options());
  for (int64_t k = 0; k < b; ++k) {
    batch->valid[k].narrow(0, 0, per_request[k]->num_targets()).copy_(per_request[k]->valid[0]);
  }
  for (size_t i = 0; i < first.keys.size(); ++i) {
    for (auto [list, source] : {std::pair{&batch->keys, &TevaTargets::keys},
                                std::pair{&batch->values, &TevaTargets::values}}) {
      const torch::Tensor& like = (first.*source)[i];
      torch::Tensor padded = torch::zeros({b, like.size(1), longest, like.size(3)}, like.options());
      for (int64_t k = 0; k < b; ++k) {
        const torch::Tensor& part = ((*per_request[k]).*source)[i];
        padded[k].narrow(1, 0, part.size(2)).copy_(part[0]);
      }
      list->push_back(std::move(padded));
    }
  }
  return batch;
}

}  // namespace ovseg
