// ovseg-synth: writes the synthetic open-vocabulary world (datasets/synth/synth_dataset.h).
//   ovseg-synth --out DIR [--train N (1000)] [--val N (200)] [--seed S (1)]
//               [--min-size PX (128)] [--max-size PX (256)] [--max-things N (5)]
//               [--min-radius F (0.06)] [--max-radius F (0.22)]  (things' radius / shorter side)
//               [--caption-negatives N (0)]  (hard-negative captions per image, captions.json)
//               [--negative-words W,W,... (colour,pattern,shape)]  (the word each swaps, in turn)
//               [--things-inside true|false (false)]  (no thing leaves the frame)
//               [--region-captions true|false (false)]  (each thing's masked crop, captioned)
//               [--stuff-region-captions P (0)]  (and each stuff region's, with probability P)
//               [--unnamed-things N (0)] [--unnamed-stuff P (0)]  (generator data, train only)
//               [--seen-classes-only true|false (false)]  (generator data: no unseen class drawn)
//               [--threads N (every core)]
#include <iostream>
#include <map>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "datasets/synth/synth_dataset.h"

namespace ovseg {
namespace {

int Usage(const std::string& problem) {
  if (!problem.empty()) std::cerr << "ovseg-synth: " << problem << "\n";
  std::cerr << "usage: ovseg-synth --out DIR [--train N] [--val N] [--seed S] [--min-size PX] "
               "[--max-size PX] [--max-things N] [--min-radius F] [--max-radius F] "
               "[--caption-negatives N] [--negative-words W,W,...] [--things-inside B] "
               "[--region-captions B] [--stuff-region-captions P] "
               "[--unnamed-things N] [--unnamed-stuff P] [--seen-classes-only B] "
               "[--threads N]\n";
  return 2;
}

// "true" / "false" into *out; false for any other text.
bool ParseBool(const std::string& text, bool* out) {
  if (text != "true" && text != "false") return false;
  *out = text == "true";
  return true;
}

int Run(int argc, char** argv) {
  std::map<std::string, std::string> flags;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--", 0) != 0 || i + 1 >= argc) return Usage(absl::StrCat("bad argument ", a));
    flags[a.substr(2)] = argv[++i];
  }
  SynthDatasetOptions o;
  for (const auto& [name, value] : flags) {
    bool ok = true;
    if (name == "out") {
      o.out_dir = value;
    } else if (name == "train") {
      ok = absl::SimpleAtoi(value, &o.num_train);
    } else if (name == "val") {
      ok = absl::SimpleAtoi(value, &o.num_val);
    } else if (name == "seed") {
      ok = absl::SimpleAtoi(value, &o.seed);
    } else if (name == "min-size") {
      ok = absl::SimpleAtoi(value, &o.scene.min_size);
    } else if (name == "max-size") {
      ok = absl::SimpleAtoi(value, &o.scene.max_size);
    } else if (name == "max-things") {
      ok = absl::SimpleAtoi(value, &o.scene.max_things);
    } else if (name == "min-radius") {
      ok = absl::SimpleAtod(value, &o.scene.min_thing_radius);
    } else if (name == "max-radius") {
      ok = absl::SimpleAtod(value, &o.scene.max_thing_radius);
    } else if (name == "caption-negatives") {
      ok = absl::SimpleAtoi(value, &o.scene.caption_negatives);
    } else if (name == "negative-words") {
      absl::StatusOr<std::vector<CaptionWord>> words = ParseCaptionWords(value);
      if (!words.ok()) return Usage(std::string(words.status().message()));
      o.scene.negative_words = *std::move(words);
    } else if (name == "things-inside" || name == "region-captions" ||
               name == "seen-classes-only") {
      bool* target = name == "things-inside"     ? &o.scene.things_inside
                     : name == "region-captions" ? &o.scene.region_captions
                                                 : &o.scene.seen_classes_only;
      if (!ParseBool(value, target)) {
        return Usage(absl::StrCat("--", name, ": expected true or false, got ", value));
      }
    } else if (name == "unnamed-things") {
      ok = absl::SimpleAtoi(value, &o.scene.unnamed_things);
    } else if (name == "stuff-region-captions") {
      ok = absl::SimpleAtod(value, &o.scene.stuff_region_captions);
    } else if (name == "unnamed-stuff") {
      ok = absl::SimpleAtod(value, &o.scene.unnamed_stuff);
    } else if (name == "threads") {
      ok = absl::SimpleAtoi(value, &o.threads);
    } else {
      return Usage(absl::StrCat("unknown flag --", name));
    }
    if (!ok) return Usage(absl::StrCat("--", name, ": not a number: ", value));
  }
  if (o.out_dir.empty()) return Usage("--out is required");
  Progress progress("ovseg-synth", int64_t{o.num_train} + o.num_val);
  const absl::Time start = absl::Now();
  if (absl::Status s = WriteSynthDataset(o, &progress); !s.ok()) {
    std::cerr << "ovseg-synth: " << s.message() << "\n";
    return 1;
  }
  progress.Finish();
  std::cerr << "ovseg-synth: " << o.num_train << " train + " << o.num_val << " val images in "
            << absl::FormatDuration(absl::Now() - start) << " -> " << o.out_dir
            << " (split: SPLIT.md)\n";
  return 0;
}

}  // namespace
}  // namespace ovseg

int main(int argc, char** argv) { return ovseg::Run(argc, argv); }
