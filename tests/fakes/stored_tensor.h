// A tensor of a test-vector file, or a test failure naming it.
#ifndef OVSEG_TESTS_FAKES_STORED_TENSOR_H_
#define OVSEG_TESTS_FAKES_STORED_TENSOR_H_

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>

#include "model/weights/safetensors_file.h"

namespace ovseg::testing {

inline torch::Tensor StoredTensor(const SafetensorsFile& file, const std::string& name) {
  absl::StatusOr<torch::Tensor> t = file.Get(name);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *t : torch::Tensor();
}

}  // namespace ovseg::testing

#endif  // OVSEG_TESTS_FAKES_STORED_TENSOR_H_
