// ovseg: the command-line client (CLI11; `ovseg --help`, `ovseg segment --help`).
//   ovseg segment  IMAGE... --labels "cat,dog|puppy" [--task panoptic] [--mode mask]
//                  [--out overlay.png | --out DIR] [--json results.json] [--concurrency N]
//   ovseg vocab register --labels "cat,dog"
//   ovseg info | ovseg health [--wait_s N]
//   ovseg admin submit FILE | admin list | admin activate NAME   (--token_file F)
// Every command takes --server (env OVSEG_SERVER, default 127.0.0.1:50051), --timeout_s
// and the TLS files --tls_ca, --tls_cert, --tls_key. IMAGE may be a file, a directory
// (its image files) or a quoted glob. Labels are separated by commas; synonyms of one
// label by '|' ("fire hydrant|hydrant"). Flags take `--flag value` or `--flag=value`;
// unknown flags and bad values are refused with a message and exit status 2.
#include <CLI/CLI.hpp>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "client/admin_client.h"
#include "client/client_tls.h"
#include "client/coco_results.h"
#include "client/image_inputs.h"
#include "client/overlay_image.h"
#include "client/ovseg_client.h"
#include "client/region_files.h"
#include "common/progress.h"

namespace ovseg {
namespace {

namespace fs = std::filesystem;

struct ConnectionFlags {
  std::string server = "127.0.0.1:50051";
  double timeout_s = 60;
  TlsFiles tls;
};

// Seconds as a number > 0 (or >= 0), with a message a person can act on.
CLI::Validator Seconds(bool zero_allowed) {
  return CLI::Validator(
      [zero_allowed](std::string& text) {
        double v = 0;
        if (absl::SimpleAtod(text, &v) && (zero_allowed ? v >= 0 : v > 0)) return std::string();
        return absl::StrCat("\"", text, "\": expected a number of seconds ",
                            zero_allowed ? ">= 0" : "> 0");
      },
      zero_allowed ? "SECONDS>=0" : "SECONDS>0");
}

void AddConnectionFlags(CLI::App* app, ConnectionFlags* c) {
  app->add_option("--server", c->server, "Server address host:port")
      ->envname("OVSEG_SERVER")
      ->capture_default_str();
  app->add_option("--timeout_s", c->timeout_s, "Deadline of each call, seconds")
      ->check(Seconds(false))
      ->capture_default_str();
  app->add_option("--tls_ca", c->tls.ca_file, "PEM of the CA of the server's certificate (TLS)")
      ->check(CLI::ExistingFile);
  app->add_option("--tls_cert", c->tls.cert_file, "This client's certificate (mutual TLS)")
      ->check(CLI::ExistingFile);
  app->add_option("--tls_key", c->tls.key_file, "Its private key (mutual TLS)")
      ->check(CLI::ExistingFile);
}

absl::StatusOr<ClientOptions> OptionsOf(const ConnectionFlags& c) {
  ClientOptions options;
  options.target = c.server;
  options.timeout = absl::Seconds(c.timeout_s);
  if (absl::Status s = LoadTlsFiles(c.tls, &options); !s.ok()) return s;
  return options;
}

int Fail(const absl::Status& s) {
  std::cerr << "ovseg: " << s << "\n";
  return 1;
}

std::vector<std::string> SplitLabels(const std::string& text) {
  std::vector<std::string> labels;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    labels.push_back(absl::StrReplaceAll(absl::StripAsciiWhitespace(part), {{"|", ","}}));
  }
  return labels;
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError("cannot read " + path);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

struct SegmentFlags {
  std::vector<std::string> images;
  std::string labels, vocabulary_id, task = "semantic", mode, mask_format = "rle", out, json;
  std::vector<std::string> regions;
  std::vector<int64_t> category_ids;
  std::string coco_images;
  float score_threshold = -1;
  uint32_t max_segments = 0;
  int concurrency = 4;
  bool quiet = false;
};

// file name -> image id, from a COCO annotation file's "images".
absl::StatusOr<std::map<std::string, int64_t>> CocoImageIds(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  std::map<std::string, int64_t> ids;
  try {
    for (const nlohmann::json& image : nlohmann::json::parse(*text).at("images")) {
      ids[fs::path(image.at("file_name").get<std::string>()).filename().string()] =
          image.at("id").get<int64_t>();
    }
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("--coco_images ", path, ": ", e.what()));
  }
  return ids;
}

int RunSegment(const ConnectionFlags& connection, const SegmentFlags& f) {
  absl::StatusOr<ClientOptions> options = OptionsOf(connection);
  if (!options.ok()) return Fail(options.status());
  absl::StatusOr<std::vector<std::string>> images = ExpandImageInputs(f.images);
  if (!images.ok()) return Fail(images.status());
  const bool many = images->size() > 1;
  if (many && !f.out.empty() && HasImageExtension(f.out)) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("--out ", f.out, ": with ", images->size(),
                     " images, --out is a directory (one overlay per image)")));
  }
  if (!f.json.empty() && (f.mask_format == "png")) {
    return Fail(absl::InvalidArgumentError(
        "--json writes COCO results: --mask_format rle, polygon or none"));
  }
  std::map<std::string, int64_t> image_ids;
  if (!f.coco_images.empty()) {
    absl::StatusOr<std::map<std::string, int64_t>> ids = CocoImageIds(f.coco_images);
    if (!ids.ok()) return Fail(ids.status());
    image_ids = *std::move(ids);
  }
  v1::SegmentRequest base;
  if (!f.vocabulary_id.empty()) {
    base.set_vocabulary_id(f.vocabulary_id);
  } else {
    for (const std::string& l : SplitLabels(f.labels))
      base.mutable_labels()->add_labels()->set_name(l);
  }
  const int num_labels = base.labels().labels_size();
  if (!f.category_ids.empty() && static_cast<int>(f.category_ids.size()) != num_labels) {
    return Fail(absl::InvalidArgumentError(absl::StrCat("--category_ids: ", f.category_ids.size(),
                                                        " ids for ", num_labels, " labels")));
  }
  if (!f.regions.empty()) {
    absl::StatusOr<std::vector<v1::Region>> regions = ReadRegionFiles(f.regions);
    if (!regions.ok()) return Fail(regions.status());
    for (v1::Region& r : *regions) *base.add_regions() = std::move(r);
  }
  static const std::map<std::string, v1::Task> kTasks = {{"semantic", v1::SEMANTIC},
                                                         {"panoptic", v1::PANOPTIC},
                                                         {"instance", v1::INSTANCE},
                                                         {"proposals", v1::PROPOSALS}};
  base.set_task(kTasks.at(f.task));
  // Without --mode the server's default decides (ModelConfig.default_head_mode).
  static const std::map<std::string, v1::HeadMode> kModes = {
      {"mask", v1::MASK}, {"dense", v1::DENSE}, {"fused", v1::FUSED}};
  if (!f.mode.empty()) base.mutable_options()->set_head_mode(kModes.at(f.mode));
  static const std::map<std::string, v1::MaskFormat> kMasks = {
      {"rle", v1::COCO_RLE}, {"png", v1::PNG}, {"polygon", v1::POLYGON}, {"none", v1::NO_MASK}};
  base.mutable_options()->set_mask_format(kMasks.at(f.mask_format));
  if (f.score_threshold >= 0) base.mutable_options()->set_score_threshold(f.score_threshold);
  base.mutable_options()->set_max_segments(f.max_segments);
  if (many && !f.out.empty()) fs::create_directories(f.out);

  OvsegClient client(*options);
  std::unique_ptr<Progress> progress;
  if (many && !f.quiet) progress = std::make_unique<Progress>("ovseg segment", images->size());
  std::mutex mu;  // stdout, stderr and the results
  nlohmann::json results = nlohmann::json::array();
  std::vector<nlohmann::json> per_image(images->size());
  std::atomic<size_t> next{0};
  std::atomic<int> failed{0};
  auto worker = [&] {
    for (size_t i; (i = next++) < images->size();) {
      const std::string& path = (*images)[i];
      absl::StatusOr<std::string> bytes = ReadFile(path);
      absl::StatusOr<v1::SegmentResponse> response =
          bytes.ok() ? [&] {
            v1::SegmentRequest request = base;
            request.mutable_image()->set_encoded(*bytes);
            return client.Segment(request);
          }()
                     : absl::StatusOr<v1::SegmentResponse>(bytes.status());
      absl::Status written = response.status();
      if (response.ok() && !f.out.empty()) {
        const std::string target =
            many ? (fs::path(f.out) / (fs::path(path).stem().string() + ".png")).string() : f.out;
        written = WriteOverlay(*bytes, *response, target);
      }
      std::lock_guard<std::mutex> lock(mu);
      if (!written.ok()) {
        ++failed;
        std::cerr << "ovseg: " << path << ": " << written << "\n";
      } else {
        for (const v1::Segment& s : response->segments()) {
          if (many) std::cout << path << "\t";
          std::cout << s.id() << "\t" << s.label() << "\t" << s.score() << "\tarea " << s.area()
                    << "\n";
        }
        if (!many) {
          std::cerr << "model " << response->model_version() << ", "
                    << response->timings().total_seconds() << " s\n";
        }
        if (!f.json.empty()) {
          const auto id = image_ids.find(fs::path(path).filename().string());
          const int64_t image_id = !image_ids.empty() ? (id != image_ids.end() ? id->second : -1)
                                                      : static_cast<int64_t>(i) + 1;
          if (image_id < 0) {
            ++failed;
            std::cerr << "ovseg: " << path << ": not in --coco_images " << f.coco_images << "\n";
          } else {
            per_image[i] = nlohmann::json::array();
            AppendCocoResults(*response, image_id, f.category_ids, &per_image[i]);
          }
        }
      }
      if (progress) progress->Advance(1);
    }
  };
  std::vector<std::thread> threads;
  const int n = std::max(1, std::min<int>(f.concurrency, static_cast<int>(images->size())));
  for (int t = 0; t < n; ++t) threads.emplace_back(worker);
  for (std::thread& t : threads) t.join();
  if (progress) progress->Finish();
  if (!f.json.empty()) {
    for (const nlohmann::json& records : per_image) {
      for (const nlohmann::json& r : records) results.push_back(r);
    }
    std::ofstream(f.json) << results.dump(1) << "\n";
  }
  if (failed > 0 && many)
    std::cerr << "ovseg: " << failed << " of " << images->size() << " failed\n";
  return failed > 0 ? 1 : 0;
}

int RunHealth(const ConnectionFlags& connection, double wait_s) {
  absl::StatusOr<ClientOptions> options = OptionsOf(connection);
  if (!options.ok()) return Fail(options.status());
  OvsegClient client(*options);
  // A server answers NOT_SERVING (or not at all) while it warms up; --wait_s lets scripts
  // and tests wait for readiness the way a Kubernetes readiness probe does.
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

absl::StatusOr<std::string> ReadToken(const std::string& path) {
  absl::StatusOr<std::string> token = ReadFile(path);
  if (!token.ok()) return token.status();
  return std::string(absl::StripAsciiWhitespace(*token));
}

}  // namespace

int Run(int argc, char** argv) {
  CLI::App app{"ovseg: open-vocabulary segmentation from the command line (gRPC client)"};
  app.require_subcommand(1);
  ConnectionFlags connection;

  CLI::App* segment = app.add_subcommand("segment", "Segment images against your labels");
  SegmentFlags sf;
  AddConnectionFlags(segment, &connection);
  segment->add_option("images,--image", sf.images, "Image files, directories or quoted globs")
      ->required();
  auto* labels =
      segment->add_option("--labels", sf.labels, "Labels, comma-separated; synonyms joined by '|'");
  auto* vocab = segment->add_option("--vocabulary_id", sf.vocabulary_id,
                                    "A registered vocabulary instead of --labels");
  labels->excludes(vocab);
  segment->add_option("--task", sf.task)
      ->check(CLI::IsMember({"semantic", "panoptic", "instance", "proposals"}))
      ->capture_default_str();
  segment->add_option("--mode", sf.mode, "Head mode (default: the server's)")
      ->check(CLI::IsMember({"mask", "dense", "fused"}));
  segment->add_option("--mask_format", sf.mask_format, "Masks in the reply")
      ->check(CLI::IsMember({"rle", "png", "polygon", "none"}))
      ->capture_default_str();
  segment->add_option("--out", sf.out,
                      "Overlay image (one image), or a directory of overlays (several)");
  segment->add_option("--json", sf.json,
                      "COCO results for all images (pycocotools' loadRes reads it)");
  segment->add_option("--coco_images", sf.coco_images,
                      "COCO annotation file whose images' ids --json uses (by file name); "
                      "default: 1, 2, ... in input order");
  segment
      ->add_option("--category_ids", sf.category_ids,
                   "COCO category id of each label, in order (default: 1, 2, ...)")
      ->delimiter(',');
  segment->add_option("--regions", sf.regions, "Region files to classify (PNG masks, RLE JSON)")
      ->delimiter(',');
  segment->add_option("--score_threshold", sf.score_threshold)->check(CLI::Range(0.0, 1.0));
  segment->add_option("--max_segments", sf.max_segments);
  segment->add_option("--concurrency", sf.concurrency, "Requests in flight for several images")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  segment->add_flag("--quiet", sf.quiet, "No progress bar");

  CLI::App* vocab_cmd = app.add_subcommand("vocab", "Vocabularies registered on the server");
  vocab_cmd->require_subcommand(1);
  CLI::App* reg = vocab_cmd->add_subcommand("register", "Encode labels once; prints the id");
  AddConnectionFlags(reg, &connection);
  std::string reg_labels;
  reg->add_option("--labels", reg_labels, "Labels, comma-separated")->required();

  CLI::App* info = app.add_subcommand("info", "The serving model's description");
  AddConnectionFlags(info, &connection);
  CLI::App* health = app.add_subcommand("health", "SERVING or not (exit status 0 or 1)");
  AddConnectionFlags(health, &connection);
  double wait_s = 0;
  health->add_option("--wait_s", wait_s, "Poll until SERVING or this many seconds pass")
      ->check(Seconds(true));

  CLI::App* admin = app.add_subcommand("admin", "Checkpoints: submit, list, activate (token)");
  admin->require_subcommand(1);
  std::string token_file, submit_path, submit_name, activate_name;
  CLI::App* submit = admin->add_subcommand("submit", "Upload a checkpoint file");
  CLI::App* list = admin->add_subcommand("list", "Stored checkpoints");
  CLI::App* activate = admin->add_subcommand("activate", "Serve a stored checkpoint");
  for (CLI::App* a : {submit, list, activate}) {
    AddConnectionFlags(a, &connection);
    a->add_option("--token_file", token_file, "File holding the admin bearer token")
        ->envname("OVSEG_ADMIN_TOKEN_FILE")
        ->required()
        ->check(CLI::ExistingFile);
  }
  submit->add_option("file", submit_path)->required()->check(CLI::ExistingFile);
  submit->add_option("--name", submit_name, "Stored name (default: the file's)");
  activate->add_option("name", activate_name)->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help exits 0; a refused command line 2, as getopt tools do.
    return app.exit(e) == 0 ? 0 : 2;
  }

  if (segment->parsed()) {
    if (sf.labels.empty() && sf.vocabulary_id.empty()) {
      std::cerr << "ovseg segment: --labels or --vocabulary_id is required\n";
      return 2;
    }
    return RunSegment(connection, sf);
  }
  if (health->parsed()) return RunHealth(connection, wait_s);
  absl::StatusOr<ClientOptions> options = OptionsOf(connection);
  if (!options.ok()) return Fail(options.status());
  if (info->parsed()) {
    OvsegClient client(*options);
    auto r = client.GetModelInfo();
    if (!r.ok()) return Fail(r.status());
    std::cout << r->DebugString();
    return 0;
  }
  if (reg->parsed()) {
    OvsegClient client(*options);
    auto r = client.RegisterVocabulary(SplitLabels(reg_labels));
    if (!r.ok()) return Fail(r.status());
    std::cout << r->vocabulary_id() << "\n";
    return 0;
  }
  absl::StatusOr<std::string> token = ReadToken(token_file);
  if (!token.ok()) return Fail(token.status());
  OvsegAdminClient admin_client(*options, *token);
  if (submit->parsed()) {
    auto r = admin_client.Submit(submit_path, submit_name);
    if (!r.ok()) return Fail(r.status());
    std::cout << r->DebugString();
    return 0;
  }
  if (list->parsed()) {
    auto r = admin_client.List();
    if (!r.ok()) return Fail(r.status());
    for (const v1::CheckpointInfo& c : *r) std::cout << c.ShortDebugString() << "\n";
    return 0;
  }
  auto r = admin_client.Activate(activate_name);
  if (!r.ok()) return Fail(r.status());
  std::cout << "serving " << *r << "\n";
  return 0;
}

}  // namespace ovseg

int main(int argc, char** argv) { return ovseg::Run(argc, argv); }
