// ovseg-eval: scores segmentation outputs exactly as the community's reference code does,
// so that other systems' outputs can be scored the same way.
//   ovseg-eval panoptic --gt-json F --gt-dir D --pred-json F --pred-dir D [--json-out F]
//   ovseg-eval semantic --gt-dir D --pred-dir D --num-classes N [--ignore 255] [--json-out F]
// Common: [--threads N] (default: every core). Panoptic prints panopticapi's table; both
// print the JSON report (percent) and write it to --json-out.
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "train/eval/file_evaluation.h"

namespace ovseg {
namespace {

int Usage(const std::string& problem) {
  if (!problem.empty()) std::cerr << "ovseg-eval: " << problem << "\n";
  std::cerr << "usage:\n"
               "  ovseg-eval panoptic --gt-json F --gt-dir D --pred-json F --pred-dir D "
               "[--json-out F] [--threads N]\n"
               "  ovseg-eval semantic --gt-dir D --pred-dir D --num-classes N [--ignore 255] "
               "[--json-out F] [--threads N]\n";
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
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (const std::string t = take("threads"); !t.empty() && !absl::SimpleAtoi(t, &threads)) {
    return Usage("--threads: not a number");
  }
  const std::string json_out = take("json-out");
  Progress progress("ovseg-eval", 0);
  nlohmann::json report;
  if (mode == "panoptic") {
    PanopticFiles files{take("gt-json"), take("gt-dir"), take("pred-json"), take("pred-dir")};
    if (files.gt_json.empty() || files.gt_dir.empty() || files.pred_json.empty() ||
        files.pred_dir.empty()) {
      return Usage("panoptic needs --gt-json, --gt-dir, --pred-json and --pred-dir");
    }
    if (!flags.empty()) return Usage(absl::StrCat("unknown flag --", flags.begin()->first));
    absl::StatusOr<PanopticQuality> pq = EvaluatePanopticFiles(files, threads);
    if (!pq.ok()) {
      std::cerr << "ovseg-eval: " << pq.status().message() << "\n";
      return 1;
    }
    std::cout << PanopticReportTable(*pq);
    report = PanopticReportJson(*pq);
  } else if (mode == "semantic") {
    SemanticFiles files;
    files.gt_dir = take("gt-dir");
    files.pred_dir = take("pred-dir");
    const std::string classes = take("num-classes"), ignore = take("ignore");
    if (files.gt_dir.empty() || files.pred_dir.empty() || classes.empty()) {
      return Usage("semantic needs --gt-dir, --pred-dir and --num-classes");
    }
    if (!absl::SimpleAtoi(classes, &files.num_classes) || files.num_classes <= 0) {
      return Usage("--num-classes: a positive number expected");
    }
    if (!ignore.empty() && !absl::SimpleAtoi(ignore, &files.ignore_label)) {
      return Usage("--ignore: a number expected");
    }
    if (!flags.empty()) return Usage(absl::StrCat("unknown flag --", flags.begin()->first));
    absl::StatusOr<SemanticMetrics> metrics = EvaluateSemanticFiles(files, threads);
    if (!metrics.ok()) {
      std::cerr << "ovseg-eval: " << metrics.status().message() << "\n";
      return 1;
    }
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
