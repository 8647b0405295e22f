// The synthetic open-vocabulary world's classes and its seen/unseen split
// (ovseg-synth writes it in words into every dataset it makes, as SPLIT.md):
// - stuff: textures (grass, water, sand, brick wall, sky, wood, carpet, gravel);
// - things: "<colour> <pattern> <shape>" phrases, e.g. "red striped triangle".
// Unseen classes are of two kinds: new combinations of words that seen classes use
// ("blue dotted star" when blue, dotted and star each occur in seen classes), and classes
// with a word that no segmentation label ever uses but captions do (purple, heart, carpet,
// gravel), as a real CLIP has read far more words than any segmentation dataset holds.
#ifndef OVSEG_DATASETS_SYNTH_SYNTH_VOCABULARY_H_
#define OVSEG_DATASETS_SYNTH_SYNTH_VOCABULARY_H_

#include <string>
#include <vector>

namespace ovseg {

enum class Texture { kGrass, kWater, kSand, kBrickWall, kSky, kWood, kCarpet, kGravel };
enum class Shape { kCircle, kSquare, kTriangle, kStar, kRing, kCross, kHeart };
enum class Pattern { kPlain, kStriped, kDotted };
inline constexpr int kNumShapes = static_cast<int>(Shape::kHeart) + 1;
inline constexpr int kNumPatterns = static_cast<int>(Pattern::kDotted) + 1;

struct SynthColour {
  const char* name;
  unsigned char r, g, b;
};

struct SynthClass {
  int id = 0;  // COCO category id, 1-based
  std::string name;
  bool isthing = false;
  bool seen = false;  // used as a segmentation label in training
  // Stuff: the texture. Things: colour index, pattern and shape.
  Texture texture = Texture::kGrass;
  int colour = 0;
  Pattern pattern = Pattern::kPlain;
  Shape shape = Shape::kCircle;
};

class SynthVocabulary {
 public:
  // Every class, ids 1.., stuff first. The held-out combinations are fixed (not random),
  // so the split is the same for every seed.
  static const SynthVocabulary& Get();

  const std::vector<SynthClass>& classes() const { return classes_; }
  std::vector<int> StuffIds() const;
  std::vector<int> ThingIds() const;
  const SynthClass& ById(int id) const { return classes_.at(static_cast<size_t>(id - 1)); }
  static const std::vector<SynthColour>& Colours();
  static const char* TextureName(Texture t);
  static const char* ShapeName(Shape s);
  static const char* PatternName(Pattern p);
  // Words that appear in captions but in no seen class's name.
  static std::vector<std::string> CaptionOnlyWords();

 private:
  SynthVocabulary();
  std::vector<SynthClass> classes_;
};

}  // namespace ovseg

#endif  // OVSEG_DATASETS_SYNTH_SYNTH_VOCABULARY_H_
