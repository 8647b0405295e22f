// ovseg-train end to end on a tiny synthetic world and a tiny random CLIP: a few steps
// run, the log holds every step's scalars, the checkpoint it writes is one a server on the
// same CLIP accepts (and holds only trained tensors), and a resumed run continues from
// the saved step.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "datasets/synth/synth_dataset.h"
#include "model/clip/clip_weights.h"
#include "model/serving/fovseg_checkpoint.h"
#include "model/serving/model_factory.h"
#include "tests/fakes/tiny_clip_file.h"

namespace ovseg {
namespace {

namespace fs = std::filesystem;

// A fresh root holding a synthetic world of 8 small training images and `num_val`
// validation ones; returns the world's directory.
absl::StatusOr<std::string> WriteTinyWorld(const std::string& root, int num_val) {
  fs::remove_all(root);
  SynthDatasetOptions synth;
  synth.out_dir = root + "/world";
  synth.num_train = 8;
  synth.num_val = num_val;
  synth.scene.min_size = 64;
  synth.scene.max_size = 96;
  if (absl::Status s = WriteSynthDataset(synth); !s.ok()) return s;
  return synth.out_dir;
}

std::string TrainConfigText(const std::string& world, const std::string& clip,
                            const std::string& out, int steps, bool resume, double gate) {
  return "model { preset: \"fovseg-tiny\" clip_weights: \"" + clip +
         "\" clip_quick_gelu: true }\n"
         "data { train_json: \"" +
         world + "/train/panoptic.json\" train_images: \"" + world +
         "/train/images\" train_panoptic: \"" + world + "/train/panoptic\" crop: 64 " +
         "val_json: \"" + world + "/val/panoptic.json\" val_images: \"" + world +
         "/val/images\" val_panoptic: \"" + world +
         "/val/panoptic\" }\n"
         "eval_images: 2\n"
         "submit { drop_dir: \"" +
         out + "/drop\" min_value: " + std::to_string(gate) +
         " }\n"
         "optimizer { steps: " +
         std::to_string(steps) +
         " warmup_steps: 1 batch_size: 2 lr: 0.001 }\n"
         "loss { min_classes_per_image: 3 max_classes_per_image: 6 void_weight: 0.1 }\n"
         "dense_head: true\n"
         "out_dir: \"" +
         out + "\"\n" + (resume ? "resume: true\n" : "") + "log_every: 1\n";
}

TEST(TrainJobTest, TrainsWritesAServableCheckpointAndResumes) {
  const std::string root = ::testing::TempDir() + "/train_job";
  const absl::StatusOr<std::string> world_dir = WriteTinyWorld(root, 3);
  ASSERT_TRUE(world_dir.ok()) << world_dir.status();
  const std::string clip = testing::WriteTinyClip();
  const std::string out = root + "/out";
  fs::create_directories(out + "/drop");
  std::ofstream(root + "/train.pbtxt") << TrainConfigText(*world_dir, clip, out, 3, false, 0);
  const std::string command = std::string(OVSEG_TRAIN_BINARY) + " --config " + root +
                              "/train.pbtxt 2> " + root + "/stderr.txt";
  ASSERT_EQ(std::system(command.c_str()), 0) << std::ifstream(root + "/stderr.txt").rdbuf();
  std::ifstream log(out + "/train_log.jsonl");
  int lines = 0;
  for (std::string line; std::getline(log, line);) {
    const nlohmann::json j = nlohmann::json::parse(line);
    if (j.contains("eval")) {  // the validation line
      EXPECT_EQ(j["step"], 3);
      EXPECT_TRUE(j.contains("PQ_seen") && j.contains("PQ_unseen")) << j;
      continue;
    }
    ++lines;
    EXPECT_EQ(j["step"], lines);
    for (const char* key : {"loss", "ce", "fiser", "dense", "lr", "grad_norm"}) {
      EXPECT_TRUE(j.contains(key)) << key;
    }
  }
  EXPECT_EQ(lines, 3);

  // A server on the same CLIP serves the checkpoint, with its dense head.
  const std::string checkpoint = out + "/fovseg-step3.safetensors";
  v1::ModelConfig serving;
  serving.set_preset("fovseg-tiny");
  serving.set_clip_weights(clip);
  serving.set_clip_quick_gelu(true);
  serving.set_checkpoint(checkpoint);
  absl::StatusOr<ServingModel> model = CreateServingModel(serving);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->pipeline->Info().model_version, "fovseg-step3@step3");
  EXPECT_EQ(model->pipeline->Info().head_modes.size(), 3u);
  // The training's templates travel with the model, for the server's mismatch warning.
  EXPECT_EQ(model->training_prompt_templates, std::vector<std::string>{"a photo of a {}."});
  absl::StatusOr<Checkpoint> opened = OpenCheckpoint(checkpoint);
  ASSERT_TRUE(opened.ok());
  EXPECT_FALSE(opened->metadata.training_vocabulary.empty());
  EXPECT_NE(opened->metadata.eval_metrics_json.find("\"PQ\""), std::string::npos);
  // It passed the gate (min 0): dropped for watching servers, marker last, with its digest.
  EXPECT_TRUE(fs::exists(out + "/drop/fovseg-step3.safetensors"));
  std::ifstream marker(out + "/drop/fovseg-step3.safetensors.done");
  std::string digest;
  marker >> digest;
  EXPECT_EQ(digest.size(), 64u);

  // Resume to step 5: two more lines, starting at 4.
  // (with a gate no model passes: nothing more is dropped)
  std::ofstream(root + "/train.pbtxt") << TrainConfigText(*world_dir, clip, out, 5, true, 101);
  ASSERT_EQ(std::system(command.c_str()), 0) << std::ifstream(root + "/stderr.txt").rdbuf();
  std::ifstream stderr_text(root + "/stderr.txt");
  const std::string messages((std::istreambuf_iterator<char>(stderr_text)), {});
  EXPECT_NE(messages.find("resumed at step 3"), std::string::npos) << messages;
  EXPECT_TRUE(fs::exists(out + "/fovseg-step5.safetensors"));
  EXPECT_FALSE(fs::exists(out + "/drop/fovseg-step5.safetensors"));
  EXPECT_NE(messages.find("not submitted: PQ below 101"), std::string::npos) << messages;

  // A bad config is a message naming the field, exit 2.
  std::ofstream(root + "/bad.pbtxt") << "model { preset: \"x\" }\n";
  const std::string bad = std::string(OVSEG_TRAIN_BINARY) + " --config " + root + "/bad.pbtxt 2> " +
                          root + "/stderr.txt";
  EXPECT_EQ(WEXITSTATUS(std::system(bad.c_str())), 2);
  std::ifstream bad_text(root + "/stderr.txt");
  const std::string bad_message((std::istreambuf_iterator<char>(bad_text)), {});
  EXPECT_NE(bad_message.find("out_dir is required"), std::string::npos) << bad_message;

  // The shipped example config parses; without base weights it stops, saying which.
  const char* source = std::getenv("OVSEG_SOURCE_DIR");
  const std::string shipped = std::string(OVSEG_TRAIN_BINARY) + " --config " +
                              std::string(source ? source : ".") +
                              "/configs/train_fovseg_synth.pbtxt 2> " + root + "/stderr.txt";
  EXPECT_EQ(WEXITSTATUS(std::system(shipped.c_str())), 1);
  std::ifstream shipped_text(root + "/stderr.txt");
  const std::string shipped_message((std::istreambuf_iterator<char>(shipped_text)), {});
  EXPECT_NE(shipped_message.find("model.clip_weights"), std::string::npos) << shipped_message;
}

// The fovseg stage on oracle proposals, FiSeR and the dense head on, per-image class sets
// (so ranks must draw the same sets as one process), no validation: what the
// data-parallel test trains.
std::string DataParallelConfigText(const std::string& world, const std::string& clip,
                                   const std::string& out, int grad_accumulation,
                                   const std::string& extra = "") {
  return "model { preset: \"fovseg-tiny\" clip_weights: \"" + clip +
         "\" clip_quick_gelu: true }\n"
         "data { train_json: \"" +
         world + "/train/panoptic.json\" train_images: \"" + world +
         "/train/images\" train_panoptic: \"" + world + "/train/panoptic\" crop: 64 }\n" +
         "optimizer { steps: 3 warmup_steps: 1 batch_size: 2 lr: 0.001 grad_accumulation: " +
         std::to_string(grad_accumulation) +
         " }\nloss { min_classes_per_image: 2 max_classes_per_image: 4 }\n"
         "dense_head: true\nout_dir: \"" +
         out + "\"\n" + extra;
}

// A TCP port nothing listens on now (the kernel's pick for port 0).
int UnusedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t size = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &size);
  close(fd);
  return ntohs(addr.sin_port);
}

// Runs ovseg-train as ranks 0 and 1 of a 2-process job on loopback, each with its own
// config and stderr file; returns both exit statuses (rank 0's, rank 1's).
std::pair<int, int> RunTwoRanks(const std::string& config0, const std::string& config1,
                                const std::string& stderr_prefix) {
  const std::string env = "OMP_NUM_THREADS=1 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=" +
                          std::to_string(UnusedPort());
  const std::string binary = OVSEG_TRAIN_BINARY;
  const std::string script = "(" + env + " RANK=0 " + binary + " --config " + config0 + " 2> " +
                             stderr_prefix + "0.txt; echo $? > " + stderr_prefix + "0.rc) & " +
                             "(" + env + " JOB_COMPLETION_INDEX=1 " + binary + " --config " +
                             config1 + " 2> " + stderr_prefix + "1.txt; echo $? > " +
                             stderr_prefix + "1.rc) & wait";
  std::system(("bash -c '" + script + "'").c_str());
  int rc0 = -1, rc1 = -1;
  std::ifstream(stderr_prefix + "0.rc") >> rc0;
  std::ifstream(stderr_prefix + "1.rc") >> rc1;
  return {rc0, rc1};
}

std::string FileText(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

// Two ranks of batch 2 train exactly as one process accumulating two micro-batches of 2:
// the checkpoints match tensor for tensor. Rank 1 writes nothing; the chief logs each step
// once. A rank whose out_dir is not rank 0's, or a launch environment missing a variable,
// stops with a message naming the problem.
TEST(TrainJobTest, TwoDataParallelRanksEqualOneProcessAccumulating) {
  const std::string root = ::testing::TempDir() + "/train_job_dp";
  const absl::StatusOr<std::string> world_dir = WriteTinyWorld(root, 1);
  ASSERT_TRUE(world_dir.ok()) << world_dir.status();
  const std::string clip = testing::WriteTinyClip();

  // With TeVA, and without it (its tensors then get no gradient on any rank and must stay
  // untouched, not decayed under zeros).
  for (const std::string variant : {"teva", "no_teva"}) {
    SCOPED_TRACE(variant);
    const std::string extra = variant == "no_teva" ? "teva: false\n" : "";
    const std::string single = root + "/single_" + variant;
    std::ofstream(single + ".pbtxt") << DataParallelConfigText(*world_dir, clip, single, 2, extra);
    const std::string command = "OMP_NUM_THREADS=1 " + std::string(OVSEG_TRAIN_BINARY) +
                                " --config " + single + ".pbtxt 2> " + single + ".txt";
    ASSERT_EQ(std::system(command.c_str()), 0) << FileText(single + ".txt");

    const std::string parallel = root + "/parallel_" + variant;
    std::ofstream(parallel + ".pbtxt")
        << DataParallelConfigText(*world_dir, clip, parallel, 1, extra);
    const auto [rc0, rc1] = RunTwoRanks(parallel + ".pbtxt", parallel + ".pbtxt", parallel);
    ASSERT_EQ(rc0, 0) << FileText(parallel + "0.txt");
    ASSERT_EQ(rc1, 0) << FileText(parallel + "1.txt");
    EXPECT_NE(FileText(parallel + "1.txt").find("data-parallel rank 1 of 2"), std::string::npos);

    absl::StatusOr<Checkpoint> one = OpenCheckpoint(single + "/fovseg-step3.safetensors");
    absl::StatusOr<Checkpoint> two = OpenCheckpoint(parallel + "/fovseg-step3.safetensors");
    ASSERT_TRUE(one.ok()) << one.status();
    ASSERT_TRUE(two.ok()) << two.status();
    const std::vector<std::string> names = one->file->Names();
    ASSERT_EQ(names, two->file->Names());
    int compared = 0;
    for (const std::string& name : names) {
      absl::StatusOr<torch::Tensor> a = one->file->Get(name);
      absl::StatusOr<torch::Tensor> b = two->file->Get(name);
      ASSERT_TRUE(a.ok() && b.ok()) << name;
      EXPECT_TRUE(torch::allclose(*a, *b, /*rtol=*/1e-5, /*atol=*/1e-6))
          << name << ": max difference " << (*a - *b).abs().max().item<double>();
      ++compared;
    }
    EXPECT_GT(compared, 10);
    // Gradients flowed (so equal results are not two untouched starts), and the chief
    // alone logged, once per step.
    int log_lines = 0;
    std::ifstream log(parallel + "/train_log.jsonl");
    for (std::string line; std::getline(log, line);) {
      ++log_lines;
      EXPECT_GT(nlohmann::json::parse(line)["grad_norm"].get<double>(), 0) << line;
    }
    EXPECT_EQ(log_lines, 3);
  }

  // Rank 1 pointed at another directory: both ranks stop, naming out_dir.
  std::ofstream(root + "/elsewhere.pbtxt")
      << DataParallelConfigText(*world_dir, clip, root + "/elsewhere", 1);
  const auto [bad0, bad1] =
      RunTwoRanks(root + "/parallel_teva.pbtxt", root + "/elsewhere.pbtxt", root + "/unshared");
  EXPECT_NE(bad0, 0);
  EXPECT_NE(bad1, 0);
  EXPECT_NE(FileText(root + "/unshared1.txt").find("is not one directory shared"),
            std::string::npos)
      << FileText(root + "/unshared1.txt");

  // A launch environment without MASTER_ADDR: exit 2, naming it.
  const std::string no_master = "WORLD_SIZE=2 RANK=0 " + std::string(OVSEG_TRAIN_BINARY) +
                                " --config " + root + "/parallel_teva.pbtxt 2> " + root +
                                "/env.txt";
  EXPECT_EQ(WEXITSTATUS(std::system(no_master.c_str())), 2);
  EXPECT_NE(FileText(root + "/env.txt").find("MASTER_ADDR"), std::string::npos)
      << FileText(root + "/env.txt");
}

// Every stage from nothing, as the demo model is made (configs/train_demo.pbtxt), at toy
// sizes and under bf16 autocast: CLIP pretraining writes an OpenAI-layout GELU CLIP, the
// generator stage a HuggingFace-layout Mask2Former, and the fovseg stage a checkpoint on
// both; a server built from the three files serves with the generator and the dense head.
TEST(TrainJobTest, EveryStageFromNothingMakesAServableModel) {
  const std::string root = ::testing::TempDir() + "/train_stages";
  const absl::StatusOr<std::string> world_dir = WriteTinyWorld(root, 2);
  ASSERT_TRUE(world_dir.ok()) << world_dir.status();
  const std::string world = *world_dir, out = root + "/out";
  auto config_text = [&](const std::string& out_dir) {
    std::ostringstream text;
    text << "stages: \"clip_pretrain\" stages: \"generator\" stages: \"fovseg\"\n"
            "model { preset: \"synth-toy\" }\n"
            "autocast: \"bf16\"\n"
            "data { train_json: \""
         << world << "/train/panoptic.json\" train_images: \"" << world
         << "/train/images\" train_panoptic: \"" << world
         << "/train/panoptic\" crop: 64 }\n"
            "clip_pretrain { captions_json: \""
         << world << "/train/captions.json\" images: \"" << world
         << "/train/images\" image_size: 32 patch_size: 16 vision_width: 64 "
            "vision_layers: 3 text_width: 64 text_layers: 1 context_length: 24 embed_dim: 32 "
            "steps: 3 batch_size: 4 }\n"
            "generator { crop: 64 steps: 2 batch_size: 2 }\n"
            "optimizer { steps: 2 warmup_steps: 1 batch_size: 2 }\n"
            "dense_head: true\n"
            "out_dir: \""
         << out_dir << "\"\n";
    return text.str();
  };
  std::ofstream(root + "/train.pbtxt") << config_text(out);
  const std::string command = std::string(OVSEG_TRAIN_BINARY) + " --config " + root +
                              "/train.pbtxt 2> " + root + "/stderr.txt";
  ASSERT_EQ(std::system(command.c_str()), 0) << std::ifstream(root + "/stderr.txt").rdbuf();

  std::map<std::string, int> steps_per_stage;
  std::ifstream log(out + "/train_log.jsonl");
  for (std::string line; std::getline(log, line);) {
    const nlohmann::json j = nlohmann::json::parse(line);
    if (j.contains("eval")) continue;
    ++steps_per_stage[j["stage"].get<std::string>()];
    EXPECT_TRUE(std::isfinite(j["loss"].get<double>())) << j;
  }
  EXPECT_EQ(steps_per_stage["clip_pretrain"], 3);
  EXPECT_EQ(steps_per_stage["generator"], 2);
  EXPECT_EQ(steps_per_stage["fovseg"], 2);

  // The CLIP file is OpenAI's layout; it says nothing of its activation, so GELU is named.
  ClipLoadOptions clip_options;
  clip_options.quick_gelu = false;
  absl::StatusOr<ClipModel> clip = LoadClipModel(out + "/clip.safetensors", clip_options);
  ASSERT_TRUE(clip.ok()) << clip.status();
  EXPECT_EQ((*clip)->config().vision.width, 64);
  EXPECT_EQ((*clip)->config().text.context_length, 24);

  v1::ModelConfig serving;
  serving.set_preset("synth-toy");
  serving.set_clip_weights(out + "/clip.safetensors");
  serving.set_clip_quick_gelu(false);
  serving.set_mask_generator_weights(out + "/mask2former.safetensors");
  serving.set_mask_generator_heads(4);
  serving.set_checkpoint(out + "/fovseg-step2.safetensors");
  absl::StatusOr<ServingModel> model = CreateServingModel(serving);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->pipeline->Info().head_modes.size(), 3u);
  EXPECT_TRUE(model->pipeline->Info().generates_masks);

  // The same three stages as two data-parallel ranks: rank 1 waits for the chief's files at
  // each hand-over and reads them; the chief alone logs.
  const std::string out2 = root + "/out2";
  std::ofstream(root + "/train2.pbtxt") << config_text(out2);
  const auto [rc0, rc1] =
      RunTwoRanks(root + "/train2.pbtxt", root + "/train2.pbtxt", root + "/rank");
  ASSERT_EQ(rc0, 0) << FileText(root + "/rank0.txt");
  ASSERT_EQ(rc1, 0) << FileText(root + "/rank1.txt");
  for (const char* file :
       {"clip.safetensors", "mask2former.safetensors", "fovseg-step2.safetensors"}) {
    EXPECT_TRUE(fs::exists(out2 + "/" + file)) << file;
  }
  std::map<std::string, int> logged;
  std::ifstream log2(out2 + "/train_log.jsonl");
  for (std::string line; std::getline(log2, line);) {
    const nlohmann::json j = nlohmann::json::parse(line);
    if (!j.contains("eval")) ++logged[j["stage"].get<std::string>()];
  }
  EXPECT_EQ(logged, steps_per_stage);
}

}  // namespace
}  // namespace ovseg
