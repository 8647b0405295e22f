// Mixed precision for training: while an AutocastScope lives, LibTorch's autocast runs
// this thread's matmuls, convolutions and linear layers on `device`'s type in bfloat16
// (AMX / tensor cores) and keeps precision-sensitive ops (softmax, norms, losses) in fp32;
// weights and gradients stay fp32. Autocast state is per thread, so each training thread
// opens its own scope. Disabled scopes do nothing.
#ifndef OVSEG_MODEL_RUNTIME_AUTOCAST_SCOPE_H_
#define OVSEG_MODEL_RUNTIME_AUTOCAST_SCOPE_H_

#include <ATen/autocast_mode.h>
#include <torch/torch.h>

namespace ovseg {

class AutocastScope {
 public:
  AutocastScope(torch::Device device, bool enabled) : type_(device.type()), enabled_(enabled) {
    if (!enabled_) return;
    was_enabled_ = at::autocast::is_autocast_enabled(type_);
    previous_dtype_ = at::autocast::get_autocast_dtype(type_);
    at::autocast::set_autocast_dtype(type_, at::kBFloat16);
    at::autocast::set_autocast_enabled(type_, true);
    at::autocast::increment_nesting();
  }
  ~AutocastScope() {
    if (!enabled_) return;
    // The weight-cast cache lives as long as the outermost scope.
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    at::autocast::set_autocast_enabled(type_, was_enabled_);
    at::autocast::set_autocast_dtype(type_, previous_dtype_);
  }
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  at::DeviceType type_;
  bool enabled_;
  bool was_enabled_ = false;
  at::ScalarType previous_dtype_ = at::kBFloat16;
};

// Runs a region in its modules' own precision even inside an AutocastScope, for the few
// ops LibTorch cannot autocast (its C++ multi-head attention cannot mask bf16 scores).
class AutocastSuspend {
 public:
  explicit AutocastSuspend(torch::Device device)
      : type_(device.type()), was_enabled_(at::autocast::is_autocast_enabled(type_)) {
    at::autocast::set_autocast_enabled(type_, false);
  }
  ~AutocastSuspend() { at::autocast::set_autocast_enabled(type_, was_enabled_); }
  AutocastSuspend(const AutocastSuspend&) = delete;
  AutocastSuspend& operator=(const AutocastSuspend&) = delete;

 private:
  at::DeviceType type_;
  bool was_enabled_;
};

}  // namespace ovseg

#endif  // OVSEG_MODEL_RUNTIME_AUTOCAST_SCOPE_H_
