// Benchmark (not a test): server overhead with a zero-cost pipeline over loopback gRPC,
// and JPEG decode cost. Prints its figures; docs/benchmarks.md records them.
//   build/bench/server_overhead_bench [requests_per_level]
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "ovseg/v1/segmentation.grpc.pb.h"
#include "server/common/process_tuning.h"
#include "server/config/config_loader.h"
#include "server/image/image_decoder.h"
#include "server/ovseg_server.h"
#include "tests/fakes/fake_pipeline.h"

namespace ovseg {
namespace {

// Answers instantly with no segments: what remains is the server's own cost.
class ZeroCostPipeline : public SegmentationPipeline {
 public:
  std::vector<absl::StatusOr<PipelineResult>> Run(
      absl::Span<const PipelineRequest> batch) override {
    std::vector<absl::StatusOr<PipelineResult>> out;
    for (const PipelineRequest& r : batch) {
      PipelineResult result;
      result.width = r.image->width;
      result.height = r.image->height;
      out.push_back(std::move(result));
    }
    return out;
  }
  PipelineInfo Info() const override { return {"zero-cost", "bench", "cpu", {}, {}}; }
};

// A photo-like test image: smooth gradients plus mild noise (pure noise would make JPEG
// decoding unrealistically slow, flat colour unrealistically fast).
std::string PhotoJpeg(int w, int h) {
  cv::Mat img(h, w, CV_8UC3);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      img.at<cv::Vec3b>(y, x) = cv::Vec3b(x * 255 / w, y * 255 / h, (x + y) * 255 / (w + h));
    }
  }
  cv::Mat noise(h, w, CV_8UC3);
  cv::randn(noise, cv::Scalar::all(0), cv::Scalar::all(12));
  img += noise;
  cv::circle(img, {w / 3, h / 2}, h / 4, cv::Scalar(30, 200, 90), -1);
  std::vector<uchar> buf;
  cv::imencode(".jpg", img, buf, {cv::IMWRITE_JPEG_QUALITY, 90});
  return std::string(buf.begin(), buf.end());
}

double DecodeSeconds(const std::string& jpeg, int reps) {
  v1::Image image;
  image.set_encoded(jpeg);
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    const absl::Time start = absl::Now();
    auto rgb = DecodeImage(image, {});
    t.push_back(absl::ToDoubleSeconds(absl::Now() - start));
    if (!rgb.ok()) std::abort();
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// Decode-only throughput with one decoding thread per core: what the cores really achieve
// when they decode side by side (shared caches and memory bandwidth), as a check on the
// goal's idealised limit of cores / single-image decode time.
double ParallelDecodeImagesPerSecond(const std::string& jpeg, int per_thread) {
  v1::Image image;
  image.set_encoded(jpeg);
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < cores; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < per_thread; ++i) {
        if (!DecodeImage(image, {}).ok()) std::abort();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  return cores * per_thread / absl::ToDoubleSeconds(absl::Now() - start);
}

struct LoadResult {
  double p50_ms, p99_ms, rps;
  int errors;
  double client_cpu_share;  // Of the CPU time the whole process used during the run.
  double process_cpu_seconds_per_second;
};

double CpuSeconds(clockid_t clock) {
  timespec t;
  clock_gettime(clock, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

// Keeps `concurrency` calls in flight from a single completion-queue thread, so the load
// generator's own cost (it shares the 2 cores with the server) is one thread's work, not
// `concurrency` blocked threads waking up in turn.
LoadResult Load(int port, const v1::SegmentRequest& request, int concurrency, int total) {
  auto stub = v1::Segmentation::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
  struct Call {
    grpc::ClientContext context;
    v1::SegmentResponse response;
    grpc::Status status;
    absl::Time start;
    std::unique_ptr<grpc::ClientAsyncResponseReader<v1::SegmentResponse>> reader;
  };
  grpc::CompletionQueue cq;
  int started = 0, finished = 0, errors = 0;
  auto start_call = [&] {
    auto* call = new Call;
    call->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    call->start = absl::Now();
    call->reader = stub->AsyncSegment(&call->context, request, &cq);
    call->reader->Finish(&call->response, &call->status, call);
    ++started;
  };
  std::vector<double> latencies;
  const double process_cpu_start = CpuSeconds(CLOCK_PROCESS_CPUTIME_ID);
  const double client_cpu_start = CpuSeconds(CLOCK_THREAD_CPUTIME_ID);
  const absl::Time start = absl::Now();
  for (int i = 0; i < concurrency && started < total; ++i) start_call();
  void* tag;
  bool ok;
  while (finished < total && cq.Next(&tag, &ok)) {
    std::unique_ptr<Call> call(static_cast<Call*>(tag));
    latencies.push_back(absl::ToDoubleMilliseconds(absl::Now() - call->start));
    if (!ok || !call->status.ok()) ++errors;
    ++finished;
    if (started < total) start_call();
  }
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  const double client_cpu = CpuSeconds(CLOCK_THREAD_CPUTIME_ID) - client_cpu_start;
  const double process_cpu = CpuSeconds(CLOCK_PROCESS_CPUTIME_ID) - process_cpu_start;
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  std::sort(latencies.begin(), latencies.end());
  return {latencies[latencies.size() / 2], latencies[latencies.size() * 99 / 100],
          latencies.size() / seconds,      errors,
          client_cpu / process_cpu,        process_cpu / seconds};
}

int Main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 2000;
  ApplyServingProcessTuning();  // As server/main.cc does: measure what production runs.
  const std::string jpeg_vga = PhotoJpeg(640, 480), jpeg_hd = PhotoJpeg(1920, 1080);
  const double decode_vga = DecodeSeconds(jpeg_vga, 50), decode_hd = DecodeSeconds(jpeg_hd, 20);
  std::printf("JPEG decode 640x480:   %.2f ms (median of 50)\n", decode_vga * 1e3);
  std::printf("JPEG decode 1920x1080: %.2f ms (median of 20)\n", decode_hd * 1e3);
  const double parallel_vga = ParallelDecodeImagesPerSecond(jpeg_vga, 400);
  std::printf("JPEG decode 640x480 on every core at once: %.0f images/s\n", parallel_vga);

  auto config = ParseServerConfig(
      "listen_address: \"127.0.0.1:0\" metrics_address: \"none\" log_requests_off: true "
      "batching { max_batch_size: 8 max_queue_delay_us: 0 max_queue_size: 1024 "
      "buckets { width: 640 height: 480 } buckets { width: 64 height: 64 } } "
      "admin { checkpoint_dir: \"/tmp/ovseg-bench-ckpt\" }",
      "bench");
  if (!config.ok()) return std::fprintf(stderr, "%s\n", config.status().ToString().c_str()), 1;
  OvsegServerOptions o;
  o.config = *config;
  o.pipeline = std::make_shared<ZeroCostPipeline>();
  o.text_encoder = std::make_shared<testing::FakeTextEncoder>();
  o.request_log = nullptr;
  auto server = OvsegServer::Start(std::move(o));
  if (!server.ok() || !(*server)->WaitUntilServing(absl::Seconds(10))) return 1;
  const int port = (*server)->port();

  // Overhead excluding decode: a raw 64x64 RGB8 image at its own bucket.
  v1::SegmentRequest raw;
  raw.mutable_image()->mutable_raw_rgb8()->set_width(64);
  raw.mutable_image()->mutable_raw_rgb8()->set_height(64);
  raw.mutable_image()->mutable_raw_rgb8()->set_pixels(std::string(64 * 64 * 3, '\x40'));
  raw.mutable_labels()->add_labels()->set_name("cat");
  raw.mutable_labels()->add_labels()->set_name("dog");
  Load(port, raw, 8, 200);  // Warm the connection pool and caches.
  std::printf("\nserver overhead, zero-cost pipeline, raw 64x64 RGB8, queue delay 0:\n");
  for (int c : {1, 8, 64}) {
    const LoadResult r = Load(port, raw, c, n);
    std::printf("  concurrency %2d: p50 %.3f ms  p99 %.3f ms  %.0f req/s  errors %d\n", c, r.p50_ms,
                r.p99_ms, r.rps, r.errors);
  }

  v1::SegmentRequest vga = raw;
  vga.mutable_image()->set_encoded(jpeg_vga);
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const double limit = cores / decode_vga;
  const LoadResult r = Load(port, vga, 64, n);
  std::printf("\n640x480 JPEG, concurrency 64: %.0f req/s, p50 %.2f ms, p99 %.2f ms, errors %d\n",
              r.rps, r.p50_ms, r.p99_ms, r.errors);
  std::printf("decode-bound limit (%u cores / %.2f ms): %.0f req/s -> %.0f%% of the limit\n", cores,
              decode_vga * 1e3, limit, 100.0 * r.rps / limit);
  std::printf("against decoding on every core at once (%.0f images/s): %.0f%%\n", parallel_vga,
              100.0 * r.rps / parallel_vga);
  std::printf(
      "CPU busy %.2f of %u cores; load generator (in this process) %.0f%% of it; "
      "JPEG %zu bytes\n",
      r.process_cpu_seconds_per_second, cores, 100.0 * r.client_cpu_share, jpeg_vga.size());
  (*server)->Shutdown(absl::Seconds(5));
  return 0;
}

}  // namespace
}  // namespace ovseg

int main(int argc, char** argv) { return ovseg::Main(argc, argv); }
