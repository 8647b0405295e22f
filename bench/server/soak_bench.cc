// Benchmark (not a test): a soak. Against a running server (scripts/soak.sh starts the
// demo one), --clients clients, each on its own channel, send Segment requests back to
// back for --seconds, each with a --deadline_s deadline, pausing after an error as the
// server's retry advice says (else about --backoff_ms); a --invalid_fraction of them are malformed
// in one of several ways. At 40% of the run --swap_checkpoint is uploaded and activated, at 70%
// --rollback_checkpoint (the version served before, uploaded at the start) is activated again.
// Prints, every
// --interval_s, answers per second and the server's RSS (/proc/--pid/statm); at the end
// the throughput, latency quantiles, every outcome by cause, whether it was intended, and
// RSS growth after --warmup_s: from the sample at --warmup_s to the last, and, steadier,
// between the means of one-second samples over the first and the last --rss_window_s
// after it (the allocator's trims, at most every 10 s, swing single samples by 100-200
// MiB).
// Intended outcomes: OK for a valid request, or a refusal at the door (RESOURCE_EXHAUSTED,
// or DEADLINE_EXCEEDED within 100 ms); the documented error code for each kind of
// malformed request. A DEADLINE_EXCEEDED after that was admitted and ran late.
// Anything else (UNAVAILABLE, INTERNAL, a valid request refused as invalid, ...) is
// unintended, and the program exits 1 when there is any.
//   build/bench/soak_bench --server 127.0.0.1:50051 --pid PID --admin_token_file F
//       --swap_checkpoint A.safetensors --rollback_checkpoint B.safetensors
//       --image_dir DIR --labels "a,b,c" [--clients 64] [--seconds 600] [--deadline_s 2]
//       [--backoff_ms 100] [--follow_retry_advice true]
// docs/benchmarks.md records its figures ("Soak").
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "client/admin_client.h"
#include "client/ovseg_client.h"
#include "common/retry_advice.h"
#include "google/protobuf/stubs/logging.h"
#include "server/common/process_memory.h"

ABSL_FLAG(std::string, server, "127.0.0.1:50051", "host:port of a running ovseg-server");
ABSL_FLAG(int, pid, 0, "the server's process id, for its RSS (0: not sampled)");
ABSL_FLAG(std::string, admin_token_file, "", "the ModelAdmin token (for the swap)");
ABSL_FLAG(std::string, swap_checkpoint, "", "checkpoint activated at 40% of the run");
ABSL_FLAG(std::string, rollback_checkpoint, "", "checkpoint activated again at 70%");
ABSL_FLAG(std::string, image_dir, "", "folder of test images (the first 16 are used)");
ABSL_FLAG(std::string, labels, "", "the vocabulary of valid requests, one per comma");
ABSL_FLAG(int, clients, 64, "concurrent clients");
ABSL_FLAG(int, seconds, 600, "length of the run");
ABSL_FLAG(double, deadline_s, 2, "deadline of every request");
ABSL_FLAG(double, invalid_fraction, 0.2, "share of malformed requests");
ABSL_FLAG(double, backoff_ms, 100, "a client's mean pause after a refused or failed request");
ABSL_FLAG(bool, follow_retry_advice, true,
          "after a refusal with the server's retry advice (grpc-retry-pushback-ms), wait that "
          "long (plus up to 50% jitter) instead of --backoff_ms");
ABSL_FLAG(int, interval_s, 30, "seconds between progress lines");
ABSL_FLAG(int, warmup_s, 60, "RSS growth is measured from the first sample after this");
ABSL_FLAG(int, rss_window_s, 60,
          "RSS growth is also the mean of one-second samples over the last this many seconds "
          "against the mean over the first this many after --warmup_s");

namespace ovseg {
namespace {

// One kind of request: how to build it, and the codes that are its intended outcomes.
struct Kind {
  std::string name;
  bool valid;
  std::vector<absl::StatusCode> intended;
};

const std::vector<Kind>& Kinds() {
  using C = absl::StatusCode;
  static const auto* kinds = new std::vector<Kind>{
      {"valid semantic", true, {C::kOk, C::kResourceExhausted, C::kDeadlineExceeded}},
      {"valid panoptic", true, {C::kOk, C::kResourceExhausted, C::kDeadlineExceeded}},
      {"valid instance rle", true, {C::kOk, C::kResourceExhausted, C::kDeadlineExceeded}},
      {"empty image", false, {C::kInvalidArgument}},
      {"random bytes as image", false, {C::kInvalidArgument}},
      {"empty label", false, {C::kInvalidArgument}},
      {"invalid utf-8 label", false, {C::kInvalidArgument}},
      {"too many labels", false, {C::kInvalidArgument}},
      {"unknown vocabulary id", false, {C::kNotFound}},
      // Regions are looked at after admission (decoding), so under overload this one
      // may be refused for its deadline first.
      {"region png of 2^28 pixels",
       false,
       {C::kInvalidArgument, C::kResourceExhausted, C::kDeadlineExceeded}},
  };
  return *kinds;
}

constexpr int kValidKinds = 3;

// A PNG header claiming width x height (no pixel data): decoders must refuse it from
// the header, before allocating.
std::string PngHeader(uint32_t width, uint32_t height) {
  std::string png("\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR", 16);
  for (uint32_t v : {width, height}) {
    for (int s = 24; s >= 0; s -= 8) png.push_back(static_cast<char>((v >> s) & 0xff));
  }
  png += std::string("\x08\x06\0\0\0", 5);  // 8-bit RGBA
  png += std::string(4, '\0');              // CRC (not checked before the size is)
  return png;
}

v1::SegmentRequest Build(int kind, const std::string& image, const std::vector<std::string>& labels,
                         std::mt19937& rng) {
  v1::SegmentRequest r;
  r.mutable_image()->set_encoded(image);
  for (const std::string& l : labels) r.mutable_labels()->add_labels()->set_name(l);
  r.set_task(v1::SEMANTIC);
  switch (kind) {
    case 1:
      r.set_task(v1::PANOPTIC);
      break;
    case 2:
      r.set_task(v1::INSTANCE);
      r.mutable_options()->set_mask_format(v1::COCO_RLE);
      break;
    case 3:
      r.mutable_image()->clear_encoded();
      break;
    case 4: {
      std::string noise(4096, '\0');
      for (char& c : noise) c = static_cast<char>(rng());
      r.mutable_image()->set_encoded(noise);
      break;
    }
    case 5:
      r.mutable_labels()->add_labels()->set_name("");
      break;
    case 6:
      r.mutable_labels()->mutable_labels(0)->set_name("bad \xff\xfe label");
      break;
    case 7:
      for (int i = 0; i < 2100; ++i)
        r.mutable_labels()->add_labels()->set_name(absl::StrCat("l", i));
      break;
    case 8:
      r.clear_labels();
      r.set_vocabulary_id("soak-unknown-vocabulary");
      break;
    case 9: {
      v1::Region* region = r.add_regions();
      region->set_png(PngHeader(16384, 16384));
      break;
    }
    default:
      break;
  }
  return r;
}

struct Outcome {
  int kind;
  absl::StatusCode code;
  double seconds;
  absl::Time at;
};

class Record {
 public:
  void Add(Outcome o) {
    absl::MutexLock lock(&mu_);
    outcomes_.push_back(o);
  }
  std::vector<Outcome> Snapshot() {
    absl::MutexLock lock(&mu_);
    return outcomes_;
  }

 private:
  absl::Mutex mu_;
  std::vector<Outcome> outcomes_;
};

double RssMiB(int pid) { return pid > 0 ? ProcessResidentBytes(pid) / (1 << 20) : 0; }

std::vector<std::string> ReadImages(const std::string& dir) {
  std::vector<std::string> paths;
  for (const auto& e : std::filesystem::directory_iterator(dir)) paths.push_back(e.path());
  std::sort(paths.begin(), paths.end());
  if (paths.size() > 16) paths.resize(16);
  std::vector<std::string> images;
  for (const std::string& p : paths) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    images.push_back(ss.str());
  }
  return images;
}

double Quantile(std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * v.size()))];
}

// The admin steps: upload both checkpoints at the start, activate the swap at 40% and the
// rollback at 70%. Each step is printed with its outcome; a failed one is unintended.
int AdminSteps(const ClientOptions& target, absl::Time start, int seconds,
               std::atomic<bool>& stop) {
  const std::string token_file = absl::GetFlag(FLAGS_admin_token_file);
  const std::string swap = absl::GetFlag(FLAGS_swap_checkpoint);
  const std::string rollback = absl::GetFlag(FLAGS_rollback_checkpoint);
  if (token_file.empty() || swap.empty() || rollback.empty()) {
    std::printf("admin: no token or checkpoints given; no swap, no rollback\n");
    return 0;
  }
  std::ifstream in(token_file);
  std::string token;
  in >> token;
  ClientOptions admin_target = target;
  admin_target.timeout = absl::Seconds(600);
  OvsegAdminClient admin(admin_target, token);
  int failures = 0;
  auto step = [&](const std::string& what, const absl::Status& s) {
    std::printf("admin  %6.1f s  %s: %s\n", absl::ToDoubleSeconds(absl::Now() - start),
                what.c_str(), s.ToString().c_str());
    std::fflush(stdout);
    if (!s.ok()) ++failures;
  };
  step("upload " + swap, admin.Submit(swap, "soak-swap.safetensors").status());
  step("upload " + rollback, admin.Submit(rollback, "soak-rollback.safetensors").status());
  for (auto [at, name] :
       {std::pair{0.4, "soak-swap.safetensors"}, {0.7, "soak-rollback.safetensors"}}) {
    while (!stop.load() && absl::Now() < start + absl::Seconds(at * seconds)) {
      absl::SleepFor(absl::Milliseconds(200));
    }
    if (stop.load()) break;
    absl::StatusOr<std::string> version = admin.Activate(name);
    step(
        absl::StrCat("activate ", name, version.ok() ? absl::StrCat(" -> version ", *version) : ""),
        version.status());
  }
  return failures;
}

int Main() {
  const int clients = absl::GetFlag(FLAGS_clients), seconds = absl::GetFlag(FLAGS_seconds);
  const int pid = absl::GetFlag(FLAGS_pid);
  ClientOptions target{absl::GetFlag(FLAGS_server), "",
                       absl::Seconds(absl::GetFlag(FLAGS_deadline_s))};
  const std::vector<std::string> images = ReadImages(absl::GetFlag(FLAGS_image_dir));
  const std::vector<std::string> labels =
      absl::StrSplit(absl::GetFlag(FLAGS_labels), ',', absl::SkipEmpty());
  if (images.empty() || labels.empty()) {
    std::fprintf(stderr, "soak_bench: --image_dir and --labels are required\n");
    return 2;
  }
  std::printf(
      "soak: %s, %d clients, %d s, deadline %.1f s, %.0f%% malformed; %zu images, %zu "
      "labels\n",
      target.target.c_str(), clients, seconds, absl::GetFlag(FLAGS_deadline_s),
      100 * absl::GetFlag(FLAGS_invalid_fraction), images.size(), labels.size());
  Record record;
  std::atomic<bool> stop{false};
  const absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      OvsegClient client(target);
      std::mt19937 rng(c + 1);
      std::uniform_real_distribution<double> unit(0, 1);
      const int invalid_kinds = static_cast<int>(Kinds().size()) - kValidKinds;
      while (!stop.load()) {
        const int kind = unit(rng) < absl::GetFlag(FLAGS_invalid_fraction)
                             ? kValidKinds + static_cast<int>(rng() % invalid_kinds)
                             : static_cast<int>(rng() % kValidKinds);
        const v1::SegmentRequest r = Build(kind, images[rng() % images.size()], labels, rng);
        const absl::Time sent = absl::Now();
        const absl::Status status = client.Segment(r).status();
        const absl::StatusCode code = status.code();
        record.Add({kind, code, absl::ToDoubleSeconds(absl::Now() - sent), absl::Now()});
        // Refused or failed, a client waits before its next request, as a gRPC client with
        // a retry policy does: as long as the server's retry advice says (plus up to half
        // again, so that clients refused together do not return together), else about
        // --backoff_ms. Without it the refusals alone (thousands a second) are the load.
        if (code != absl::StatusCode::kOk) {
          const std::optional<absl::Duration> advised =
              absl::GetFlag(FLAGS_follow_retry_advice) ? RetryAfterOf(status) : std::nullopt;
          absl::SleepFor(
              advised ? *advised * (1 + 0.5 * unit(rng))
                      : absl::Milliseconds(absl::GetFlag(FLAGS_backoff_ms) * (0.5 + unit(rng))));
        }
      }
    });
  }
  int admin_failures = 0;
  std::thread admin([&] { admin_failures = AdminSteps(target, start, seconds, stop); });
  // One sample a second for the windowed growth figure, apart from the progress lines.
  std::vector<std::pair<double, double>> rss_each_second;  // (seconds since start, MiB)
  std::thread rss_sampler([&] {
    if (pid <= 0) return;
    for (int t = 1; t <= seconds && !stop; ++t) {
      absl::SleepFor(start + absl::Seconds(t) - absl::Now());
      rss_each_second.emplace_back(t, RssMiB(pid));
    }
  });
  std::vector<std::pair<double, double>> rss;  // (seconds since start, MiB)
  rss.emplace_back(0, RssMiB(pid));
  size_t seen = 0;
  for (int t = absl::GetFlag(FLAGS_interval_s); t <= seconds;
       t += absl::GetFlag(FLAGS_interval_s)) {
    absl::SleepFor(start + absl::Seconds(t) - absl::Now());
    const std::vector<Outcome> so_far = record.Snapshot();
    int ok = 0;
    for (size_t i = seen; i < so_far.size(); ++i) ok += so_far[i].code == absl::StatusCode::kOk;
    rss.emplace_back(t, RssMiB(pid));
    std::printf("t=%4d s  answers %6.2f/s (ok %6.2f/s)  RSS %7.1f MiB\n", t,
                double(so_far.size() - seen) / absl::GetFlag(FLAGS_interval_s),
                double(ok) / absl::GetFlag(FLAGS_interval_s), rss.back().second);
    std::fflush(stdout);
    seen = so_far.size();
  }
  stop = true;
  for (std::thread& t : threads) t.join();
  admin.join();
  rss_sampler.join();
  const double elapsed = absl::ToDoubleSeconds(absl::Now() - start);

  std::vector<Outcome> all = record.Snapshot();
  // A refusal (overload or deadline) answered within kRefusalSeconds was made at the door;
  // a DEADLINE_EXCEEDED after it means the request was admitted and then ran out of time,
  // which admission is meant to prevent: shown apart, and not intended.
  constexpr double kRefusalSeconds = 0.1;
  auto outcome = [&](const Outcome& o) {
    std::string name = absl::StatusCodeToString(o.code);
    if (o.code == absl::StatusCode::kDeadlineExceeded) {
      name += o.seconds < kRefusalSeconds ? " (refused)" : " (late)";
    }
    return name;
  };
  auto intended = [&](const Outcome& o) {
    const std::vector<absl::StatusCode>& want = Kinds()[o.kind].intended;
    const bool late = o.code == absl::StatusCode::kDeadlineExceeded && o.seconds >= kRefusalSeconds;
    return !late && std::find(want.begin(), want.end(), o.code) != want.end();
  };
  std::map<std::pair<int, std::string>, std::pair<std::vector<double>, bool>> by_cause;
  std::vector<double> ok_seconds, refused_seconds;
  int unintended = 0, late = 0;
  for (const Outcome& o : all) {
    auto& [seconds, ok] = by_cause[{o.kind, outcome(o)}];
    seconds.push_back(o.seconds);
    ok = intended(o);
    if (!ok) ++unintended;
    if (o.code == absl::StatusCode::kOk) ok_seconds.push_back(o.seconds);
    const bool refusal =
        o.code == absl::StatusCode::kResourceExhausted ||
        (o.code == absl::StatusCode::kDeadlineExceeded && o.seconds < kRefusalSeconds);
    if (Kinds()[o.kind].valid && refusal) refused_seconds.push_back(o.seconds);
    if (Kinds()[o.kind].valid && o.code == absl::StatusCode::kDeadlineExceeded && !refusal) ++late;
  }
  std::printf("\nrequests %zu in %.0f s: %.2f/s; answered OK %zu (%.2f/s)\n", all.size(), elapsed,
              all.size() / elapsed, ok_seconds.size(), ok_seconds.size() / elapsed);
  const double ok_p50 = Quantile(ok_seconds, 0.5);  // sorts ok_seconds
  std::printf("OK latency: p50 %.3f s  p90 %.3f s  p99 %.3f s  max %.3f s\n", ok_p50,
              Quantile(ok_seconds, 0.9), Quantile(ok_seconds, 0.99),
              ok_seconds.empty() ? 0.0 : ok_seconds.back());
  std::printf(
      "valid requests refused at the door (overload or deadline): %zu, answered in p50 %.1f "
      "ms, p99 %.1f ms; admitted and then past their deadline: %d\n",
      refused_seconds.size(), 1e3 * Quantile(refused_seconds, 0.5),
      1e3 * Quantile(refused_seconds, 0.99), late);
  std::printf("\n%-28s %-28s %8s %10s %10s  %s\n", "request", "outcome", "count", "p50 ms",
              "p99 ms", "intended");
  for (auto& [key, cause] : by_cause) {
    std::printf("%-28s %-28s %8zu %10.1f %10.1f  %s\n", Kinds()[key.first].name.c_str(),
                key.second.c_str(), cause.first.size(), 1e3 * Quantile(cause.first, 0.5),
                1e3 * Quantile(cause.first, 0.99), cause.second ? "yes" : "NO");
  }
  std::printf("\nRSS over time (MiB):");
  for (auto [t, mib] : rss) std::printf(" %.0fs:%.0f", t, mib);
  std::printf("\n");
  if (pid > 0) {
    double base = 0;
    for (auto [t, mib] : rss) {
      if (t >= absl::GetFlag(FLAGS_warmup_s)) {
        base = mib;
        break;
      }
    }
    if (base > 0) {
      std::printf("RSS growth after warm-up (%d s): %.1f MiB -> %.1f MiB, %+.1f%%\n",
                  absl::GetFlag(FLAGS_warmup_s), base, rss.back().second,
                  100 * (rss.back().second / base - 1));
    }
    const double warmup = absl::GetFlag(FLAGS_warmup_s);
    const double window = absl::GetFlag(FLAGS_rss_window_s);
    double first_sum = 0, last_sum = 0;
    int first_n = 0, last_n = 0;
    for (auto [t, mib] : rss_each_second) {
      if (t >= warmup && t < warmup + window) first_sum += mib, ++first_n;
      if (t > seconds - window && t >= warmup + window) last_sum += mib, ++last_n;
    }
    if (first_n > 0 && last_n > 0) {
      const double first = first_sum / first_n, last = last_sum / last_n;
      std::printf(
          "RSS growth after warm-up, window means (%.0f-%.0f s against the last %.0f s): %.1f "
          "MiB -> %.1f MiB, %+.1f%%\n",
          warmup, warmup + window, window, first, last, 100 * (last / first - 1));
    }
  }
  std::printf("unintended outcomes: %d; failed admin steps: %d\n", unintended, admin_failures);
  return unintended == 0 && admin_failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace ovseg

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  // The invalid-UTF-8 requests are meant: no log line for each of them.
  google::protobuf::SetLogHandler(nullptr);
  return ovseg::Main();
}
