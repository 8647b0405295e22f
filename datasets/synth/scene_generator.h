// One image of the synthetic world: stuff textures in wavy horizontal bands (sky, when
// chosen, on top), then things of random class, scale and rotation drawn over each other
// (later ones occlude earlier ones), then sensor noise and sometimes blur. The panoptic
// ids, segments and a caption listing everything visible come along. Deterministic: the
// same seed gives the same scene, whatever thread makes it.
#ifndef OVSEG_DATASETS_SYNTH_SCENE_GENERATOR_H_
#define OVSEG_DATASETS_SYNTH_SCENE_GENERATOR_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "datasets/seed_mixing.h"
#include "evaluation/panoptic_quality.h"

namespace ovseg {

// A thing's words, as hard-negative captions swap them.
enum class CaptionWord { kColour = 0, kPattern = 1, kShape = 2 };
// "colour", "pattern", "shape" -> the word; INVALID_ARGUMENT naming the text otherwise.
absl::StatusOr<std::vector<CaptionWord>> ParseCaptionWords(absl::string_view comma_list);

struct SceneOptions {
  int min_size = 128, max_size = 256;  // each side, rounded down to a multiple of 32
  int max_stuff = 3;
  int max_things = 5;
  double max_noise_sigma = 6.0;   // Gaussian pixel noise, uniform in [0, max]
  double blur_probability = 0.3;  // a 3x3 or 5x5 Gaussian blur
  // Things smaller than this many visible pixels (after occlusion) become VOID.
  int min_thing_area = 24;
  // A thing's radius, as a fraction of the image's shorter side, is uniform in this range.
  double min_thing_radius = 0.06, max_thing_radius = 0.22;
  // Whole things: each thing's centre is drawn so that its radius fits inside the image
  // (instead of anywhere in the middle 80%, where large things leave the frame). For
  // object-centric caption corpora: a shape cut by the border is no shape to learn.
  bool things_inside = false;
  // Hard-negative captions per scene (NegCLIP, Yuksekgonul et al. 2023): the caption with
  // one word of one thing swapped for another of the world's words, the word chosen by
  // `negative_words` (a stuff name when there is no thing). A CLIP trained on them must see
  // every word: colour alone no longer tells its caption from the rest. Drawn from their
  // own random stream, so the image and caption do not depend on it.
  int caption_negatives = 0;
  // Which word each negative swaps, in turn (a negative k swaps negative_words[k % size]):
  // by default colour, pattern and shape alike. A world whose CLIP learns colour first and
  // shape last may ask about shape more often ({kShape, kShape, kColour, kShape, ...}).
  std::vector<CaptionWord> negative_words = {CaptionWord::kColour, CaptionWord::kPattern,
                                             CaptionWord::kShape};
  // Class-agnostic content for training mask generators: up to `unnamed_things` objects of
  // random star-convex outline and random colour, and each stuff band replaced with
  // probability `unnamed_stuff` by a random procedural texture. They are no word of the
  // world (captions never mention them) and carry the ids UnnamedThingId() and
  // UnnamedStuffId(): a generator that is to propose shapes and textures it was never
  // shown needs more kinds of segment than the world's 6 seen shapes and 6 seen textures,
  // as a real Mask2Former sees COCO's 133 classes. Off (0) by default; when off, scenes are
  // exactly those of earlier versions for the same seed.
  int unnamed_things = 0;
  double unnamed_stuff = 0.0;
  // Generator data too: named stuff and things drawn from the seen classes only, so that
  // every named pixel of a train split is annotated, as COCO annotates every pixel in its
  // own vocabulary. Left in, the unseen classes are VOID in a train split, always the same
  // textures and words, and a generator learns to propose nothing there: the demo's
  // generator trained so proposed 1 of 98 unseen stuff regions (carpet, gravel) on 200
  // validation images (docs/results.md, "Seen-only generator data"). It shows the
  // generator nothing of the unseen classes; it only stops teaching it to ignore them.
  // Off by default; when off, scenes are exactly those of earlier versions.
  bool seen_classes_only = false;
  // Region captions: every named thing also gets a caption of its own ("a red striped
  // heart") with caption_negatives hard negatives of it, for a caption corpus that shows
  // CLIP each thing cut out as a mask classifier sees it (SynthScene::regions, written as
  // masked crops by ovseg-synth --region-captions). In a scene a thing is a few patches
  // and its shape a slow feature to learn (docs/results.md); cut out, it fills the frame.
  // A scene's pixels and caption do not depend on it.
  bool region_captions = false;
  // With region_captions, each stuff region is captioned too with this probability
  // (default 0: things only). Stuff has 8 names, so a batch repeats them; the CLIP loss
  // leaves repeated captions out of each other's softmax (model/train/clip_pretrainer.h).
  double stuff_region_captions = 0.0;
};

// Category ids of unnamed content, just past the vocabulary's: "unnamed object" (a thing)
// and "unnamed region" (stuff).
int UnnamedThingId();
int UnnamedStuffId();
bool IsUnnamedId(int category_id);

// One named region's own caption (SceneOptions::region_captions).
struct RegionCaption {
  uint32_t segment_id = 0;
  std::string caption;
  std::vector<std::string> negative_captions;
};

struct SynthScene {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;               // interleaved RGB, row-major
  std::vector<uint32_t> ids;              // panoptic segment id per pixel, 0 = VOID
  std::vector<PanopticSegment> segments;  // category_id = SynthVocabulary class id
  std::string caption;
  // SceneOptions::caption_negatives captions, each different from `caption` (fewer when
  // the scene shows nothing to swap).
  std::vector<std::string> negative_captions;
  std::vector<RegionCaption> regions;  // empty unless SceneOptions::region_captions
};

// INVALID_ARGUMENT naming the field when a range is empty or out of bounds.
absl::Status ValidateSceneOptions(const SceneOptions& options);

SynthScene GenerateScene(uint64_t seed, const SceneOptions& options);

}  // namespace ovseg

#endif  // OVSEG_DATASETS_SYNTH_SCENE_GENERATOR_H_
