#include "model/weights/safetensors_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"

namespace ovseg {
namespace {

absl::Status ErrnoError(const std::string& what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

bool WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

std::optional<torch::ScalarType> TorchDtypeOf(const std::string& d) {
  static const std::map<std::string, torch::ScalarType> kTypes = {
      {"F64", torch::kFloat64},        {"F32", torch::kFloat32},
      {"F16", torch::kFloat16},        {"BF16", torch::kBFloat16},
      {"I64", torch::kInt64},          {"I32", torch::kInt32},
      {"I16", torch::kInt16},          {"I8", torch::kInt8},
      {"U8", torch::kUInt8},           {"BOOL", torch::kBool},
      {"U16", torch::kUInt16},         {"U32", torch::kUInt32},
      {"U64", torch::kUInt64},         {"F8_E4M3", torch::kFloat8_e4m3fn},
      {"F8_E5M2", torch::kFloat8_e5m2}};
  auto it = kTypes.find(d);
  if (it == kTypes.end()) return std::nullopt;
  return it->second;
}

std::string SafetensorsDtypeOf(torch::ScalarType dtype) {
  for (const char* name : {"F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL",
                           "U16", "U32", "U64", "F8_E4M3", "F8_E5M2"}) {
    if (TorchDtypeOf(name) == dtype) return name;
  }
  return "";
}

absl::StatusOr<std::shared_ptr<SafetensorsFile>> SafetensorsFile::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::NotFoundError(
        absl::StrCat("safetensors: cannot open ", path, ": ", std::strerror(errno)));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return ErrnoError("safetensors: cannot stat", path);
  }
  const size_t size = static_cast<size_t>(st.st_size);
  if (size < 8) {
    ::close(fd);
    return absl::InvalidArgumentError(
        absl::StrCat("safetensors: ", path, ": file shorter than the 8-byte length"));
  }
  // Private and writable: tensors that alias the file may be modified in place by callers
  // (copy-on-write pages), which must never reach the file or fault.
  void* base = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (base == MAP_FAILED) return ErrnoError("safetensors: cannot map", path);
  std::shared_ptr<void> mapping(base, [size](void* p) { ::munmap(p, size); });
  absl::StatusOr<SafetensorsHeader> header =
      ParseSafetensorsHeader(absl::string_view(static_cast<const char*>(base), size), size);
  if (!header.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", header.status().message()));
  }
  std::shared_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->path_ = path;
  file->header_ = *std::move(header);
  file->mapping_ = std::move(mapping);
  file->data_ = static_cast<const char*>(base) + 8 + file->header_.header_bytes;
  for (size_t i = 0; i < file->header_.tensors.size(); ++i) {
    file->index_[file->header_.tensors[i].name] = i;
  }
  return file;
}

SafetensorsFile::~SafetensorsFile() = default;

std::vector<std::string> SafetensorsFile::Names() const {
  std::vector<std::string> names;
  for (const auto& [name, i] : index_) names.push_back(name);
  return names;
}

absl::StatusOr<torch::Tensor> SafetensorsFile::Get(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) {
    return absl::NotFoundError(absl::StrCat(path_, ": no tensor \"", name, "\""));
  }
  const SafetensorsTensor& t = header_.tensors[it->second];
  const std::optional<torch::ScalarType> dtype = TorchDtypeOf(t.dtype);
  if (!dtype) {
    return absl::InvalidArgumentError(
        absl::StrCat(path_, ": tensor \"", name, "\": dtype ", t.dtype, " has no torch type"));
  }
  const auto options = torch::TensorOptions().dtype(*dtype);
  const char* src = data_ + t.begin;
  const size_t element = static_cast<size_t>(SafetensorsDtypeSize(t.dtype));
  if (t.end == t.begin) return torch::empty(t.shape, options);
  if (reinterpret_cast<uintptr_t>(src) % element == 0) {
    std::shared_ptr<void> keep = mapping_;
    return torch::from_blob(
        const_cast<char*>(src), t.shape, [keep](void*) mutable { keep.reset(); }, options);
  }
  torch::Tensor copy = torch::empty(t.shape, options);
  std::memcpy(copy.data_ptr(), src, t.end - t.begin);
  return copy;
}

absl::StatusOr<std::map<std::string, torch::Tensor>> SafetensorsFile::GetAll() const {
  std::map<std::string, torch::Tensor> out;
  for (const auto& [name, i] : index_) {
    absl::StatusOr<torch::Tensor> t = Get(name);
    if (!t.ok()) return t.status();
    out.emplace(name, *std::move(t));
  }
  return out;
}

absl::Status WriteSafetensors(const std::string& path,
                              const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                              const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<torch::Tensor> cpu;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    if (name == "__metadata__" || header.contains(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("safetensors: duplicate or reserved tensor name \"", name, "\""));
    }
    const std::string dtype = SafetensorsDtypeOf(tensor.scalar_type());
    if (dtype.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("safetensors: tensor \"", name, "\": dtype has no safetensors name"));
    }
    torch::Tensor c = tensor.detach().to(torch::kCPU).contiguous();
    const uint64_t bytes = c.numel() * c.element_size();
    header[name] = {
        {"dtype", dtype}, {"shape", c.sizes().vec()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    cpu.push_back(std::move(c));
  }
  std::string json = header.dump();
  json.append((8 - json.size() % 8) % 8, ' ');  // Data starts 8-byte aligned.
  std::string prefix(8, '\0');
  for (int i = 0; i < 8; ++i) prefix[i] = static_cast<char>((json.size() >> (8 * i)) & 0xFF);
  const std::string temp = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("safetensors: cannot create", temp);
  bool ok = WriteAll(fd, prefix.data(), prefix.size()) && WriteAll(fd, json.data(), json.size());
  for (const torch::Tensor& c : cpu) {
    ok = ok && WriteAll(fd, static_cast<const char*>(c.data_ptr()), c.numel() * c.element_size());
  }
  ok = ok && ::fsync(fd) == 0;
  ok = (::close(fd) == 0) && ok;
  if (!ok || ::rename(temp.c_str(), path.c_str()) != 0) {
    const absl::Status s = ErrnoError("safetensors: cannot write", path);
    ::unlink(temp.c_str());
    return s;
  }
  return absl::OkStatus();
}

}  // namespace ovseg
