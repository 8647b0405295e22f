#include "datasets/label_png.h"

#include <algorithm>
#include <filesystem>
#include <opencv2/imgcodecs.hpp>

#include "absl/strings/str_cat.h"

namespace ovseg {

absl::StatusOr<LabelMap> ReadLabelPng(const std::string& path) {
  if (!std::filesystem::exists(path)) return absl::NotFoundError(absl::StrCat(path, ": missing"));
  const cv::Mat m = cv::imread(path, cv::IMREAD_UNCHANGED);
  if (m.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": not a readable PNG"));
  if (m.channels() != 1 || (m.depth() != CV_8U && m.depth() != CV_16U)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": label maps are single-channel 8- or 16-bit PNGs; this one has ",
                     m.channels(), " channel(s) of depth code ", m.depth()));
  }
  LabelMap out;
  out.width = m.cols;
  out.height = m.rows;
  out.bits = m.depth() == CV_16U ? 16 : 8;
  out.labels.resize(static_cast<size_t>(m.cols) * m.rows);
  for (int y = 0; y < m.rows; ++y) {
    for (int x = 0; x < m.cols; ++x) {
      out.labels[static_cast<size_t>(y) * m.cols + x] =
          out.bits == 16 ? m.at<uint16_t>(y, x) : m.at<uint8_t>(y, x);
    }
  }
  return out;
}

absl::StatusOr<int> ResolveIgnoreLabel(int ignore, const std::string& sample_path) {
  if (ignore >= 0) return ignore;
  absl::StatusOr<LabelMap> map = ReadLabelPng(sample_path);
  if (!map.ok()) return map.status();
  return DefaultIgnoreLabel(map->bits);
}

absl::Status WriteLabelPng(const std::string& path, const LabelMap& map) {
  if (map.labels.size() != static_cast<size_t>(map.width) * map.height) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", map.labels.size(), " labels for ", map.width, "x", map.height));
  }
  const auto [lo, hi] = std::minmax_element(map.labels.begin(), map.labels.end());
  if (!map.labels.empty() && (*lo < 0 || *hi > 65535)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": labels must be within 0..65535, found ", *lo, "..", *hi));
  }
  const bool wide = map.bits == 16 || (!map.labels.empty() && *hi > 255);
  cv::Mat m(map.height, map.width, wide ? CV_16UC1 : CV_8UC1);
  for (int y = 0; y < map.height; ++y) {
    for (int x = 0; x < map.width; ++x) {
      const int32_t v = map.labels[static_cast<size_t>(y) * map.width + x];
      if (wide) {
        m.at<uint16_t>(y, x) = static_cast<uint16_t>(v);
      } else {
        m.at<uint8_t>(y, x) = static_cast<uint8_t>(v);
      }
    }
  }
  if (!cv::imwrite(path, m))
    return absl::PermissionDeniedError(absl::StrCat(path, ": cannot write"));
  return absl::OkStatus();
}

}  // namespace ovseg
