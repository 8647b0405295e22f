// ovseg-train end to end on a tiny synthetic world and a tiny random CLIP: a few steps
// run, the log holds every step's scalars, the checkpoint it writes is one a server on the
// same CLIP accepts (and holds only trained tensors), and a resumed run continues from
// the saved step.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "model/clip/clip_weights.h"
#include "model/serving/fovseg_checkpoint.h"
#include "model/serving/model_factory.h"
#include "tests/fakes/tiny_clip_file.h"
#include "train/synth/synth_dataset.h"

namespace ovseg {
namespace {

namespace fs = std::filesystem;

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
         "dense_head: true\n"
         "out_dir: \"" +
         out + "\"\n" + (resume ? "resume: true\n" : "") + "log_every: 1\n";
}

TEST(TrainJobTest, TrainsWritesAServableCheckpointAndResumes) {
  const std::string root = ::testing::TempDir() + "/train_job";
  fs::remove_all(root);
  SynthDatasetOptions synth;
  synth.out_dir = root + "/world";
  synth.num_train = 8;
  synth.num_val = 3;
  synth.scene.min_size = 64;
  synth.scene.max_size = 96;
  ASSERT_TRUE(WriteSynthDataset(synth).ok());
  const std::string clip = testing::WriteTinyClip();
  const std::string out = root + "/out";
  fs::create_directories(out + "/drop");
  std::ofstream(root + "/train.pbtxt") << TrainConfigText(synth.out_dir, clip, out, 3, false, 0);
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
  std::ofstream(root + "/train.pbtxt") << TrainConfigText(synth.out_dir, clip, out, 5, true, 101);
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

// Every stage from nothing, as the demo model is made (configs/train_demo.pbtxt), at toy
// sizes and under bf16 autocast: CLIP pretraining writes an OpenAI-layout GELU CLIP, the
// generator stage a HuggingFace-layout Mask2Former, and the fovseg stage a checkpoint on
// both; a server built from the three files serves with the generator and the dense head.
TEST(TrainJobTest, EveryStageFromNothingMakesAServableModel) {
  const std::string root = ::testing::TempDir() + "/train_stages";
  fs::remove_all(root);
  SynthDatasetOptions synth;
  synth.out_dir = root + "/world";
  synth.num_train = 8;
  synth.num_val = 2;
  synth.scene.min_size = 64;
  synth.scene.max_size = 96;
  ASSERT_TRUE(WriteSynthDataset(synth).ok());
  const std::string world = synth.out_dir, out = root + "/out";
  std::ofstream(root + "/train.pbtxt")
      << "stages: \"clip_pretrain\" stages: \"generator\" stages: \"fovseg\"\n"
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
      << out << "\"\n";
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
}

}  // namespace
}  // namespace ovseg
