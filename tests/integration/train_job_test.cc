// ovseg-train end to end on a tiny synthetic world and a tiny random CLIP: a few steps
// run, the log holds every step's scalars, the checkpoint it writes is one a server on the
// same CLIP accepts (and holds only trained tensors), and a resumed run continues from
// the saved step.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
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

}  // namespace
}  // namespace ovseg
