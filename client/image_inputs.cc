#include "client/image_inputs.h"

#include <glob.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace ovseg {

namespace fs = std::filesystem;

bool HasImageExtension(const std::string& path) {
  const std::string ext = absl::AsciiStrToLower(fs::path(path).extension().string());
  static const std::set<std::string> kImages = {".jpg", ".jpeg", ".png", ".webp",
                                                ".bmp", ".tif",  ".tiff"};
  return kImages.count(ext) > 0;
}

absl::StatusOr<std::vector<std::string>> ExpandImageInputs(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  auto add = [&](const std::string& path) {
    if (seen.insert(path).second) out.push_back(path);
  };
  for (const std::string& arg : args) {
    std::error_code ec;
    if (fs::is_directory(arg, ec)) {
      std::vector<std::string> files;
      for (const fs::directory_entry& e : fs::directory_iterator(arg, ec)) {
        if (e.is_regular_file() && HasImageExtension(e.path().string())) {
          files.push_back(e.path().string());
        }
      }
      if (files.empty()) {
        return absl::NotFoundError(absl::StrCat(arg, ": a directory with no image files"));
      }
      std::sort(files.begin(), files.end());
      for (const std::string& f : files) add(f);
    } else if (fs::exists(arg, ec)) {
      add(arg);
    } else if (arg.find_first_of("*?[") != std::string::npos) {
      glob_t matches{};
      const int rc = glob(arg.c_str(), 0, nullptr, &matches);
      std::vector<std::string> files;
      for (size_t i = 0; rc == 0 && i < matches.gl_pathc; ++i) {
        if (fs::is_regular_file(matches.gl_pathv[i], ec)) files.push_back(matches.gl_pathv[i]);
      }
      globfree(&matches);
      if (files.empty()) return absl::NotFoundError(absl::StrCat(arg, ": matches no file"));
      std::sort(files.begin(), files.end());
      for (const std::string& f : files) add(f);
    } else {
      return absl::NotFoundError(absl::StrCat(arg, ": no such file or directory"));
    }
  }
  return out;
}

}  // namespace ovseg
