// Benchmark (not a test): what cold vocabularies cost everyone else. Against a running
// server (any build, any model), clients send small requests with a warm (cached)
// vocabulary, first alone, then while another client keeps sending requests whose
// vocabulary is large and never seen (labels x synonyms prompts to encode each time).
// Prints the warm requests' latency quantiles in both phases and the cold requests' own.
//   build/bench/cold_vocabulary_bench --server 127.0.0.1:50051 [--seconds 30]
//       [--labels 2048] [--synonyms 20] [--warm_clients 2] [--image_side 256]
//       [--warm_labels "square,circle,gravel"]
// docs/benchmarks.md records its figures (the issue "One servable, one manager": before,
// the vocabulary was resolved on the batch thread).
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "client/ovseg_client.h"

ABSL_FLAG(std::string, server, "127.0.0.1:50051", "host:port of a running ovseg-server");
ABSL_FLAG(int, seconds, 30, "length of each phase");
ABSL_FLAG(int, labels, 2048, "labels of each cold vocabulary");
ABSL_FLAG(int, synonyms, 20, "synonyms of each cold label");
ABSL_FLAG(int, warm_clients, 2, "clients sending warm-vocabulary requests back to back");
ABSL_FLAG(int, image_side, 256, "side of the square test image");
ABSL_FLAG(std::string, warm_labels, "square,circle,gravel", "the warm vocabulary, one per comma");

namespace ovseg {
namespace {

std::string TestImage(int side) {
  cv::Mat img(side, side, CV_8UC3, cv::Scalar(90, 140, 60));
  cv::circle(img, {side / 3, side / 2}, side / 6, cv::Scalar(30, 30, 200), -1);
  cv::rectangle(img, {side / 2, side / 4}, {side * 7 / 8, side * 3 / 4}, cv::Scalar(200, 80, 20),
                -1);
  std::vector<uchar> png;
  cv::imencode(".png", img, png);
  return std::string(png.begin(), png.end());
}

struct Latencies {
  absl::Mutex mu;
  std::vector<double> seconds;
  int errors = 0;
  void Add(double s, bool ok) {
    absl::MutexLock lock(&mu);
    if (ok) {
      seconds.push_back(s);
    } else {
      ++errors;
    }
  }
  std::string Summary() {
    absl::MutexLock lock(&mu);
    if (seconds.empty()) return absl::StrCat("no answers, ", errors, " errors");
    std::sort(seconds.begin(), seconds.end());
    auto q = [&](double p) {
      return seconds[std::min(seconds.size() - 1, static_cast<size_t>(p * seconds.size()))];
    };
    return absl::StrFormat("n=%d  p50 %.3f s  p90 %.3f s  p99 %.3f s  max %.3f s  errors %d",
                           static_cast<int>(seconds.size()), q(0.5), q(0.9), q(0.99),
                           seconds.back(), errors);
  }
};

v1::SegmentRequest Request(const std::string& image, const std::vector<std::string>& labels) {
  v1::SegmentRequest r;
  r.mutable_image()->set_encoded(image);
  for (const std::string& l : labels) r.mutable_labels()->add_labels()->set_name(l);
  r.set_task(v1::SEMANTIC);
  return r;
}

// Labels no earlier request to this server used: "r<round>x<label>y<synonym>" joined by
// commas (under limits.max_label_bytes = 256 for 20 synonyms).
std::vector<std::string> ColdLabels(int round, int labels, int synonyms) {
  std::vector<std::string> out;
  out.reserve(labels);
  for (int l = 0; l < labels; ++l) {
    std::string label;
    for (int s = 0; s < synonyms; ++s) {
      absl::StrAppend(&label, s ? "," : "", "r", round, "x", l, "y", s);
    }
    out.push_back(std::move(label));
  }
  return out;
}

// Runs the warm clients (and, with `cold`, one cold client) for `seconds`.
void Phase(const ClientOptions& target, const std::string& image,
           const std::vector<std::string>& warm_labels, bool cold, Latencies& warm,
           Latencies& cold_latencies) {
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int c = 0; c < absl::GetFlag(FLAGS_warm_clients); ++c) {
    threads.emplace_back([&] {
      OvsegClient client(target);
      const v1::SegmentRequest r = Request(image, warm_labels);
      while (!stop.load()) {
        const absl::Time start = absl::Now();
        const bool ok = client.Segment(r).ok();
        warm.Add(absl::ToDoubleSeconds(absl::Now() - start), ok);
      }
    });
  }
  if (cold) {
    threads.emplace_back([&] {
      OvsegClient client(target);
      for (int round = 0; !stop.load(); ++round) {
        const v1::SegmentRequest r = Request(
            image, ColdLabels(round, absl::GetFlag(FLAGS_labels), absl::GetFlag(FLAGS_synonyms)));
        const absl::Time start = absl::Now();
        absl::StatusOr<v1::SegmentResponse> reply = client.Segment(r);
        if (!reply.ok())
          std::fprintf(stderr, "cold request: %s\n", reply.status().ToString().c_str());
        cold_latencies.Add(absl::ToDoubleSeconds(absl::Now() - start), reply.ok());
      }
    });
  }
  absl::SleepFor(absl::Seconds(absl::GetFlag(FLAGS_seconds)));
  stop = true;
  for (std::thread& t : threads) t.join();
}

int Main() {
  ClientOptions target{absl::GetFlag(FLAGS_server), "", absl::Seconds(300)};
  const std::string image = TestImage(absl::GetFlag(FLAGS_image_side));
  const std::vector<std::string> warm_labels =
      absl::StrSplit(absl::GetFlag(FLAGS_warm_labels), ',', absl::SkipEmpty());
  absl::StatusOr<v1::SegmentResponse> first =
      OvsegClient(target).Segment(Request(image, warm_labels));
  if (!first.ok()) {
    std::fprintf(stderr, "cold_vocabulary_bench: %s\n", first.status().ToString().c_str());
    return 1;
  }
  std::printf(
      "server %s, model %s; warm vocabulary of %d labels, %d warm client(s); cold "
      "vocabularies of %d labels x %d synonyms\n",
      target.target.c_str(), first->model_version().c_str(), static_cast<int>(warm_labels.size()),
      absl::GetFlag(FLAGS_warm_clients), absl::GetFlag(FLAGS_labels),
      absl::GetFlag(FLAGS_synonyms));
  Latencies alone, with_cold, cold, unused;
  Phase(target, image, warm_labels, /*cold=*/false, alone, unused);
  std::printf("warm requests alone:             %s\n", alone.Summary().c_str());
  Phase(target, image, warm_labels, /*cold=*/true, with_cold, cold);
  std::printf("warm requests beside cold ones:  %s\n", with_cold.Summary().c_str());
  std::printf("cold requests:                   %s\n", cold.Summary().c_str());
  return 0;
}

}  // namespace
}  // namespace ovseg

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return ovseg::Main();
}
