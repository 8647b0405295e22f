#include "server/service/segment_processor.h"

#include <algorithm>
#include <cmath>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/retry_advice.h"
#include "server/common/process_tuning.h"
#include "server/encode/response_builder.h"
#include "server/image/region_decoder.h"

namespace ovseg {
namespace {

double Seconds(absl::Duration d) { return absl::ToDoubleSeconds(d); }

}  // namespace

absl::StatusOr<std::unique_ptr<SegmentProcessor>> SegmentProcessor::Create(
    const SegmentProcessorOptions& options, VocabularyCache* cache, ServerMetrics* metrics,
    Clock* clock) {
  if (options.buckets.empty()) return absl::InvalidArgumentError("no shape buckets");
  if (options.io_threads < 1) return absl::InvalidArgumentError("io_threads must be >= 1");
  if (options.vocabulary_threads < 1) {
    return absl::InvalidArgumentError("vocabulary_threads must be >= 1");
  }
  std::unique_ptr<SegmentProcessor> p(new SegmentProcessor(options, cache, metrics, clock));
  BatcherOptions batching = options.batching;
  // The model runs on the batch threads, and its compute pools (started by them) inherit
  // their policy. Whatever the process's cpu_scheduling, they keep the kernel default,
  // so that the threads of a parallel region run as soon as they are woken: under
  // SCHED_BATCH each would wait for a busy core's slice to end and hold up the rest
  // (measured: the demo model ~10% slower with clients on the same cores).
  // And at a lower priority than the I/O threads (kModelThreadNice): they must answer
  // refusals and feed the model while it keeps every core busy.
  batching.thread_init = [] {
    SetCurrentThreadCpuPolicy(CpuPolicy::kNormal).IgnoreError();
    EnterModelPriority();
  };
  absl::StatusOr<std::unique_ptr<Batcher<SegmentWork>>> batcher = Batcher<SegmentWork>::Create(
      batching, clock, [raw = p.get()](std::vector<std::unique_ptr<SegmentWork>> batch) {
        raw->ProcessBatch(std::move(batch));
      });
  if (!batcher.ok()) return batcher.status();
  p->batcher_ = std::move(*batcher);
  return p;
}

SegmentProcessor::SegmentProcessor(const SegmentProcessorOptions& options, VocabularyCache* cache,
                                   ServerMetrics* metrics, Clock* clock)
    : options_(options),
      cache_(cache),
      metrics_(metrics),
      clock_(clock),
      io_pool_(std::make_unique<ThreadPool>(options.io_threads, /*max_queue=*/0, "ovseg-io")),
      vocabulary_pool_(std::make_unique<ThreadPool>(options.vocabulary_threads, /*max_queue=*/0,
                                                    "ovseg-vocab", EnterModelPriority)),
      wait_(options.batching.max_batch_size, options.batching.num_batch_threads) {}

SegmentProcessor::~SegmentProcessor() { Shutdown(); }

void SegmentProcessor::Shutdown() {
  if (batcher_) batcher_->Shutdown();
  // The batch threads are joined: nothing schedules encodes any more, so the I/O pool can
  // finish what it holds and stop; its decodes may still hand work to the vocabulary
  // pool, which stops last. Work they still hold is refused by the stopped batcher.
  io_pool_.reset();
  vocabulary_pool_.reset();
}

size_t SegmentProcessor::queue_depth() const {
  return preparing_.load() + (batcher_ ? batcher_->queue_size() : 0);
}

absl::Status SegmentProcessor::Submit(std::unique_ptr<SegmentWork>& work) {
  if (work->servable == nullptr) return absl::InternalError("request admitted without a model");
  // The request takes its place in line first and is judged by that place: requests
  // arriving together each see the others ahead of them, so they cannot all be admitted
  // on the same short estimate. Refused, it leaves its place again.
  const size_t ahead = preparing_.fetch_add(1) + (batcher_ ? batcher_->queue_size() : 0);
  auto refuse = [this](absl::Status status) {
    preparing_.fetch_sub(1);
    return status;
  };
  // Requests being decoded count against the same bound as those waiting for the model,
  // so overload is refused at the door instead of piling up in front of the decoder.
  const size_t limit = static_cast<size_t>(options_.batching.max_queue_size);
  if (ahead >= limit) {
    // Advice: when the requests beyond the bound will have been computed.
    return refuse(WithRetryAfter(
        absl::ResourceExhaustedError(absl::StrCat(
            "queue full: ", ahead, " requests waiting (batching.max_queue_size = ", limit, ")")),
        absl::Seconds(wait_.EstimateSeconds(ahead + 1 - limit, clock_->Now()))));
  }
  if (!io_pool_) return refuse(absl::UnavailableError("server is shutting down"));
  // Deadline-aware admission: refuse now what could only fail later. A request that finds
  // the server idle is always admitted: the estimate comes from batches measured earlier,
  // perhaps under other load (a swap's warm-up, another process), and only batches that
  // run can correct it; refusing on it while idle would refuse forever.
  const bool idle = ahead == 0 && wait_.Idle();
  const double wait = idle ? 0 : wait_.EstimateSeconds(ahead, clock_->Now());
  // Each refusal advises a retry once the work ahead has drained enough to admit it
  // (common/retry_advice.h): clients that retry at once only add refusals.
  if (options_.max_queue_seconds > 0 && wait > options_.max_queue_seconds) {
    return refuse(WithRetryAfter(
        absl::ResourceExhaustedError(absl::StrFormat(
            "server busy: an estimated %.2f s wait for the model (%d requests ahead) exceeds "
            "batching.max_queue_seconds = %g; retry later",
            wait, ahead, options_.max_queue_seconds)),
        absl::Seconds(wait - options_.max_queue_seconds)));
  }
  // Its own decoding and encoding must fit before the deadline too.
  const double needed = idle ? 0 : wait + wait_.OverheadSeconds();
  const double left = absl::ToDoubleSeconds(work->deadline() - clock_->Now());
  if (needed > left) {
    return refuse(WithRetryAfter(
        absl::DeadlineExceededError(absl::StrFormat(
            "cannot finish before its deadline: an estimated %.2f s wait for the model (%d "
            "requests ahead) and %.2f s to decode and encode, %.2f s left; refused without "
            "queueing",
            wait, ahead, needed - wait, std::max(0.0, left))),
        absl::Seconds(needed - std::max(0.0, left))));
  }
  work->admitted_on_idle_model = idle;
  SegmentWork* raw = work.release();
  if (!io_pool_->TrySchedule([this, raw] { Decode(std::unique_ptr<SegmentWork>(raw)); })) {
    work.reset(raw);
    return refuse(absl::UnavailableError("server is shutting down"));
  }
  return absl::OkStatus();
}

void SegmentProcessor::FailPreparing(std::unique_ptr<SegmentWork> work,
                                     const absl::Status& status) {
  preparing_.fetch_sub(1);
  work->Fail(status);
}

void SegmentProcessor::Decode(std::unique_ptr<SegmentWork> work) {
  if (work->IsCancelled())
    return FailPreparing(std::move(work), absl::CancelledError("cancelled before decode"));
  if (clock_->Now() >= work->deadline())
    return FailPreparing(std::move(work),
                         absl::DeadlineExceededError("deadline expired before decode"));
  const absl::Time start = clock_->Now();
  absl::StatusOr<ImageRgb8> rgb = DecodeImage(work->request->image(), options_.image_limits);
  if (!rgb.ok()) return FailPreparing(std::move(work), rgb.status());
  work->image_width = rgb->width;
  work->image_height = rgb->height;
  const ShapeBucket& bucket = ChooseBucket(rgb->width, rgb->height, options_.buckets);
  work->bucket_name = bucket.name();
  work->placement = PlaceInBucket(rgb->width, rgb->height, bucket);
  work->model_image = ResizeToBucket(*std::move(rgb), bucket);
  if (work->request->regions_size() > 0) {
    absl::StatusOr<RegionMasks> regions =
        DecodeRegions(work->request->regions(), work->image_width, work->image_height, bucket);
    if (!regions.ok()) return FailPreparing(std::move(work), regions.status());
    work->regions = *std::move(regions);
  }
  work->decode_seconds = Seconds(clock_->Now() - start);
  metrics_->ObserveStage(Stage::kDecode, work->decode_seconds);
  // A cached vocabulary costs a lookup; a cold one goes to the vocabulary thread, so that
  // its encoding holds up neither this I/O thread nor any batch.
  const absl::Time vocab_start = clock_->Now();
  work->vocabulary = cache_->Find(*work->labels, work->servable->text_encoder());
  if (work->vocabulary != nullptr) {
    work->vocabulary_seconds = Seconds(clock_->Now() - vocab_start);
    metrics_->ObserveStage(Stage::kVocabulary, work->vocabulary_seconds);
    return Enqueue(std::move(work));
  }
  SegmentWork* raw = work.release();
  if (!vocabulary_pool_->TrySchedule(
          [this, raw] { EncodeVocabulary(std::unique_ptr<SegmentWork>(raw)); })) {
    FailPreparing(std::unique_ptr<SegmentWork>(raw),
                  absl::UnavailableError("server is shutting down"));
  }
}

void SegmentProcessor::EncodeVocabulary(std::unique_ptr<SegmentWork> work) {
  if (work->IsCancelled())
    return FailPreparing(
        std::move(work),
        absl::CancelledError("cancelled while its vocabulary waited to be encoded"));
  const absl::Time start = clock_->Now();
  absl::StatusOr<std::shared_ptr<const VocabularyEmbeddings>> vocabulary =
      cache_->Get(*work->labels, work->servable->text_encoder());
  work->vocabulary_seconds = Seconds(clock_->Now() - start);
  metrics_->ObserveStage(Stage::kVocabulary, work->vocabulary_seconds);
  if (!vocabulary.ok()) return FailPreparing(std::move(work), vocabulary.status());
  work->vocabulary = *std::move(vocabulary);
  Enqueue(std::move(work));
}

void SegmentProcessor::Enqueue(std::unique_ptr<SegmentWork> work) {
  work->enqueued = clock_->Now();
  absl::Status s = batcher_->Schedule(work);
  preparing_.fetch_sub(1);  // After Schedule: the batcher counts it now.
  if (!s.ok()) work->Fail(s);
}

void SegmentProcessor::ProcessBatch(std::vector<std::unique_ptr<SegmentWork>> batch) {
  const absl::Time formed = clock_->Now();
  for (auto& work : batch) {
    work->queue_seconds = Seconds(formed - work->enqueued);
    metrics_->ObserveStage(Stage::kQueue, work->queue_seconds);
  }
  // A request whose deadline comes before its batch is even typically done cannot be
  // answered in time: it is answered now (its client would see DEADLINE_EXCEEDED at its
  // deadline anyway), and the batch computes for the others only, sooner. Admission
  // costed its wait pessimistically; a batch that ran long ahead of it (a busy machine)
  // still leaves it here with too little time. Not a request admitted on an idle model:
  // it was admitted without trusting the estimate (which may be stale), and running it
  // is what corrects the estimate.
  if (const double typical = wait_.TypicalBatchSeconds(static_cast<int>(batch.size()));
      typical > 0) {
    std::vector<std::unique_ptr<SegmentWork>> in_time;
    for (auto& work : batch) {
      const double left = Seconds(work->deadline() - formed);
      if (left >= typical || work->admitted_on_idle_model) {
        in_time.push_back(std::move(work));
        continue;
      }
      work->Fail(absl::DeadlineExceededError(absl::StrFormat(
          "would finish after its deadline: %.3f s left when its batch formed, which takes "
          "%.3f s on average (queued %.3f s)",
          left, typical, work->queue_seconds)));
    }
    batch = std::move(in_time);
    if (batch.empty()) return;
  }
  metrics_->ObserveBatchSize(static_cast<int>(batch.size()));
  // Requests admitted on both sides of a swap may share a batch: each part runs on its
  // own version (rarely more than one part).
  while (!batch.empty()) {
    const ServableSnapshot servable = batch.front()->servable;
    std::vector<std::unique_ptr<SegmentWork>> part, rest;
    for (auto& work : batch) {
      (work->servable == servable ? part : rest).push_back(std::move(work));
    }
    RunOn(*servable, std::move(part));
    batch = std::move(rest);
  }
  trimmer_.MaybeTrim();
}

void SegmentProcessor::RunOn(const Servable& servable,
                             std::vector<std::unique_ptr<SegmentWork>> works) {
  std::vector<PipelineRequest> requests;
  requests.reserve(works.size());
  for (auto& work : works) {
    PipelineRequest r;
    r.image = &work->model_image;
    r.content_width = work->placement.width;
    r.content_height = work->placement.height;
    if (work->regions.count > 0) r.regions = &work->regions;
    r.vocabulary = work->vocabulary;
    r.task = work->task;
    r.head_mode = work->head_mode;
    r.params = work->params;
    r.is_thing.reserve(work->labels->size());
    r.label_keys.reserve(work->labels->size());
    for (const ParsedLabel& l : *work->labels) {
      r.is_thing.push_back(l.is_thing);
      r.label_keys.push_back(l.key);
    }
    requests.push_back(std::move(r));
  }
  const int size = static_cast<int>(works.size());
  const absl::Time compute_start = clock_->Now();
  wait_.BatchStarted(size, compute_start);
  std::vector<absl::StatusOr<PipelineResult>> results = servable.pipeline().Run(requests);
  const double compute = Seconds(clock_->Now() - compute_start);
  wait_.RecordBatch(compute, size);
  requests.clear();
  for (auto& work : works) work->ReleaseModelInputs();
  metrics_->ObserveStage(Stage::kCompute, compute);
  for (size_t i = 0; i < works.size(); ++i) {
    works[i]->compute_seconds = compute;
    absl::StatusOr<PipelineResult> result =
        i < results.size()
            ? std::move(results[i])
            : absl::StatusOr<PipelineResult>(absl::InternalError(absl::StrCat(
                  "pipeline returned ", results.size(), " results for ", works.size())));
    // Encoding runs on the I/O pool so the batch thread can start the next batch.
    auto* raw = works[i].release();
    auto shared_result = std::make_shared<absl::StatusOr<PipelineResult>>(std::move(result));
    if (!io_pool_ || !io_pool_->TrySchedule([this, raw, shared_result] {
          Encode(std::unique_ptr<SegmentWork>(raw), std::move(*shared_result));
        })) {
      Encode(std::unique_ptr<SegmentWork>(raw), std::move(*shared_result));
    }
  }
}

void SegmentProcessor::Encode(std::unique_ptr<SegmentWork> work,
                              absl::StatusOr<PipelineResult> result) {
  if (!result.ok()) return work->Fail(result.status());
  const absl::Time start = clock_->Now();
  const v1::SegmentOptions& o = work->request->options();
  ResponseOptions ro;
  ro.image_width = work->image_width;
  ro.image_height = work->image_height;
  ro.mask_format = o.mask_format() == v1::MASK_FORMAT_UNSPECIFIED ? options_.default_mask_format
                                                                  : o.mask_format();
  ro.semantic_map = o.return_semantic_map();
  ro.score_threshold = work->params.score_threshold;
  ro.max_segments = work->params.max_segments;
  ro.label_names.reserve(work->labels->size());
  for (const ParsedLabel& l : *work->labels) ro.label_names.push_back(l.display_name);
  v1::SegmentResponse* response = work->response;
  if (absl::Status s = BuildResponse(*result, ro, response); !s.ok()) return work->Fail(s);
  response->set_model_version(work->servable->version());
  response->set_image_width(work->image_width);
  response->set_image_height(work->image_height);
  response->set_bucket(work->bucket_name);
  const double encode = Seconds(clock_->Now() - start);
  metrics_->ObserveStage(Stage::kEncode, encode);
  v1::StageTimings* t = response->mutable_timings();
  t->set_decode_seconds(work->decode_seconds);
  t->set_queue_seconds(work->queue_seconds);
  t->set_vocabulary_seconds(work->vocabulary_seconds);
  t->set_compute_seconds(work->compute_seconds);
  t->set_encode_seconds(encode);
  t->set_total_seconds(Seconds(clock_->Now() - work->arrival));
  wait_.RecordOverhead(work->decode_seconds + encode);
  work->done(absl::OkStatus());
}

absl::Status SegmentProcessor::WarmUp(const Servable& servable) {
  TextEncoder& text_encoder = servable.text_encoder();
  absl::StatusOr<std::vector<float>> embedding = text_encoder.Encode({"a photo of a object."});
  if (!embedding.ok()) return embedding.status();
  auto vocab = std::make_shared<VocabularyEmbeddings>();
  vocab->num_labels = 1;
  vocab->dim = text_encoder.EmbeddingDim();
  if (embedding->size() != static_cast<size_t>(vocab->dim)) {
    return absl::InternalError(absl::StrCat("warm-up: the text encoder returned ",
                                            embedding->size(), " floats for one prompt"));
  }
  double norm = 0;
  for (float v : *embedding) norm += static_cast<double>(v) * v;
  norm = std::sqrt(std::max(norm, 1e-24));
  for (float v : *embedding) vocab->data.push_back(static_cast<float>(v / norm));
  SegmentationPipeline& pipeline = servable.pipeline();
  // One call of a lone request at `bucket`'s shape; its seconds.
  auto call_once = [&](const ShapeBucket& bucket) -> absl::StatusOr<double> {
    ImageRgb8 image;
    image.width = bucket.width;
    image.height = bucket.height;
    image.pixels.assign(static_cast<size_t>(bucket.width) * bucket.height * 3, 127);
    // A model without a mask generator classifies client regions only: warm it up with one
    // region over the whole image. A model with a generator warms up its own proposals.
    RegionMasks whole;
    whole.count = 1;
    whole.width = bucket.width;
    whole.height = bucket.height;
    whole.data.assign(static_cast<size_t>(bucket.width) * bucket.height, 1);
    PipelineRequest r;
    r.image = &image;
    if (!pipeline.Info().generates_masks) r.regions = &whole;
    r.vocabulary = vocab;
    r.is_thing = {true};
    const absl::Time start = clock_->Now();
    std::vector<absl::StatusOr<PipelineResult>> out = pipeline.Run({r});
    const double seconds = Seconds(clock_->Now() - start);
    if (out.size() != 1 || !out[0].ok()) {
      return absl::InternalError(
          absl::StrCat("warm-up at ", bucket.name(),
                       " failed: ", out.empty() ? "no result" : out[0].status().ToString()));
    }
    return seconds;
  };
  // The fastest warm-up call is what admission starts from (WaitEstimator::SeedBatch): the
  // first bucket's pays for the model's first use.
  double fastest = 0;
  const ShapeBucket* fastest_bucket = nullptr;
  for (const ShapeBucket& bucket : options_.buckets) {
    absl::StatusOr<double> seconds = call_once(bucket);
    if (!seconds.ok()) return seconds.status();
    if (fastest == 0 || *seconds < fastest) {
      fastest = *seconds;
      fastest_bucket = &bucket;
    }
  }
  // With several batch threads the first requests of a burst run side by side, and a
  // call that shares the cores is slower than one alone (the soaks of session 23 on the
  // reference machine's two hyperthreads: a lone call at 384x192 took a median 0.28 s
  // with the machine to itself, 0.49 s beside another; 1.6-1.8x at every bucket). Seeded
  // with the time alone, admission let a fresh server's first burst in on half the truth
  // and refused those requests when their batch formed. So while nothing is measured yet
  // (the first version to load; a later version's seed would not be taken anyway), one
  // call per batch thread is also timed all at once, and the slowest is the seed.
  const int threads = options_.batching.num_batch_threads;
  if (fastest > 0 && threads > 1 && !wait_.HasMeasurement()) {
    std::vector<absl::StatusOr<double>> side_by_side(threads, 0.0);
    std::vector<std::thread> callers;
    for (int i = 0; i < threads; ++i) {
      callers.emplace_back([&, i] { side_by_side[i] = call_once(*fastest_bucket); });
    }
    for (std::thread& t : callers) t.join();
    for (const absl::StatusOr<double>& seconds : side_by_side) {
      if (!seconds.ok()) return seconds.status();
      fastest = std::max(fastest, *seconds);
    }
  }
  if (fastest > 0) wait_.SeedBatch(fastest, 1);
  return absl::OkStatus();
}

}  // namespace ovseg
