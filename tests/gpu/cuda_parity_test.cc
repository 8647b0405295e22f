// The model paths on CUDA against their CPU results (ctest label `gpu`): CLIP in its three
// weight formats, deformable attention's sampling paths, Mask2Former (and its training
// steps), the FGAseg head, the serving pipeline, and the device-memory reading the server
// exports.
// fp32 must match the CPU within 1e-4 relative (TF32 off: it would cost ~3 digits); bf16
// on CUDA must stay at cosine >= 0.999 of fp32. Without a CUDA device every test skips
// with a message, so CI on CPU machines stays green.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdlib>
#include <optional>
#include <string>

#include "model/clip/clip_model.h"
#include "model/clip/clip_weights.h"
#include "model/fgaseg/fgaseg_head.h"
#include "model/mask2former/deformable_attention.h"
#include "model/mask2former/mask2former_generator.h"
#include "model/mask2former/mask2former_loss.h"
#include "model/runtime/torch_runtime.h"
#include "model/serving/fovseg_pipeline.h"
#include "tests/fakes/fake_pipeline_parts.h"
#include "tests/fakes/synthetic_shapes.h"
#include "tests/fakes/tiny_fgaseg_config.h"

namespace ovseg {
namespace {

using testing::TinyClassifier;

#define SKIP_WITHOUT_CUDA()                                                           \
  if (!torch::cuda::is_available()) {                                                 \
    GTEST_SKIP() << "no CUDA device in this process: the gpu tests run on a machine " \
                    "with one (scripts/gpu_bench.sh runs them first)";                \
  }                                                                                   \
  at::globalContext().setAllowTF32CuBLAS(false);                                      \
  at::globalContext().setAllowTF32CuDNN(false)

const torch::Device kCuda(torch::kCUDA, 0);

std::string SourceDir() {
  const char* root = std::getenv("OVSEG_SOURCE_DIR");
  return root ? root : ".";
}

// max |a - b| / max |b|, in fp32 on the CPU.
double RelativeError(const torch::Tensor& a, const torch::Tensor& b) {
  const torch::Tensor x = a.detach().to(torch::kCPU, torch::kFloat32);
  const torch::Tensor y = b.detach().to(torch::kCPU, torch::kFloat32);
  return (x - y).abs().max().item<double>() / std::max(y.abs().max().item<double>(), 1e-12);
}

double MinCosine(const torch::Tensor& a, const torch::Tensor& b) {
  return torch::cosine_similarity(a.detach().to(torch::kCPU, torch::kFloat32).flatten(1),
                                  b.detach().to(torch::kCPU, torch::kFloat32).flatten(1), 1)
      .min()
      .item<double>();
}

torch::Tensor Images(int64_t n, int64_t h, int64_t w) {
  return torch::sin(torch::arange(n * 3 * h * w, torch::kFloat32) * 0.0137).reshape({n, 3, h, w});
}

TEST(CudaParityTest, ClipInEveryWeightFormatMatchesTheCpu) {
  SKIP_WITHOUT_CUDA();
  const std::string dir = SourceDir() + "/tests/data/clip_tiny/";
  const torch::Tensor tokens =
      torch::tensor({49406, 320, 1929, 269, 49407, 0, 0, 0}, torch::kLong).view({1, 8});
  struct Format {
    std::string file;
    std::optional<bool> quick_gelu;
  };
  for (const Format& f : {Format{"openai.safetensors", true}, Format{"hf/model.safetensors", {}},
                          Format{"openai_fp16.pt", {}}}) {
    ClipLoadOptions options;
    if (f.quick_gelu) options.quick_gelu = *f.quick_gelu;
    absl::StatusOr<ClipModel> loaded = LoadClipModel(dir + f.file, options);
    ASSERT_TRUE(loaded.ok()) << f.file << ": " << loaded.status();
    ClipModel model = *loaded;
    torch::InferenceMode guard;
    const torch::Tensor cpu_text = model->EncodeText(tokens);
    const torch::Tensor cpu_image = model->EncodeImage(Images(2, 32, 32));
    model->to(kCuda);
    model->visual->ClearCache();
    const torch::Tensor text = model->EncodeText(tokens.to(kCuda));
    const torch::Tensor image = model->EncodeImage(Images(2, 32, 32).to(kCuda));
    EXPECT_TRUE(image.is_cuda());
    EXPECT_LE(RelativeError(text, cpu_text), 1e-4) << f.file;
    EXPECT_LE(RelativeError(image, cpu_image), 1e-4) << f.file;
    model->to(torch::kBFloat16);
    model->visual->ClearCache();
    EXPECT_GE(MinCosine(model->EncodeText(tokens.to(kCuda)), cpu_text), 0.999) << f.file;
    EXPECT_GE(
        MinCosine(model->EncodeImage(Images(2, 32, 32).to(kCuda, torch::kBFloat16)), cpu_image),
        0.999)
        << f.file;
  }
}

TEST(CudaParityTest, DeformableAttentionPathsMatchTheCpuInValueAndGradient) {
  SKIP_WITHOUT_CUDA();
  torch::manual_seed(6);
  const LevelShapes shapes = {{8, 12}, {4, 6}, {2, 3}};
  const torch::Tensor value0 = torch::randn({2, 96 + 24 + 6, 4, 8});
  const torch::Tensor locations = torch::rand({2, 10, 4, 3, 4, 2}) * 1.3 - 0.15;
  const torch::Tensor weights0 =
      torch::softmax(torch::randn({2, 10, 4, 12}), -1).view({2, 10, 4, 3, 4});
  const torch::Tensor reference = MultiScaleDeformableAttention(value0, shapes, locations, weights0,
                                                                DeformableSampling::kGridSample);
  for (DeformableSampling sampling :
       {DeformableSampling::kGridSample, DeformableSampling::kGather}) {
    torch::Tensor value = value0.to(kCuda).requires_grad_();
    const torch::Tensor out = MultiScaleDeformableAttention(value, shapes, locations.to(kCuda),
                                                            weights0.to(kCuda), sampling);
    EXPECT_LE(RelativeError(out, reference), 1e-4);
    out.sum().backward();
    ASSERT_TRUE(value.grad().defined());
    EXPECT_TRUE(value.grad().is_cuda());
  }
}

TEST(CudaParityTest, Mask2FormerMatchesTheCpuAndTrainsAStep) {
  SKIP_WITHOUT_CUDA();
  for (Mask2FormerConfig config :
       {Mask2FormerConfig::TinyResNet(), Mask2FormerConfig::TinySwin()}) {
    torch::manual_seed(2);
    Mask2Former model(config);
    model->eval();
    const torch::Tensor images = torch::randn({2, 3, 96, 128});
    torch::Tensor cpu_masks, cpu_logits;
    {
      torch::NoGradGuard no_grad;
      const MaskPrediction p = model->forward(images, false).back();
      cpu_masks = p.mask_logits;
      cpu_logits = p.class_logits;
      model->to(kCuda);
      const MaskPrediction g = model->forward(images.to(kCuda), false).back();
      EXPECT_LE(RelativeError(g.mask_logits, cpu_masks), 1e-4);
      EXPECT_LE(RelativeError(g.class_logits, cpu_logits), 1e-4);
    }
    // A few optimiser steps on CUDA: finite losses that fall, as on the CPU.
    model->train();
    torch::optim::AdamW optimiser(model->parameters(),
                                  torch::optim::AdamWOptions(1e-3).weight_decay(0.05));
    auto [shapes, targets] = testing::SyntheticShapes(4, 128);
    for (SegmentTargets& t : targets) {
      t.masks = t.masks.to(kCuda);
      t.labels = t.labels.to(kCuda);
    }
    Mask2FormerLossOptions options;
    options.num_points = 1024;
    at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(9);
    double first = 0, last = 0;
    for (int step = 0; step < 10; ++step) {
      optimiser.zero_grad();
      absl::StatusOr<Mask2FormerLosses> loss =
          ComputeMask2FormerLoss(model->forward(shapes.to(kCuda)), targets, options, generator);
      ASSERT_TRUE(loss.ok()) << loss.status();
      loss->total.backward();
      optimiser.step();
      (step == 0 ? first : last) = loss->total.item<double>();
    }
    EXPECT_TRUE(std::isfinite(last));
    EXPECT_LT(last, first) << config.Describe();
  }
}

TEST(CudaParityTest, FgaSegHeadMatchesTheCpu) {
  SKIP_WITHOUT_CUDA();
  torch::manual_seed(5);
  FgaSegHead head(testing::TinyFgaSegConfig());
  head->eval();
  const FgaSegConfig c = testing::TinyFgaSegConfig();
  FgaSegInputs in;
  in.dense = torch::randn({2, c.embed_dim, 8, 8});
  in.guidance = {torch::randn({2, c.clip_width, 8, 8}), torch::randn({2, c.clip_width, 8, 8})};
  in.classes = torch::randn({2, 5, c.embed_dim});
  in.class_valid = torch::ones({2, 5}, torch::kBool);
  torch::NoGradGuard no_grad;
  const FgaSegOutputs cpu = head->forward(in);
  head->to(kCuda);
  FgaSegInputs gpu_in = in;
  gpu_in.dense = in.dense.to(kCuda);
  gpu_in.guidance = {in.guidance[0].to(kCuda), in.guidance[1].to(kCuda)};
  gpu_in.classes = in.classes.to(kCuda);
  gpu_in.class_valid = in.class_valid.to(kCuda);
  const FgaSegOutputs gpu = head->forward(gpu_in);
  EXPECT_LE(RelativeError(gpu.logits, cpu.logits), 1e-4);
}

// The serving pipeline (generator proposals, TeVA classifier, crop ensemble, panoptic
// post-processing) gives the CPU's segments on CUDA.
TEST(CudaParityTest, ServingPipelineMatchesTheCpu) {
  SKIP_WITHOUT_CUDA();
  FovSegPipelineOptions options;
  options.max_proposals = 4;
  options.crop_ensemble_weight = 1.0;
  options.objectness_weight = 1.0;
  FovSegPipeline cpu(TinyClassifier(), torch::kCPU, PipelineInfo{},
                     std::make_shared<testing::FakeMaskGenerator>(6), options);
  MaskClassifier on_cuda = TinyClassifier();
  on_cuda->to(kCuda);
  FovSegPipeline gpu(on_cuda, kCuda, PipelineInfo{},
                     std::make_shared<testing::FakeMaskGenerator>(6), options);
  torch::manual_seed(3);
  auto vocabulary = std::make_shared<VocabularyEmbeddings>();
  vocabulary->num_labels = 3;
  vocabulary->dim = 32;
  const torch::Tensor e = torch::nn::functional::normalize(
      torch::randn({3, 32}), torch::nn::functional::NormalizeFuncOptions().dim(-1));
  vocabulary->data.assign(e.data_ptr<float>(), e.data_ptr<float>() + e.numel());
  ImageRgb8 image{64, 64, PixelBuffer(64 * 64 * 3, 90)};
  for (size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = static_cast<uint8_t>(i * 7);
  PipelineRequest request;
  request.image = &image;
  request.vocabulary = vocabulary;
  request.is_thing.assign(3, true);  // (an initializer list trips gcc 12's stringop check)
  request.is_thing[2] = false;
  request.task = SegmentTask::kPanoptic;
  request.params.score_threshold = 0.0f;
  request.params.max_segments = 100;
  const auto a = cpu.Run({request});
  const auto b = gpu.Run({request});
  ASSERT_TRUE(a[0].ok()) << a[0].status();
  ASSERT_TRUE(b[0].ok()) << b[0].status();
  ASSERT_EQ(a[0]->segments.size(), b[0]->segments.size());
  for (size_t i = 0; i < a[0]->segments.size(); ++i) {
    EXPECT_EQ(a[0]->segments[i].label_index, b[0]->segments[i].label_index) << i;
    EXPECT_NEAR(a[0]->segments[i].score, b[0]->segments[i].score, 1e-4) << i;
  }
  EXPECT_EQ(a[0]->segment_id_map, b[0]->segment_id_map);
}

TEST(CudaParityTest, DeviceMemoryIsReadFromTheCachingAllocator) {
  SKIP_WITHOUT_CUDA();
  const torch::Tensor held = torch::ones({64, 1024, 1024}, torch::TensorOptions(kCuda));  // 256 MiB
  const std::vector<DeviceMemory> memory = CudaDeviceMemory();
  ASSERT_FALSE(memory.empty());
  EXPECT_EQ(memory[0].device, 0);
  EXPECT_GE(memory[0].allocated, int64_t{256} << 20);
  EXPECT_GE(memory[0].reserved, memory[0].allocated);
  EXPECT_GE(memory[0].peak_allocated, memory[0].allocated);
  EXPECT_EQ(ResolveDevice("cuda").value_or(""), "cuda:0");
  EXPECT_TRUE(RunTorchSelfCheck("cuda:0").ok());
}

}  // namespace
}  // namespace ovseg
