#include "client/overlay_image.h"

#include <algorithm>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <sstream>
#include <vector>

#include "common/coco_rle.h"

namespace ovseg {
namespace {

// Deterministic distinct colours per label index.
cv::Scalar Colour(int i) {
  cv::Mat hsv(1, 1, CV_8UC3, cv::Scalar((i * 47) % 180, 200, 255)), bgr;
  cv::cvtColor(hsv, bgr, cv::COLOR_HSV2BGR);
  const cv::Vec3b c = bgr.at<cv::Vec3b>(0, 0);
  return cv::Scalar(c[0], c[1], c[2]);
}

// Labels overlap on small segments, numbers do not: hence numbers and a legend.
constexpr int kMinOverlaySide = 512;

}  // namespace

absl::Status WriteOverlay(const std::string& image_bytes, const v1::SegmentResponse& r,
                          const std::string& path) {
  cv::Mat decoded = cv::imdecode(cv::Mat(1, static_cast<int>(image_bytes.size()), CV_8UC1,
                                         const_cast<char*>(image_bytes.data())),
                                 cv::IMREAD_COLOR);
  if (decoded.empty()) return absl::InvalidArgumentError("cannot decode the image for the overlay");
  const int scale = std::max(1, (kMinOverlaySide + std::min(decoded.cols, decoded.rows) - 1) /
                                    std::min(decoded.cols, decoded.rows));
  cv::Mat image;
  cv::resize(decoded, image, cv::Size(), scale, scale, cv::INTER_CUBIC);
  cv::Mat overlay = image.clone();
  struct Mark {
    cv::Point at;
    std::string text;
    cv::Scalar colour;
  };
  std::vector<Mark> marks;
  for (const v1::Segment& s : r.segments()) {
    if (!s.has_rle()) continue;
    auto counts = RleCountsFromString(s.rle().counts());
    if (!counts.ok()) return counts.status();
    auto mask =
        DecodeRle({static_cast<int>(s.rle().height()), static_cast<int>(s.rle().width()), *counts});
    if (!mask.ok()) return mask.status();
    cv::Mat small(s.rle().height(), s.rle().width(), CV_8UC1, mask->data());
    if (small.size() != decoded.size()) continue;
    cv::Mat m;
    cv::resize(small, m, image.size(), 0, 0, cv::INTER_NEAREST);
    const cv::Scalar colour = Colour(static_cast<int>(s.label_index()));
    overlay.setTo(colour, m);
    std::vector<std::vector<cv::Point>> contours;
    cv::findContours(m.clone(), contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE);
    cv::drawContours(image, contours, -1, colour, 2);
    // The number sits at the mask's centre of mass (inside most shapes).
    const cv::Moments mo = cv::moments(m, true);
    const cv::Point centre =
        mo.m00 > 0 ? cv::Point(static_cast<int>(mo.m10 / mo.m00), static_cast<int>(mo.m01 / mo.m00))
                   : cv::Point(s.bbox().x() * scale, s.bbox().y() * scale);
    std::ostringstream legend;
    legend << marks.size() + 1 << "  " << s.label() << "  " << static_cast<int>(s.score() * 100)
           << "%";
    marks.push_back({centre, legend.str(), colour});
  }
  cv::addWeighted(overlay, 0.45, image, 0.55, 0, image);
  const auto font = cv::FONT_HERSHEY_SIMPLEX;
  for (size_t i = 0; i < marks.size(); ++i) {
    const std::string number = std::to_string(i + 1);
    const cv::Point at = marks[i].at - cv::Point(6 * static_cast<int>(number.size()), -6);
    cv::putText(image, number, at, font, 0.6, cv::Scalar(0, 0, 0), 4);
    cv::putText(image, number, at, font, 0.6, cv::Scalar(255, 255, 255), 1);
  }
  const int row = 24, legend_width = 300;
  cv::Mat canvas(std::max(image.rows, row * static_cast<int>(marks.size() + 1)),
                 image.cols + legend_width, CV_8UC3, cv::Scalar(32, 32, 32));
  image.copyTo(canvas(cv::Rect(0, 0, image.cols, image.rows)));
  for (size_t i = 0; i < marks.size(); ++i) {
    const int y = row * static_cast<int>(i + 1);
    cv::rectangle(canvas, cv::Rect(image.cols + 8, y - 14, 16, 16), marks[i].colour, cv::FILLED);
    cv::putText(canvas, marks[i].text, cv::Point(image.cols + 30, y), font, 0.5,
                cv::Scalar(255, 255, 255), 1);
  }
  if (!cv::imwrite(path, canvas)) return absl::InternalError("cannot write " + path);
  return absl::OkStatus();
}

}  // namespace ovseg
