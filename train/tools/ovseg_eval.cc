// ovseg-eval: scores segmentation outputs exactly as the community's reference code does,
// so that other systems' outputs can be scored the same way.
//   ovseg-eval panoptic --gt-json F --gt-dir D --pred-json F --pred-dir D [--json-out F]
//   ovseg-eval semantic --gt-dir D --pred-dir D --num-classes N [--ignore V] [--json-out F]
//   (--ignore defaults to the ground-truth maps' convention: 255 for 8-bit, 65535 for 16-bit)
// Against a live server (each image sent with the dataset's whole vocabulary):
//   ovseg-eval panoptic --server H:P --gt-json F --gt-dir D --image-dir D
//                       [--pred-out-dir D] [--json-out F]
//   ovseg-eval semantic --server H:P --categories F --gt-dir D --image-dir D [--ignore V]
//                       [--json-out F]
// Common: [--threads N] (files: default every core; server: requests in flight, default
// 4), [--score-threshold F] (server, default 0). Panoptic prints panopticapi's table; both
// print the JSON report (percent) and write it to --json-out. A progress bar (terminal)
// or progress lines (logs) go to stderr.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "train/data/coco_panoptic.h"
#include "train/eval/file_evaluation.h"
#include "train/eval/server_evaluation.h"

namespace ovseg {
namespace {

// Totals for the progress bar (0 when unknown: the bar then shows counts only).
int64_t CountAnnotations(const std::string& json) {
  absl::StatusOr<CocoPanoptic> d = ReadCocoPanopticJson(json);
  return d.ok() ? static_cast<int64_t>(d->annotations.size()) : 0;
}
int64_t CountFiles(const std::string& dir) {
  std::error_code error;
  int64_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir, error)) n += e.is_regular_file();
  return n;
}

int Usage(const std::string& problem) {
  if (!problem.empty()) std::cerr << "ovseg-eval: " << problem << "\n";
  std::cerr << "usage:\n"
               "  ovseg-eval panoptic --gt-json F --gt-dir D --pred-json F --pred-dir D "
               "[--json-out F] [--threads N]\n"
               "  ovseg-eval semantic --gt-dir D --pred-dir D --num-classes N [--ignore V] "
               "[--json-out F] [--threads N]\n"
               "  ovseg-eval panoptic --server H:P --gt-json F --gt-dir D --image-dir D "
               "[--pred-out-dir D] [--json-out F] [--threads N] [--score-threshold F]\n"
               "  ovseg-eval semantic --server H:P --categories F --gt-dir D --image-dir D "
               "[--ignore V] [--json-out F] [--threads N] [--score-threshold F]\n";
  return 2;
}

int Run(int argc, char** argv) {
  if (argc < 2) return Usage("");
  const std::string mode = argv[1];
  std::map<std::string, std::string> flags;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--", 0) != 0 || i + 1 >= argc) return Usage(absl::StrCat("bad argument ", a));
    flags[a.substr(2)] = argv[++i];
  }
  auto take = [&](const std::string& name) {
    const auto it = flags.find(name);
    if (it == flags.end()) return std::string();
    std::string v = it->second;
    flags.erase(it);
    return v;
  };
  const std::string server = take("server");
  int threads =
      server.empty() ? static_cast<int>(std::max(1u, std::thread::hardware_concurrency())) : 4;
  if (const std::string t = take("threads"); !t.empty() && !absl::SimpleAtoi(t, &threads)) {
    return Usage("--threads: not a number");
  }
  ServerEvalOptions live;
  live.server = server;
  live.concurrency = threads;
  if (const std::string t = take("score-threshold");
      !t.empty() && !absl::SimpleAtof(t, &live.score_threshold)) {
    return Usage("--score-threshold: not a number");
  }
  const std::string json_out = take("json-out");
  nlohmann::json report;
  auto fail = [](const absl::Status& s) {
    std::cerr << "ovseg-eval: " << s.message() << "\n";
    return 1;
  };
  if (mode == "panoptic") {
    PanopticFiles files{take("gt-json"), take("gt-dir"), take("pred-json"), take("pred-dir")};
    const std::string image_dir = take("image-dir");
    live.pred_out_dir = take("pred-out-dir");
    absl::StatusOr<PanopticQuality> pq;
    if (!server.empty()) {
      if (files.gt_json.empty() || files.gt_dir.empty() || image_dir.empty()) {
        return Usage("panoptic --server needs --gt-json, --gt-dir and --image-dir");
      }
      if (!flags.empty()) return Usage(absl::StrCat("unknown flag --", flags.begin()->first));
      Progress progress("ovseg-eval", CountAnnotations(files.gt_json));
      pq = EvaluatePanopticOnServer(files.gt_json, files.gt_dir, image_dir, live, &progress);
    } else {
      if (files.gt_json.empty() || files.gt_dir.empty() || files.pred_json.empty() ||
          files.pred_dir.empty()) {
        return Usage("panoptic needs --gt-json, --gt-dir, --pred-json and --pred-dir");
      }
      if (!flags.empty()) return Usage(absl::StrCat("unknown flag --", flags.begin()->first));
      Progress progress("ovseg-eval", CountAnnotations(files.gt_json));
      pq = EvaluatePanopticFiles(files, threads, &progress);
    }
    if (!pq.ok()) return fail(pq.status());
    std::cout << PanopticReportTable(*pq);
    report = PanopticReportJson(*pq);
  } else if (mode == "semantic") {
    SemanticFiles files;
    files.gt_dir = take("gt-dir");
    files.pred_dir = take("pred-dir");
    const std::string classes = take("num-classes"), ignore = take("ignore");
    const std::string image_dir = take("image-dir"), categories = take("categories");
    if (!ignore.empty() && !absl::SimpleAtoi(ignore, &files.ignore_label)) {
      return Usage("--ignore: a number expected");
    }
    absl::StatusOr<SemanticMetrics> metrics;
    if (!server.empty()) {
      if (files.gt_dir.empty() || image_dir.empty() || categories.empty()) {
        return Usage("semantic --server needs --categories, --gt-dir and --image-dir");
      }
      if (!flags.empty()) return Usage(absl::StrCat("unknown flag --", flags.begin()->first));
      Progress progress("ovseg-eval", CountFiles(image_dir));
      metrics = EvaluateSemanticOnServer(categories, image_dir, files.gt_dir, files.ignore_label,
                                         live, &progress);
    } else {
      if (files.gt_dir.empty() || files.pred_dir.empty() || classes.empty()) {
        return Usage("semantic needs --gt-dir, --pred-dir and --num-classes");
      }
      if (!absl::SimpleAtoi(classes, &files.num_classes) || files.num_classes <= 0) {
        return Usage("--num-classes: a positive number expected");
      }
      if (!flags.empty()) return Usage(absl::StrCat("unknown flag --", flags.begin()->first));
      Progress progress("ovseg-eval", CountFiles(files.gt_dir));
      metrics = EvaluateSemanticFiles(files, threads, &progress);
    }
    if (!metrics.ok()) return fail(metrics.status());
    report = SemanticReportJson(*metrics);
  } else {
    return Usage(absl::StrCat("unknown mode \"", mode, "\""));
  }
  std::cout << report.dump(2) << "\n";
  if (!json_out.empty()) {
    std::ofstream out(json_out);
    out << report.dump(2) << "\n";
    if (!out) {
      std::cerr << "ovseg-eval: cannot write " << json_out << "\n";
      return 1;
    }
  }
  return 0;
}

}  // namespace
}  // namespace ovseg

int main(int argc, char** argv) { return ovseg::Run(argc, argv); }
