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
// The stage analysis of FOV-Seg (docs/analysis.md): end to end, oracle mask generator,
// oracle classifier, proposal recall against a live server, and CLIP alone on crops
// (run by ovseg-embed, which holds LibTorch; ovseg-eval stays free of it):
//   ovseg-eval analyse [--server H:P] --gt-json F --gt-dir D --image-dir D
//                      [--head-mode mask|dense|fused] [--max-images N] [--proposals no]
//                      [--clip PATH [--clip-format F] [--clip-quick-gelu B]
//                       [--clip-templates T] [--crop masked|box]] [--json-out F]
// Common: [--threads N] (files: default every core; server: requests in flight, default
// 4), [--score-threshold F] (server, default 0), [--object-mask-threshold F]
// [--overlap-threshold F] (server, panoptic; default: the server's), [--tls-ca F [--tls-cert F
// --tls-key F]] (server: TLS, client/client_tls.h). Panoptic prints panopticapi's
// table; both print the JSON report (percent) and write it to --json-out. A progress bar (terminal)
// or progress lines (logs) go to stderr.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/client_tls.h"
#include "datasets/coco_panoptic.h"
#include "evaluation/file_evaluation.h"
#include "evaluation/server_analysis.h"
#include "evaluation/server_evaluation.h"

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

// ovseg-embed, which runs CLIP: beside this binary (an installed image), in the build
// tree's model/ beside train/, or on PATH.
std::string FindOvsegEmbed(const char* argv0) {
  std::error_code error;
  const std::filesystem::path self = std::filesystem::canonical("/proc/self/exe", error);
  const std::filesystem::path dir =
      error ? std::filesystem::path(argv0).parent_path() : self.parent_path();
  for (const std::filesystem::path& candidate :
       {dir / "ovseg-embed", dir.parent_path() / "model" / "ovseg-embed"}) {
    if (std::filesystem::exists(candidate)) return candidate.string();
  }
  return "ovseg-embed";
}

// Runs `ovseg-embed crops ...` and returns its JSON report (written to a temporary file).
absl::StatusOr<nlohmann::json> RunClipCrops(const char* argv0, std::vector<std::string> args) {
  const std::string out = (std::filesystem::temp_directory_path() /
                           absl::StrCat("ovseg-eval-crops-", getpid(), ".json"))
                              .string();
  args.insert(args.end(), {"--json-out", out});
  std::string command = FindOvsegEmbed(argv0);
  for (const std::string& a : args) {
    std::string quoted = "'";
    for (char c : a) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    command += " " + quoted + "'";
  }
  command += " > /dev/null";
  const int rc = std::system(command.c_str());
  if (rc != 0) {
    return absl::InternalError(absl::StrCat("ovseg-embed crops failed (status ", rc,
                                            "); its message is above: ", command));
  }
  std::ifstream in(out);
  nlohmann::json report = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  std::filesystem::remove(out);
  if (report.is_discarded()) return absl::DataLossError(absl::StrCat(out, ": not JSON"));
  return report;
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
               "[--ignore V] [--json-out F] [--threads N] [--score-threshold F]\n"
               "  ovseg-eval analyse [--server H:P] --gt-json F --gt-dir D --image-dir D "
               "[--head-mode mask|dense|fused] [--max-images N] [--proposals no] [--clip PATH "
               "[--clip-format F] [--clip-quick-gelu B] [--clip-templates T] [--crop "
               "masked|box]] [--json-out F] [--threads N]\n"
               "  server modes also take [--object-mask-threshold F] [--overlap-threshold F] "
               "[--tls-ca F [--tls-cert F --tls-key F]]\n";
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
  {
    ClientOptions tls;
    const TlsFiles files{take("tls-ca"), take("tls-cert"), take("tls-key")};
    if (absl::Status s = LoadTlsFiles(files, &tls); !s.ok()) {
      return Usage(absl::StrCat("--tls-ca/--tls-cert/--tls-key: ", s.message()));
    }
    live.tls_root_certs = tls.tls_root_certs;
    live.tls_cert_chain = tls.tls_cert_chain;
    live.tls_private_key = tls.tls_private_key;
  }
  if (const std::string t = take("score-threshold");
      !t.empty() && !absl::SimpleAtof(t, &live.score_threshold)) {
    return Usage("--score-threshold: not a number");
  }
  for (const auto& [flag, target] :
       {std::pair{"object-mask-threshold", &live.object_mask_threshold},
        std::pair{"overlap-threshold", &live.overlap_threshold}}) {
    if (const std::string t = take(flag); !t.empty()) {
      float v = 0;
      if (!absl::SimpleAtof(t, &v) || !(v >= 0 && v <= 1)) {
        return Usage(absl::StrCat("--", flag, ": a number in [0, 1] expected"));
      }
      *target = v;
    }
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
  } else if (mode == "analyse" || mode == "analyze") {
    const std::string gt_json = take("gt-json"), gt_dir = take("gt-dir");
    const std::string image_dir = take("image-dir");
    if (gt_json.empty() || gt_dir.empty() || image_dir.empty()) {
      return Usage("analyse needs --gt-json, --gt-dir and --image-dir");
    }
    ServerAnalysisOptions analysis;
    analysis.server = live;
    const std::string head_mode = take("head-mode");
    if (head_mode == "mask") {
      analysis.head_mode = v1::MASK;
    } else if (head_mode == "dense") {
      analysis.head_mode = v1::DENSE;
    } else if (head_mode == "fused") {
      analysis.head_mode = v1::FUSED;
    } else if (!head_mode.empty()) {
      return Usage("--head-mode: mask, dense or fused");
    }
    const std::string max_images = take("max-images");
    if (!max_images.empty() &&
        (!absl::SimpleAtoi(max_images, &analysis.max_images) || analysis.max_images < 0)) {
      return Usage("--max-images: a number >= 0 expected");
    }
    const std::string proposals = take("proposals");
    if (!proposals.empty() && proposals != "yes" && proposals != "no") {
      return Usage("--proposals: yes or no");
    }
    analysis.proposals = proposals != "no";
    std::vector<std::string> embed = {"crops", "--gt-json",   gt_json,  "--gt-dir",
                                      gt_dir,  "--image-dir", image_dir};
    const std::string clip = take("clip");
    for (const auto& [flag, to] :
         std::vector<std::pair<std::string, std::string>>{{"clip-format", "--format"},
                                                          {"clip-quick-gelu", "--quick-gelu"},
                                                          {"clip-templates", "--templates"},
                                                          {"crop", "--crop"}}) {
      const std::string v = take(flag);
      if (!v.empty() && clip.empty()) return Usage(absl::StrCat("--", flag, " needs --clip"));
      if (!v.empty()) embed.insert(embed.end(), {to, v});
    }
    if (!max_images.empty()) embed.insert(embed.end(), {"--max-images", max_images});
    if (!flags.empty()) return Usage(absl::StrCat("unknown flag --", flags.begin()->first));
    if (server.empty() && clip.empty()) return Usage("analyse needs --server, --clip or both");
    report = nlohmann::json::object();
    if (!server.empty()) {
      Progress progress("ovseg-eval analyse",
                        analysis.max_images > 0
                            ? std::min<int64_t>(analysis.max_images, CountAnnotations(gt_json))
                            : CountAnnotations(gt_json));
      absl::StatusOr<nlohmann::json> r =
          AnalyseOnServer(gt_json, gt_dir, image_dir, analysis, &progress);
      if (!r.ok()) return fail(r.status());
      report = *r;
    }
    if (!clip.empty()) {
      embed.insert(embed.begin() + 1, {"--clip", clip});
      absl::StatusOr<nlohmann::json> crops = RunClipCrops(argv[0], embed);
      if (!crops.ok()) return fail(crops.status());
      report.update(*crops);
    }
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
