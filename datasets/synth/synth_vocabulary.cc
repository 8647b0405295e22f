#include "datasets/synth/synth_vocabulary.h"

#include "absl/strings/str_cat.h"

namespace ovseg {
namespace {

constexpr Texture kTextures[] = {Texture::kGrass,     Texture::kWater, Texture::kSand,
                                 Texture::kBrickWall, Texture::kSky,   Texture::kWood,
                                 Texture::kCarpet,    Texture::kGravel};
constexpr Shape kShapes[] = {Shape::kCircle, Shape::kSquare, Shape::kTriangle, Shape::kStar,
                             Shape::kRing,   Shape::kCross,  Shape::kHeart};
constexpr Pattern kPatterns[] = {Pattern::kPlain, Pattern::kStriped, Pattern::kDotted};

bool CaptionOnlyTexture(Texture t) { return t == Texture::kCarpet || t == Texture::kGravel; }
bool CaptionOnlyShape(Shape s) { return s == Shape::kHeart; }
constexpr int kPurple = 5;  // index in Colours()

// Held-out combinations of seen words: one in five, chosen by a fixed rule that leaves
// every colour, pattern and shape in some seen class.
bool HeldOutCombination(int colour, int pattern, int shape) {
  return (colour * 3 + pattern * 2 + shape) % 5 == 0;
}

}  // namespace

const std::vector<SynthColour>& SynthVocabulary::Colours() {
  static const std::vector<SynthColour> colours = {
      {"red", 220, 40, 40},     {"green", 40, 170, 60},   {"blue", 40, 80, 220},
      {"yellow", 235, 215, 40}, {"white", 240, 240, 240}, {"purple", 140, 50, 170}};
  return colours;
}

const char* SynthVocabulary::TextureName(Texture t) {
  switch (t) {
    case Texture::kGrass:
      return "grass";
    case Texture::kWater:
      return "water";
    case Texture::kSand:
      return "sand";
    case Texture::kBrickWall:
      return "brick wall";
    case Texture::kSky:
      return "sky";
    case Texture::kWood:
      return "wood";
    case Texture::kCarpet:
      return "carpet";
    case Texture::kGravel:
      return "gravel";
  }
  return "";
}

const char* SynthVocabulary::ShapeName(Shape s) {
  switch (s) {
    case Shape::kCircle:
      return "circle";
    case Shape::kSquare:
      return "square";
    case Shape::kTriangle:
      return "triangle";
    case Shape::kStar:
      return "star";
    case Shape::kRing:
      return "ring";
    case Shape::kCross:
      return "cross";
    case Shape::kHeart:
      return "heart";
  }
  return "";
}

const char* SynthVocabulary::PatternName(Pattern p) {
  switch (p) {
    case Pattern::kPlain:
      return "plain";
    case Pattern::kStriped:
      return "striped";
    case Pattern::kDotted:
      return "dotted";
  }
  return "";
}

std::vector<std::string> SynthVocabulary::CaptionOnlyWords() {
  return {"purple", "heart", "carpet", "gravel"};
}

SynthVocabulary::SynthVocabulary() {
  for (Texture t : kTextures) {
    SynthClass c;
    c.id = static_cast<int>(classes_.size()) + 1;
    c.name = TextureName(t);
    c.isthing = false;
    c.seen = !CaptionOnlyTexture(t);
    c.texture = t;
    classes_.push_back(c);
  }
  const int colours = static_cast<int>(Colours().size());
  for (int colour = 0; colour < colours; ++colour) {
    for (int p = 0; p < 3; ++p) {
      for (int s = 0; s < 7; ++s) {
        SynthClass c;
        c.id = static_cast<int>(classes_.size()) + 1;
        c.isthing = true;
        c.colour = colour;
        c.pattern = kPatterns[p];
        c.shape = kShapes[s];
        // "red triangle" for plain ones: nobody says "plain".
        c.name = c.pattern == Pattern::kPlain
                     ? absl::StrCat(Colours()[colour].name, " ", ShapeName(c.shape))
                     : absl::StrCat(Colours()[colour].name, " ", PatternName(c.pattern), " ",
                                    ShapeName(c.shape));
        c.seen =
            colour != kPurple && !CaptionOnlyShape(c.shape) && !HeldOutCombination(colour, p, s);
        classes_.push_back(c);
      }
    }
  }
}

const SynthVocabulary& SynthVocabulary::Get() {
  static const SynthVocabulary* vocabulary = new SynthVocabulary();
  return *vocabulary;
}

std::vector<int> SynthVocabulary::StuffIds() const {
  std::vector<int> ids;
  for (const SynthClass& c : classes_) {
    if (!c.isthing) ids.push_back(c.id);
  }
  return ids;
}

std::vector<int> SynthVocabulary::ThingIds() const {
  std::vector<int> ids;
  for (const SynthClass& c : classes_) {
    if (c.isthing) ids.push_back(c.id);
  }
  return ids;
}

}  // namespace ovseg
