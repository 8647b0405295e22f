#include "model/weights/strict_tensor_copy.h"

#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace ovseg {

absl::Status CopyStoredTensorsStrict(
    const SafetensorsFile& file, const std::vector<std::pair<std::string, torch::Tensor>>& expected,
    const std::function<bool(const std::string&)>& in_scope, const std::string& what) {
  std::vector<std::string> missing, mis_shaped, unexpected;
  std::vector<std::pair<torch::Tensor, torch::Tensor>> copies;  // (destination, stored)
  std::set<std::string> names;
  for (const auto& [name, destination] : expected) {
    names.insert(name);
    if (!file.Contains(name)) {
      missing.push_back(name);
      continue;
    }
    absl::StatusOr<torch::Tensor> stored = file.Get(name);
    if (!stored.ok()) return stored.status();
    if (stored->sizes() != destination.sizes()) {
      std::ostringstream shapes;
      shapes << name << " " << stored->sizes() << " vs " << destination.sizes();
      mis_shaped.push_back(shapes.str());
      continue;
    }
    copies.emplace_back(destination, *stored);
  }
  for (const std::string& name : file.Names()) {
    if (in_scope(name) && names.count(name) == 0) unexpected.push_back(name);
  }
  if (!missing.empty() || !mis_shaped.empty() || !unexpected.empty()) {
    std::string problems;
    if (!missing.empty())
      absl::StrAppend(&problems, " missing: ", absl::StrJoin(missing, ", "), ";");
    if (!mis_shaped.empty()) {
      absl::StrAppend(&problems, " shape (checkpoint vs model): ", absl::StrJoin(mis_shaped, ", "),
                      ";");
    }
    if (!unexpected.empty()) {
      absl::StrAppend(&problems, " unexpected: ", absl::StrJoin(unexpected, ", "), ";");
    }
    return absl::InvalidArgumentError(absl::StrCat(what, ":", problems));
  }
  torch::NoGradGuard no_grad;
  for (auto& [destination, stored] : copies) destination.copy_(stored);
  return absl::OkStatus();
}

}  // namespace ovseg
