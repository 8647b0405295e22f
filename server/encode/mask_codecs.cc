#include "server/encode/mask_codecs.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace ovseg {

std::string EncodeMaskPng(const cv::Mat& mask) {
  cv::Mat binary = mask != 0;  // 0 / 255
  std::vector<uchar> buffer;
  cv::imencode(".png", binary, buffer);
  return std::string(buffer.begin(), buffer.end());
}

std::vector<std::vector<float>> MaskToPolygons(const cv::Mat& mask) {
  cv::Mat binary = mask != 0;
  std::vector<std::vector<cv::Point>> contours;
  cv::findContours(binary, contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE);
  std::vector<std::vector<float>> polygons;
  for (const auto& contour : contours) {
    if (contour.size() < 3) continue;
    std::vector<float> points;
    points.reserve(contour.size() * 2);
    for (const cv::Point& p : contour) {
      points.push_back(static_cast<float>(p.x));
      points.push_back(static_cast<float>(p.y));
    }
    polygons.push_back(std::move(points));
  }
  return polygons;
}

std::string EncodeLabelMapPng(const cv::Mat& labels, int num_labels) {
  const bool wide = num_labels > 255;
  const int none = wide ? 65535 : 255;
  cv::Mat out(labels.size(), wide ? CV_16UC1 : CV_8UC1);
  for (int y = 0; y < labels.rows; ++y) {
    const int32_t* src = labels.ptr<int32_t>(y);
    for (int x = 0; x < labels.cols; ++x) {
      const int v = src[x] < 0 ? none : src[x];
      if (wide) {
        out.at<uint16_t>(y, x) = static_cast<uint16_t>(v);
      } else {
        out.at<uint8_t>(y, x) = static_cast<uint8_t>(v);
      }
    }
  }
  std::vector<uchar> buffer;
  cv::imencode(".png", out, buffer);
  return std::string(buffer.begin(), buffer.end());
}

absl::StatusOr<cv::Mat> DecodeGrayPng(const std::string& png) {
  const cv::Mat buffer(1, static_cast<int>(png.size()), CV_8UC1, const_cast<char*>(png.data()));
  cv::Mat out = cv::imdecode(buffer, cv::IMREAD_UNCHANGED);
  if (out.empty() || out.channels() != 1) {
    return absl::InvalidArgumentError("not a single-channel PNG");
  }
  return out;
}

}  // namespace ovseg
