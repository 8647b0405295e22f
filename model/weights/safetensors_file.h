// Safetensors files as LibTorch tensors: a read-only memory map whose tensors alias the
// file when their offset is aligned for the dtype (zero copy) and are copied otherwise,
// and an atomic writer. The header is validated by model/safetensors before any tensor is
// touched, so a malformed file is an error naming the tensor, never a crash.
#ifndef OVSEG_MODEL_WEIGHTS_SAFETENSORS_FILE_H_
#define OVSEG_MODEL_WEIGHTS_SAFETENSORS_FILE_H_

#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "model/safetensors/safetensors_header.h"

namespace ovseg {

class SafetensorsFile {
 public:
  static absl::StatusOr<std::shared_ptr<SafetensorsFile>> Open(const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const SafetensorsHeader& header() const { return header_; }
  const std::string& path() const { return path_; }
  bool Contains(const std::string& name) const { return index_.count(name) > 0; }
  std::vector<std::string> Names() const;

  // A CPU tensor of the stored dtype and shape. Aligned data aliases the mapping (which
  // the tensor keeps alive; writes go to private copy-on-write pages, never the file).
  absl::StatusOr<torch::Tensor> Get(const std::string& name) const;
  // Every tensor, by name.
  absl::StatusOr<std::map<std::string, torch::Tensor>> GetAll() const;

 private:
  SafetensorsFile() = default;
  std::string path_;
  SafetensorsHeader header_;
  std::map<std::string, size_t> index_;  // name -> position in header_.tensors
  // The mapping is shared with every aliasing tensor, so it outlives this object if needed.
  std::shared_ptr<void> mapping_;
  const char* data_ = nullptr;  // Start of the data section.
};

// torch dtype of a safetensors dtype name; nullopt when LibTorch has none.
std::optional<torch::ScalarType> TorchDtypeOf(const std::string& safetensors_dtype);
// Inverse; empty when safetensors has no name for it.
std::string SafetensorsDtypeOf(torch::ScalarType dtype);

// Writes `tensors` (any device, any layout; stored contiguous on CPU) and string metadata.
// The data section starts 8-byte aligned. Written to a temporary name, fsynced and renamed,
// so readers see the old file or the new one, never a partial one.
absl::Status WriteSafetensors(const std::string& path,
                              const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                              const std::map<std::string, std::string>& metadata = {});

}  // namespace ovseg

#endif  // OVSEG_MODEL_WEIGHTS_SAFETENSORS_FILE_H_
