// ovseg: command-line client.
//   ovseg segment --server H:P --image x.jpg --labels "cat,dog" [--task
//   semantic|panoptic|instance|proposals]
//                 [--mode mask|dense|fused] [--out overlay.png] [--json result.json]
//                 [--regions a.png,b.json]   (classify these regions: client/region_files.h)
//                 [--score_threshold F] [--max_segments N]
//   ovseg vocab register --server H:P --labels "cat,dog"
//   ovseg info --server H:P
//   ovseg health --server H:P [--wait_s N]   (N > 0: poll until SERVING or N seconds pass)
// Labels are separated by commas; synonyms of one label by '|' ("fire hydrant|hydrant").
#include <algorithm>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <set>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/ovseg_client.h"
#include "client/region_files.h"
#include "common/coco_rle.h"

namespace ovseg {
namespace {

int Usage() {
  std::cerr
      << "usage:\n"
         "  ovseg segment --server H:P --image FILE --labels \"cat,dog\" [--task "
         "semantic|panoptic|instance|proposals] [--mode mask|dense|fused] [--out overlay.png] "
         "[--json result.json] [--regions a.png,b.json] [--score_threshold F] "
         "[--max_segments N] [--timeout_s N]\n"
         "  ovseg vocab register --server H:P --labels \"cat,dog\"\n"
         "  ovseg info --server H:P\n"
         "  ovseg health --server H:P [--wait_s N]\n";
  return 2;
}

std::vector<std::string> SplitLabels(const std::string& text) {
  std::vector<std::string> labels;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    labels.push_back(absl::StrReplaceAll(absl::StripAsciiWhitespace(part), {{"|", ","}}));
  }
  return labels;
}

int Fail(const absl::Status& s) {
  std::cerr << "ovseg: " << s << "\n";
  return 1;
}

// Deterministic distinct colours per label index.
cv::Scalar Colour(int i) {
  cv::Mat hsv(1, 1, CV_8UC3, cv::Scalar((i * 47) % 180, 200, 255)), bgr;
  cv::cvtColor(hsv, bgr, cv::COLOR_HSV2BGR);
  const cv::Vec3b c = bgr.at<cv::Vec3b>(0, 0);
  return cv::Scalar(c[0], c[1], c[2]);
}

// The overlay a person reads: small images are scaled up (whole factors, so masks stay
// crisp) until the shorter side is at least kMinOverlaySide; each segment is tinted and
// outlined in its label's colour and numbered; a legend on the right names each number
// (labels overlap on small segments, numbers do not).
constexpr int kMinOverlaySide = 512;

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

nlohmann::json CocoResults(const v1::SegmentResponse& r, const std::string& image_name) {
  nlohmann::json out = nlohmann::json::array();
  for (const v1::Segment& s : r.segments()) {
    nlohmann::json j = {
        {"image_id", image_name},
        {"category_id", s.label_index()},
        {"label", s.label()},
        {"score", s.score()},
        {"area", s.area()},
        {"iscrowd", 0},
        {"isthing", s.is_thing()},
        {"bbox", {s.bbox().x(), s.bbox().y(), s.bbox().width(), s.bbox().height()}}};
    if (s.has_rle()) {
      j["segmentation"] = {{"size", {s.rle().height(), s.rle().width()}},
                           {"counts", s.rle().counts()}};
    }
    out.push_back(j);
  }
  return out;
}

int Run(int argc, char** argv) {
  if (argc < 2) return Usage();
  std::vector<std::string> positional;
  std::map<std::string, std::string> flags;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (absl::StartsWith(a, "--")) {
      if (i + 1 >= argc) return Usage();
      flags[a.substr(2)] = argv[++i];
    } else {
      positional.push_back(a);
    }
  }
  // Every flag is one this program knows: a misspelled one would otherwise be ignored and
  // the request sent with a default the user did not ask for.
  static const std::set<std::string> kKnownFlags = {
      "server", "timeout_s", "wait_s",          "labels",       "image", "regions",
      "task",   "mode",      "score_threshold", "max_segments", "json",  "out"};
  for (const auto& [name, value] : flags) {
    if (!kKnownFlags.count(name)) {
      return Fail(absl::InvalidArgumentError(absl::StrCat("unknown flag --", name, "; known: --",
                                                          absl::StrJoin(kKnownFlags, ", --"))));
    }
  }
  if (!flags.count("server")) return Usage();
  ClientOptions options;
  options.target = flags["server"];
  if (flags.count("timeout_s")) {
    double timeout_s = 0;
    if (!absl::SimpleAtod(flags["timeout_s"], &timeout_s) || !(timeout_s > 0)) {
      return Fail(absl::InvalidArgumentError(
          absl::StrCat("--timeout_s \"", flags["timeout_s"], "\": expected seconds > 0")));
    }
    options.timeout = absl::Seconds(timeout_s);
  }
  OvsegClient client(options);
  const std::string command = positional.empty() ? "" : positional[0];

  if (command == "health") {
    // A server answers NOT_SERVING (or not at all) while it warms up; --wait_s lets scripts
    // and tests wait for readiness the way a Kubernetes readiness probe does.
    double wait_s = 0;
    if (flags.count("wait_s") && (!absl::SimpleAtod(flags["wait_s"], &wait_s) || wait_s < 0)) {
      return Fail(absl::InvalidArgumentError("--wait_s must be a number of seconds >= 0"));
    }
    const absl::Time deadline = absl::Now() + absl::Seconds(wait_s);
    absl::StatusOr<std::string> s = client.Health();
    while ((!s.ok() || *s != "SERVING") && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(250));
      s = client.Health();
    }
    if (!s.ok()) return Fail(s.status());
    std::cout << *s << "\n";
    return *s == "SERVING" ? 0 : 1;
  }
  if (command == "info") {
    auto info = client.GetModelInfo();
    if (!info.ok()) return Fail(info.status());
    std::cout << info->DebugString();
    return 0;
  }
  if (command == "vocab" && positional.size() == 2 && positional[1] == "register") {
    auto r = client.RegisterVocabulary(SplitLabels(flags["labels"]));
    if (!r.ok()) return Fail(r.status());
    std::cout << r->vocabulary_id() << "\n";
    return 0;
  }
  if (command != "segment" || !flags.count("image") || !flags.count("labels")) return Usage();
  std::ifstream in(flags["image"], std::ios::binary);
  if (!in) return Fail(absl::NotFoundError("cannot read " + flags["image"]));
  std::stringstream bytes;
  bytes << in.rdbuf();
  v1::SegmentRequest request;
  request.mutable_image()->set_encoded(bytes.str());
  for (const std::string& l : SplitLabels(flags["labels"])) {
    request.mutable_labels()->add_labels()->set_name(l);
  }
  if (flags.count("regions")) {
    std::vector<std::string> paths = absl::StrSplit(flags["regions"], ',', absl::SkipEmpty());
    absl::StatusOr<std::vector<v1::Region>> regions = ReadRegionFiles(paths);
    if (!regions.ok()) return Fail(regions.status());
    for (v1::Region& r : *regions) *request.add_regions() = std::move(r);
  }
  static const std::map<std::string, v1::Task> kTasks = {{"semantic", v1::SEMANTIC},
                                                         {"panoptic", v1::PANOPTIC},
                                                         {"instance", v1::INSTANCE},
                                                         {"proposals", v1::PROPOSALS}};
  const std::string task = flags.count("task") ? flags["task"] : "semantic";
  if (!kTasks.count(task)) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("--task \"", task, "\": expected semantic, panoptic, instance or proposals")));
  }
  request.set_task(kTasks.at(task));
  // Without --mode the server's default decides (ModelConfig.default_head_mode): the
  // demo model answers in MASK mode, measured best for it.
  static const std::map<std::string, v1::HeadMode> kModes = {
      {"mask", v1::MASK}, {"dense", v1::DENSE}, {"fused", v1::FUSED}};
  if (flags.count("mode")) {
    if (!kModes.count(flags["mode"])) {
      return Fail(absl::InvalidArgumentError(
          absl::StrCat("--mode \"", flags["mode"], "\": expected mask, dense or fused")));
    }
    request.mutable_options()->set_head_mode(kModes.at(flags["mode"]));
  }
  request.mutable_options()->set_mask_format(v1::COCO_RLE);
  if (flags.count("score_threshold")) {
    float threshold = 0;
    if (!absl::SimpleAtof(flags["score_threshold"], &threshold)) {
      return Fail(absl::InvalidArgumentError("--score_threshold: expected a number in [0, 1]"));
    }
    request.mutable_options()->set_score_threshold(threshold);
  }
  if (flags.count("max_segments")) {
    uint32_t max_segments = 0;
    if (!absl::SimpleAtoi(flags["max_segments"], &max_segments)) {
      return Fail(absl::InvalidArgumentError("--max_segments: expected a whole number >= 0"));
    }
    request.mutable_options()->set_max_segments(max_segments);
  }
  auto response = client.Segment(request);
  if (!response.ok()) return Fail(response.status());
  for (const v1::Segment& s : response->segments()) {
    std::cout << s.id() << "\t" << s.label() << "\t" << s.score() << "\tarea " << s.area() << "\n";
  }
  std::cerr << "model " << response->model_version() << ", " << response->timings().total_seconds()
            << " s\n";
  if (flags.count("json")) {
    std::ofstream(flags["json"]) << CocoResults(*response, flags["image"]).dump(1) << "\n";
  }
  if (flags.count("out")) {
    if (absl::Status s = WriteOverlay(bytes.str(), *response, flags["out"]); !s.ok())
      return Fail(s);
  }
  return 0;
}

}  // namespace
}  // namespace ovseg

int main(int argc, char** argv) { return ovseg::Run(argc, argv); }
