// The "fovseg" stage (docs/design.md "What trains"; FOV-Seg's recipe): on a COCO panoptic
// training split, with CLIP and the mask generator frozen, it trains TeVA, the adapter,
// the void embedding and CLIP's f_q with FiSeR + L_CE (and the FGAseg head when asked),
// writes checkpoints the server loads (fovseg-step<N>.safetensors), an optimiser state to
// resume from (state-step<N>.pt, pointed to by latest.json), validates on data.val_* and
// submits checkpoints that pass the gate. Without a mask generator
// (model.mask_generator_weights unset) the proposals are the ground-truth segments
// themselves ("oracle proposals"), which the log states.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "client/admin_client.h"
#include "client/client_tls.h"
#include "common/progress.h"
#include "common/sha256.h"
#include "datasets/augmentation.h"
#include "datasets/data_loader.h"
#include "datasets/seed_mixing.h"
#include "model/api/label_text.h"
#include "model/clip/clip_preprocess.h"
#include "model/clip/clip_text_encoder.h"
#include "model/clip/clip_tokenizer.h"
#include "model/clip/prompt_templates.h"
#include "model/fgaseg/fgaseg_config.h"
#include "model/serving/base_weights.h"
#include "model/serving/fgaseg_checkpoint.h"
#include "model/serving/fovseg_checkpoint.h"
#include "model/serving/fovseg_pipeline.h"
#include "model/train/class_sampling.h"
#include "model/train/fovseg_trainer.h"
#include "model/train/panoptic_validation.h"
#include "model/train/train_stages.h"
#include "ovseg/v1/train.pb.h"

namespace ovseg {
namespace {

namespace fs = std::filesystem;
namespace F = torch::nn::functional;

constexpr int64_t kStride = 4;  // proposals and segment masks at 1/4 of the input
constexpr int64_t kIgnore = 255;

// The config's prompt templates, or the server's default set when it names none.
absl::StatusOr<std::vector<std::string>> TrainingTemplates(const v1::TrainConfig& c) {
  if (c.prompt_templates().empty()) return PromptTemplateSet("single");
  std::vector<std::string> templates(c.prompt_templates().begin(), c.prompt_templates().end());
  for (const std::string& t : templates) {
    if (t.find("{}") == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("prompt_templates: \"", t, "\" has no {}"));
    }
  }
  return templates;
}

// One embedding per category exactly as the server's vocabulary cache builds it: every
// name (the category's and its synonyms'), normalised as the server normalises labels,
// filled into every template, then CLIP's prompt ensemble.
absl::StatusOr<std::shared_ptr<const VocabularyEmbeddings>> EmbedCategories(
    ClipTextEncoder& text, const std::vector<CocoCategory>& categories,
    const std::vector<std::string>& templates) {
  std::vector<std::string> prompts;
  std::vector<size_t> owner;  // prompt -> category position
  for (size_t i = 0; i < categories.size(); ++i) {
    std::vector<std::string> names = {categories[i].category.name};
    names.insert(names.end(), categories[i].synonyms.begin(), categories[i].synonyms.end());
    for (const std::string& name : names) {
      for (const std::string& t : templates) {
        prompts.push_back(FillTemplate(t, NormaliseLabelSynonym(name)));
        owner.push_back(i);
      }
    }
  }
  absl::StatusOr<std::vector<float>> rows = text.Encode(prompts);
  if (!rows.ok()) return rows.status();
  const int dim = static_cast<int>(text.EmbeddingDim());
  PromptEnsemble ensemble(categories.size(), dim);
  for (size_t p = 0; p < prompts.size(); ++p) ensemble.Add(owner[p], rows->data() + p * dim);
  auto v = std::make_shared<VocabularyEmbeddings>();
  v->num_labels = static_cast<int>(categories.size());
  v->dim = dim;
  for (const std::vector<float>& row : std::move(ensemble).Finish())
    v->data.insert(v->data.end(), row.begin(), row.end());
  return v;
}

// [K, E] tensor of a vocabulary, on `device`.
torch::Tensor AsTensor(const VocabularyEmbeddings& v, torch::Device device) {
  return torch::from_blob(const_cast<float*>(v.data.data()), {v.num_labels, v.dim})
      .to(device, /*non_blocking=*/false, /*copy=*/true);
}

// Sends a checkpoint that passed the gate to every configured server (submit, then
// activate) and drop directory (copy, rename, then the .done marker with its sha256).
absl::Status Submit(const v1::SubmitConfig& submit, const std::string& path) {
  const std::string name = fs::path(path).filename().string();
  if (!submit.servers().empty()) {
    std::ifstream token_in(submit.token_file());
    if (!token_in)
      return absl::NotFoundError(
          absl::StrCat("submit.token_file ", submit.token_file(), ": cannot open"));
    std::string token((std::istreambuf_iterator<char>(token_in)), {});
    token.erase(token.find_last_not_of(" \n\r\t") + 1);
    ClientOptions options{"", "", absl::Seconds(120)};
    if (absl::Status s = LoadTlsFiles(
            TlsFiles{submit.tls_ca_file(), submit.tls_cert_file(), submit.tls_key_file()},
            &options);
        !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("submit.tls_*: ", s.message()));
    }
    for (const std::string& server : submit.servers()) {
      options.target = server;
      OvsegAdminClient admin(options, token);
      absl::StatusOr<v1::CheckpointInfo> sent = admin.Submit(path);
      if (!sent.ok())
        return absl::Status(sent.status().code(),
                            absl::StrCat(server, ": ", sent.status().message()));
      absl::StatusOr<std::string> version = admin.Activate(name);
      if (!version.ok())
        return absl::Status(version.status().code(),
                            absl::StrCat(server, ": ", version.status().message()));
      std::cerr << "ovseg-train: " << server << " now serves " << *version << "\n";
    }
  }
  if (!submit.drop_dir().empty()) {
    std::ifstream in(path, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), {});
    const fs::path target = fs::path(submit.drop_dir()) / name;
    std::error_code error;
    fs::copy_file(path, target.string() + ".partial", fs::copy_options::overwrite_existing, error);
    if (!error) fs::rename(target.string() + ".partial", target, error);
    if (error)
      return absl::PermissionDeniedError(absl::StrCat(submit.drop_dir(), ": ", error.message()));
    std::ofstream(target.string() + ".done") << Sha256Hex(bytes) << "\n";
  }
  return absl::OkStatus();
}

// A loaded, augmented sample as the trainer's input: CLIP-normalised pixels, ground-truth
// segments at 1/4, proposals (the generator's top ones exactly as serving prepares them,
// or the segments themselves), the semantic label map for the dense head, and the image's
// class set (the whole vocabulary, or sampled: class_sampling.h).
TrainImage ToTrainImage(const Sample& s, const absl::flat_hash_map<int, int64_t>& class_of,
                        const torch::Tensor& vocabulary, MaskGenerator* generator,
                        int64_t max_proposals, const ClassSampling& sampling,
                        uint64_t sampling_seed) {
  TrainImage im;
  im.pixels = ClipNormalize(s.rgb.data(), s.width, s.height)[0];
  const int64_t h = s.height / kStride, w = s.width / kStride;
  const torch::Tensor ids =
      torch::from_blob(const_cast<uint32_t*>(s.ids.data()), {s.height, s.width}, torch::kInt32);
  // Sampled at the centre of every 4x4 cell, as the generator stage samples its targets.
  using torch::indexing::Slice;
  const torch::Tensor small = ids.index({Slice(kStride / 2, torch::indexing::None, kStride),
                                         Slice(kStride / 2, torch::indexing::None, kStride)});
  std::vector<torch::Tensor> masks;
  im.semantic_labels = torch::full({s.height, s.width}, kIgnore, torch::kLong);
  for (const PanopticSegment& seg : s.segments) {
    const auto it = class_of.find(seg.category_id);
    if (it == class_of.end() || seg.iscrowd) continue;
    const torch::Tensor m = small == static_cast<int32_t>(seg.id);
    if (!m.any().item<bool>()) continue;
    masks.push_back(m);
    im.segment_classes.push_back(it->second);
    im.semantic_labels.masked_fill_(ids == static_cast<int32_t>(seg.id), it->second);
  }
  im.segment_masks = masks.empty() ? torch::zeros({0, h, w}, torch::kBool) : torch::stack(masks);
  if (generator != nullptr) {
    torch::NoGradGuard no_grad;
    const MaskProposals p = generator->Generate(im.pixels.unsqueeze(0).to(vocabulary.device()))[0];
    const int64_t keep = std::min<int64_t>(max_proposals, p.objectness.size(0));
    const torch::Tensor order = std::get<1>(p.objectness.to(torch::kFloat32).topk(keep));
    im.proposal_logits = ClassifierProposalInput(
        UpsampleProposals(p.logits.index_select(0, order).to(torch::kCPU), s.height, s.width));
  } else {
    im.proposal_logits = masks.empty() ? torch::full({1, h, w}, -10.0f)
                                       : im.segment_masks.to(torch::kFloat32) * 20 - 10;
  }
  if (!sampling.enabled()) {
    im.class_embeddings = vocabulary;
    return im;
  }
  const std::vector<int64_t> chosen =
      SampleImageClasses(im.segment_classes, vocabulary.size(0), sampling, sampling_seed);
  std::vector<int64_t> position(static_cast<size_t>(vocabulary.size(0)), kIgnore);
  for (size_t k = 0; k < chosen.size(); ++k) position[static_cast<size_t>(chosen[k])] = k;
  for (int64_t& c : im.segment_classes) c = position[static_cast<size_t>(c)];
  const torch::Tensor remap = torch::tensor(position, torch::kLong);
  const torch::Tensor labelled = im.semantic_labels != kIgnore;
  im.semantic_labels = torch::where(
      labelled,
      remap.index_select(0, im.semantic_labels.clamp_max(vocabulary.size(0) - 1).flatten())
          .view_as(im.semantic_labels),
      im.semantic_labels);
  im.class_embeddings =
      vocabulary.index_select(0, torch::tensor(chosen, torch::kLong).to(vocabulary.device()));
  return im;
}

// The split's whole vocabulary (seen and unseen classes) embedded as training embeds,
// when the config names a validation split; `validation` stays empty otherwise.
absl::Status OpenValidation(const v1::TrainConfig& c, ClipTextEncoder& text,
                            const std::vector<std::string>& templates,
                            const std::vector<std::string>& training_vocabulary,
                            std::unique_ptr<Dataset>* images, ValidationSet* validation) {
  if (c.data().val_json().empty()) return absl::OkStatus();
  absl::StatusOr<std::unique_ptr<Dataset>> val =
      OpenCocoPanopticDataset(c.data().val_json(), c.data().val_images(), c.data().val_panoptic());
  if (!val.ok()) return val.status();
  *images = *std::move(val);
  absl::StatusOr<CocoPanoptic> val_coco = ReadCocoPanopticJson(c.data().val_json());
  if (!val_coco.ok()) return val_coco.status();
  absl::StatusOr<std::shared_ptr<const VocabularyEmbeddings>> val_embeddings =
      EmbedCategories(text, val_coco->categories, templates);
  if (!val_embeddings.ok()) return val_embeddings.status();
  validation->images = images->get();
  validation->categories = val_coco->categories;
  validation->vocabulary = *val_embeddings;
  validation->training_vocabulary = training_vocabulary;
  validation->max_images = static_cast<int>(c.eval_images());
  return absl::OkStatus();
}

// The optimiser, schedule and loss of the config (its data-parallel group is the caller's).
FovSegTrainerOptions TrainerOptionsOf(const v1::TrainConfig& c) {
  FovSegTrainerOptions o;
  o.lr = c.optimizer().lr();
  o.weight_decay = c.optimizer().weight_decay();
  o.clip_lr_multiplier = c.optimizer().clip_lr_multiplier();
  o.warmup_steps = static_cast<int64_t>(c.optimizer().warmup_steps());
  o.total_steps = static_cast<int64_t>(c.optimizer().steps());
  o.grad_clip = c.optimizer().grad_clip();
  o.grad_accumulation = c.optimizer().grad_accumulation();
  o.use_fiser = !c.loss().has_fiser() || c.loss().fiser();
  o.autocast_bf16 = c.autocast() == "bf16";
  if (c.loss().has_fiser_weight()) o.fiser_weight = c.loss().fiser_weight();
  if (c.loss().has_ce_weight()) o.ce_weight = c.loss().ce_weight();
  if (c.loss().has_void_weight()) o.void_weight = c.loss().void_weight();
  if (c.loss().has_match_class_weight()) o.matching.class_weight = c.loss().match_class_weight();
  if (c.loss().has_match_mask_weight()) o.matching.mask_weight = c.loss().match_mask_weight();
  if (c.loss().has_match_dice_weight()) o.matching.dice_weight = c.loss().match_dice_weight();
  o.seed = c.seed();
  return o;
}

// Continues from out_dir/latest.json: the checkpoint's trained tensors (and FGAseg head),
// then the optimiser's state.
absl::Status Resume(const std::string& latest, MaskClassifier& classifier,
                    std::optional<FgaSegHead>& head, FovSegTrainer& trainer) {
  nlohmann::json j;
  std::ifstream(latest) >> j;
  absl::StatusOr<Checkpoint> ckpt = OpenCheckpoint(j["checkpoint"].get<std::string>());
  absl::Status s = ckpt.ok() ? LoadCheckpointInto(*ckpt, classifier) : ckpt.status();
  if (s.ok() && head) {
    absl::StatusOr<std::optional<FgaSegHead>> loaded = LoadFgaSegHead(*ckpt);
    s = loaded.ok() ? absl::OkStatus() : loaded.status();
    if (s.ok() && loaded->has_value()) {
      torch::NoGradGuard no_grad;
      auto from = (**loaded)->named_parameters();
      for (auto& p : (*head)->named_parameters()) {
        if (from.contains(p.key())) p.value().copy_(from[p.key()]);
      }
    }
  }
  if (s.ok()) s = trainer.LoadState(j["state"].get<std::string>());
  if (!s.ok()) return absl::Status(s.code(), absl::StrCat("resume: ", s.message()));
  std::cerr << "ovseg-train: resumed at step " << trainer.step() << "\n";
  return absl::OkStatus();
}

// What the stage's periodic steps (validation, checkpoints) read and write.
struct FovSegRun {
  const v1::TrainConfig& c;
  DataParallel& dp;
  const BaseWeights& base;
  MaskClassifier& classifier;
  std::optional<FgaSegHead>& head;
  FovSegTrainer& trainer;
  const ValidationSet& validation;
  TrainLog& log;
  const std::vector<std::string>& training_vocabulary;
  const std::vector<std::string>& templates;
  const MaskClassifierConfig& classifier_config;
  const fs::path out;
  const std::string latest;                           // out/latest.json
  nlohmann::json metrics = nlohmann::json::object();  // the last validation's
};

// Validates the model as it is now (chief only; nothing without a validation split) and
// logs the metrics, which the next checkpoint records.
absl::Status Evaluate(FovSegRun& run) {
  if (run.validation.images == nullptr || !run.dp.is_chief()) return absl::OkStatus();
  PipelineInfo info;
  info.model_name = run.c.model().preset();
  std::optional<DenseHeadRunner> runner;
  if (run.head) {
    runner.emplace(*run.head, SeenVocabulary(run.training_vocabulary), FusionOptions());
  }
  FovSegPipeline pipeline(run.classifier, run.base.device, info, run.base.generator, {},
                          std::move(runner));
  absl::StatusOr<nlohmann::json> report = ValidatePanoptic(pipeline, run.validation);
  if (!report.ok()) return report.status();
  run.metrics = *report;
  nlohmann::json line = run.metrics;
  line["step"] = run.trainer.step();
  line["eval"] = true;
  line["stage"] = "fovseg";
  run.log.Write(line);
  std::cerr << "ovseg-train: step " << run.trainer.step() << " validation " << run.metrics.dump()
            << "\n";
  return absl::OkStatus();
}

// Writes the checkpoint and the optimiser state (chief only), points latest.json at them,
// and submits the checkpoint to servers when the config says so and the gate passes.
absl::Status Save(FovSegRun& run, const std::string& reason) {
  if (!run.dp.is_chief()) return absl::OkStatus();
  const std::string name = absl::StrCat("fovseg-step", run.trainer.step(), ".safetensors");
  CheckpointMetadata m;
  m.preset = run.c.model().preset();
  m.clip_sha256 = run.base.clip_sha256;
  m.mask_generator_sha256 = run.base.generator_sha256;
  m.classifier = run.classifier_config;
  m.step = run.trainer.step();
  m.training_vocabulary = run.training_vocabulary;
  m.prompt_templates = run.templates;
  m.eval_metrics_json = run.metrics.dump();
  const std::string path = (run.out / name).string();
  absl::Status s = run.head ? WriteCheckpointWithFgaSeg(path, run.classifier, *run.head, m)
                            : WriteCheckpoint(path, run.classifier, m);
  if (!s.ok()) return s;
  const std::string state =
      (run.out / absl::StrCat("state-step", run.trainer.step(), ".pt")).string();
  if (s = run.trainer.SaveState(state); !s.ok()) return s;
  const nlohmann::json j = {{"step", run.trainer.step()}, {"checkpoint", path}, {"state", state}};
  std::ofstream((run.latest + ".partial")) << j.dump() << "\n";
  fs::rename(run.latest + ".partial", run.latest);
  std::cerr << "ovseg-train: " << reason << " checkpoint " << path << "\n";
  const v1::SubmitConfig& submit = run.c.submit();
  if (submit.servers().empty() && submit.drop_dir().empty()) return absl::OkStatus();
  const std::string gate = submit.gate_metric().empty() ? "PQ" : submit.gate_metric();
  if (run.validation.images != nullptr &&
      !(run.metrics.contains(gate) && run.metrics[gate].get<double>() >= submit.min_value())) {
    std::cerr << "ovseg-train: " << name << " not submitted: " << gate << " below "
              << submit.min_value() << "\n";
    return absl::OkStatus();
  }
  return Submit(submit, path);
}

}  // namespace

absl::Status RunFovSegStage(const v1::TrainConfig& c, DataParallel& dp) {
  torch::manual_seed(c.seed());
  absl::StatusOr<BaseWeights> base = LoadBaseWeights(c.model());
  if (!base.ok()) return base.status();
  std::error_code error;
  fs::create_directories(c.out_dir(), error);
  if (error)
    return absl::PermissionDeniedError(
        absl::StrCat("out_dir ", c.out_dir(), ": ", error.message()));
  absl::StatusOr<std::unique_ptr<Dataset>> dataset = OpenCocoPanopticDataset(
      c.data().train_json(), c.data().train_images(), c.data().train_panoptic());
  if (!dataset.ok()) return dataset.status();
  absl::StatusOr<CocoPanoptic> coco = ReadCocoPanopticJson(c.data().train_json());
  if (!coco.ok()) return coco.status();
  absl::flat_hash_map<int, int64_t> class_of;
  std::vector<std::string> training_vocabulary;
  for (const CocoCategory& cat : coco->categories) {
    class_of[cat.category.id] = static_cast<int64_t>(training_vocabulary.size());
    training_vocabulary.push_back(cat.category.name);
  }
  ClipTextEncoder text(base->clip, ClipTokenizer::Default());
  absl::StatusOr<std::vector<std::string>> templates = TrainingTemplates(c);
  if (!templates.ok()) return templates.status();
  absl::StatusOr<std::shared_ptr<const VocabularyEmbeddings>> training_embeddings =
      EmbedCategories(text, coco->categories, *templates);
  if (!training_embeddings.ok()) return training_embeddings.status();
  const torch::Tensor vocabulary = AsTensor(**training_embeddings, base->device);

  // Validation: the split's whole vocabulary (seen and unseen classes).
  std::unique_ptr<Dataset> val_images;
  ValidationSet validation;
  if (absl::Status s =
          OpenValidation(c, text, *templates, training_vocabulary, &val_images, &validation);
      !s.ok()) {
    return s;
  }

  MaskClassifierConfig classifier_config;
  classifier_config.use_teva = !c.has_teva() || c.teva();
  MaskClassifier classifier(base->clip->visual, base->clip->config().embed_dim, classifier_config);
  classifier->to(base->device);
  std::optional<FgaSegHead> head;
  if (c.dense_head()) {
    const ClipConfig& cc = base->clip->config();
    head = FgaSegHead(FgaSegConfigForClip(cc.vision.layers, cc.vision.width, cc.embed_dim));
    (*head)->to(base->device);
  }
  FovSegTrainerOptions o = TrainerOptionsOf(c);
  ClassSampling sampling;
  sampling.min_classes = static_cast<int>(c.loss().min_classes_per_image());
  sampling.max_classes = static_cast<int>(c.loss().max_classes_per_image());
  // As many proposals as the server classifies (FovSegPipelineOptions' default).
  const int64_t max_proposals = FovSegPipelineOptions().max_proposals;
  o.data_parallel = &dp;
  FovSegTrainer trainer(classifier, head, o);

  const fs::path out(c.out_dir());
  const std::string latest = (out / "latest.json").string();
  if (c.resume() && fs::exists(latest)) {
    if (absl::Status s = Resume(latest, classifier, head, trainer); !s.ok()) return s;
  }
  if (const auto [low, high] = dp.MinMax(trainer.step()); low != high) {
    return absl::FailedPreconditionError(
        absl::StrCat("data-parallel ranks start at different steps (", low, " and ", high,
                     "): every rank must resume from the same out_dir/latest.json"));
  }
  dp.Broadcast(trainer.trainable());

  LoaderOptions loader_options;
  loader_options.threads = static_cast<int>(c.data().loader_threads());
  loader_options.prefetch = static_cast<int>(c.data().prefetch());
  loader_options.seed = c.seed() + static_cast<uint64_t>(trainer.step()) * 7919;
  loader_options.epochs = 1 << 20;  // as many as the steps need
  ShardLoader(dp, static_cast<int64_t>(c.optimizer().batch_size()), &loader_options);
  JitterOptions jitter;
  jitter.crop = static_cast<int>(c.data().crop());
  jitter.min_scale = c.data().min_scale();
  jitter.max_scale = c.data().max_scale();
  DataLoader loader(**dataset, loader_options, [jitter](const Sample& s, uint64_t seed) {
    return LargeScaleJitter(s, jitter, seed);
  });
  if (base->generator == nullptr) {
    std::cerr << "ovseg-train: no model.mask_generator_weights: training on oracle proposals "
                 "(the ground-truth segments)\n";
  }
  TrainLog log(c.out_dir(), dp);
  const int64_t steps = static_cast<int64_t>(c.optimizer().steps());
  std::unique_ptr<Progress> progress =
      ChiefProgress(dp, "ovseg-train fovseg", steps - trainer.step());
  const absl::Time start = absl::Now();
  int64_t images = 0;
  FovSegRun run{c,
                dp,
                *base,
                classifier,
                head,
                trainer,
                validation,
                log,
                training_vocabulary,
                *templates,
                classifier_config,
                out,
                latest};
  while (trainer.step() < steps) {
    std::vector<TrainImage> batch;
    while (batch.size() < c.optimizer().batch_size()) {
      std::optional<Sample> s = loader.Next();
      if (!s) break;
      // Seeded by the sample and the step, so data-parallel ranks and resumed runs draw
      // the same class sets as one uninterrupted process.
      const uint64_t sampling_seed = MixSeed(MixSeed(c.seed(), std::hash<std::string>()(s->name)),
                                             static_cast<uint64_t>(trainer.step()));
      batch.push_back(ToTrainImage(*s, class_of, vocabulary, base->generator.get(), max_proposals,
                                   sampling, sampling_seed));
    }
    if (batch.empty()) break;
    images += static_cast<int64_t>(batch.size()) * dp.world_size();
    TrainStepStats stats = trainer.Step(batch);
    if (!stats.applied) continue;
    // The log shows the mean over the ranks of their last micro-batch's losses.
    const std::vector<double> mean = dp.Mean({stats.loss, stats.ce, stats.fiser, stats.dense});
    stats.loss = mean[0];
    stats.ce = mean[1];
    stats.fiser = mean[2];
    stats.dense = mean[3];
    const double elapsed = absl::ToDoubleSeconds(absl::Now() - start);
    const nlohmann::json line = {{"stage", "fovseg"},
                                 {"step", trainer.step()},
                                 {"loss", stats.loss},
                                 {"ce", stats.ce},
                                 {"fiser", stats.fiser},
                                 {"dense", stats.dense},
                                 {"lr", stats.lr},
                                 {"grad_norm", stats.grad_norm},
                                 {"images_per_second", images / std::max(elapsed, 1e-9)},
                                 {"elapsed_seconds", elapsed}};
    log.Write(line);
    if (progress) progress->Advance(1, absl::StrFormat("loss %.3f", stats.loss));
    if (c.eval_every() > 0 && trainer.step() % static_cast<int64_t>(c.eval_every()) == 0 &&
        trainer.step() < steps) {
      if (absl::Status s = Evaluate(run); !s.ok()) return s;
    }
    if (c.checkpoint_every() > 0 &&
        trainer.step() % static_cast<int64_t>(c.checkpoint_every()) == 0 &&
        trainer.step() < steps) {
      if (absl::Status s = Save(run, "periodic"); !s.ok()) return s;
    }
  }
  if (progress) progress->Finish();
  // Every rank ends with the chief's final checkpoint on disk.
  return dp.ChiefWrites([&] {
    absl::Status s = Evaluate(run);
    return s.ok() ? Save(run, "final") : s;
  });
}

}  // namespace ovseg
