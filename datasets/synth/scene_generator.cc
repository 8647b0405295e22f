#include "datasets/synth/scene_generator.h"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "datasets/synth/synth_vocabulary.h"

namespace ovseg {
namespace {

constexpr double kPi = 3.14159265358979323846;

cv::Vec3b Rgb(int r, int g, int b) {
  return cv::Vec3b(cv::saturate_cast<uint8_t>(r), cv::saturate_cast<uint8_t>(g),
                   cv::saturate_cast<uint8_t>(b));
}

// Per-pixel brightness noise of +-amplitude around `base`.
void FillNoisy(cv::Mat& canvas, cv::Vec3b base, int amplitude, cv::RNG& rng) {
  canvas.setTo(base);
  cv::Mat noise(canvas.size(), CV_16SC1);
  rng.fill(noise, cv::RNG::UNIFORM, -amplitude, amplitude + 1);
  for (int y = 0; y < canvas.rows; ++y) {
    for (int x = 0; x < canvas.cols; ++x) {
      cv::Vec3b& p = canvas.at<cv::Vec3b>(y, x);
      const int n = noise.at<int16_t>(y, x);
      p = Rgb(p[0] + n, p[1] + n, p[2] + n);
    }
  }
}

void PaintTexture(Texture t, cv::Mat& c, cv::RNG& rng) {
  const int w = c.cols, h = c.rows;
  switch (t) {
    case Texture::kGrass: {
      FillNoisy(c, Rgb(60, 140, 50), 18, rng);
      for (int i = 0; i < w * h / 40; ++i) {
        const cv::Point p(rng.uniform(0, w), rng.uniform(0, h));
        const int shade = rng.uniform(-40, 41);
        cv::line(c, p, p + cv::Point(rng.uniform(-2, 3), -rng.uniform(3, 8)),
                 cv::Scalar(50 + shade / 2, 150 + shade, 40), 1);
      }
      break;
    }
    case Texture::kWater: {
      const double f = rng.uniform(0.15, 0.35), g = rng.uniform(0.03, 0.08);
      for (int y = 0; y < h; ++y) {
        for (int x = 0; x < w; ++x) {
          const double v = std::sin(y * f + 2.0 * std::sin(x * g));
          c.at<cv::Vec3b>(y, x) = Rgb(40 + 25 * v, 90 + 30 * v, 170 + 30 * v);
        }
      }
      break;
    }
    case Texture::kSand: {
      FillNoisy(c, Rgb(210, 190, 140), 15, rng);
      for (int i = 0; i < w * h / 60; ++i) {
        c.at<cv::Vec3b>(rng.uniform(0, h), rng.uniform(0, w)) = Rgb(150, 130, 90);
      }
      break;
    }
    case Texture::kBrickWall: {
      c.setTo(Rgb(200, 200, 190));
      const int bh = std::max(6, h / rng.uniform(8, 14)), bw = 2 * bh + rng.uniform(0, bh);
      for (int row = 0; row * bh < h; ++row) {
        const int offset = (row % 2) * bw / 2;
        for (int x = -offset; x < w; x += bw) {
          const int j = rng.uniform(-25, 26);
          cv::rectangle(c, cv::Point(x + 1, row * bh + 1), cv::Point(x + bw - 2, row * bh + bh - 2),
                        cv::Scalar(160 + j, 60 + j / 2, 40), cv::FILLED);
        }
      }
      break;
    }
    case Texture::kSky: {
      for (int y = 0; y < h; ++y) {
        const double a = static_cast<double>(y) / std::max(1, h - 1);
        c.row(y).setTo(Rgb(120 + 70 * a, 170 + 45 * a, 230 + 15 * a));
      }
      cv::Mat clouds(c.size(), CV_8UC3, cv::Scalar(0, 0, 0));
      for (int i = rng.uniform(0, 4); i > 0; --i) {
        cv::ellipse(clouds, cv::Point(rng.uniform(0, w), rng.uniform(0, h)),
                    cv::Size(rng.uniform(w / 10, w / 4), rng.uniform(h / 20, h / 8)), 0, 0, 360,
                    cv::Scalar(70, 50, 25), cv::FILLED);
      }
      cv::GaussianBlur(clouds, clouds, cv::Size(9, 9), 0);
      c += clouds;
      break;
    }
    case Texture::kWood: {
      const double f = rng.uniform(0.3, 0.7);
      for (int y = 0; y < h; ++y) {
        for (int x = 0; x < w; ++x) {
          const double v = std::sin(y * f + 3.0 * std::sin(x * 0.05 + y * 0.02));
          c.at<cv::Vec3b>(y, x) = Rgb(150 + 25 * v, 100 + 18 * v, 60 + 10 * v);
        }
      }
      break;
    }
    case Texture::kCarpet: {
      c.setTo(Rgb(130, 30, 50));
      const int p = rng.uniform(10, 18);
      for (int k = -h; k < w + h; k += p) {
        cv::line(c, cv::Point(k, 0), cv::Point(k + h, h), cv::Scalar(200, 160, 60), 1);
        cv::line(c, cv::Point(k, h), cv::Point(k + h, 0), cv::Scalar(200, 160, 60), 1);
      }
      break;
    }
    case Texture::kGravel: {
      c.setTo(Rgb(120, 120, 120));
      for (int i = 0; i < w * h / 25; ++i) {
        const int g = rng.uniform(80, 200);
        cv::circle(c, cv::Point(rng.uniform(0, w), rng.uniform(0, h)), rng.uniform(1, 4),
                   cv::Scalar(g, g, g - 10), cv::FILLED);
      }
      break;
    }
  }
}

std::vector<cv::Point> Polygon(const std::vector<cv::Point2d>& unit, cv::Point2d centre,
                               double scale, double angle) {
  std::vector<cv::Point> out;
  const double ca = std::cos(angle), sa = std::sin(angle);
  for (const cv::Point2d& p : unit) {
    out.emplace_back(cvRound(centre.x + scale * (p.x * ca - p.y * sa)),
                     cvRound(centre.y + scale * (p.x * sa + p.y * ca)));
  }
  return out;
}

// The shape's pixels in `mask` (255), radius r around `centre`, rotated by `angle`.
void DrawShape(Shape shape, cv::Mat& mask, cv::Point2d centre, double r, double angle) {
  auto fill = [&](const std::vector<cv::Point2d>& unit) {
    const std::vector<std::vector<cv::Point>> polys = {Polygon(unit, centre, r, angle)};
    cv::fillPoly(mask, polys, cv::Scalar(255));
  };
  switch (shape) {
    case Shape::kCircle:
      cv::circle(mask, centre, cvRound(r), cv::Scalar(255), cv::FILLED);
      break;
    case Shape::kRing:
      cv::circle(mask, centre, cvRound(r), cv::Scalar(255), cv::FILLED);
      cv::circle(mask, centre, cvRound(r * 0.5), cv::Scalar(0), cv::FILLED);
      break;
    case Shape::kSquare:
      fill({{-0.75, -0.75}, {0.75, -0.75}, {0.75, 0.75}, {-0.75, 0.75}});
      break;
    case Shape::kTriangle: {
      std::vector<cv::Point2d> unit;
      for (int k = 0; k < 3; ++k) {
        unit.emplace_back(std::sin(2 * kPi * k / 3), -std::cos(2 * kPi * k / 3));
      }
      fill(unit);
      break;
    }
    case Shape::kStar: {
      std::vector<cv::Point2d> unit;
      for (int k = 0; k < 10; ++k) {
        const double radius = k % 2 == 0 ? 1.0 : 0.42;
        unit.emplace_back(radius * std::sin(kPi * k / 5), -radius * std::cos(kPi * k / 5));
      }
      fill(unit);
      break;
    }
    case Shape::kCross:
      fill({{-1, -0.3}, {1, -0.3}, {1, 0.3}, {-1, 0.3}});
      fill({{-0.3, -1}, {0.3, -1}, {0.3, 1}, {-0.3, 1}});
      break;
    case Shape::kHeart: {
      std::vector<cv::Point2d> unit;
      for (int k = 0; k < 48; ++k) {
        const double t = 2 * kPi * k / 48;
        const double x = 16 * std::pow(std::sin(t), 3);
        const double y =
            -(13 * std::cos(t) - 5 * std::cos(2 * t) - 2 * std::cos(3 * t) - std::cos(4 * t));
        unit.emplace_back(x / 17.0, (y + 2.0) / 17.0);
      }
      fill(unit);
      break;
    }
  }
}

// Paints `colour` (jittered by +-15 drawn from `rng`) in `pattern` into `canvas` where
// `mask` is set; stripes and dots follow the shape's rotation `angle` and scale `r`.
void PaintSurface(cv::Vec3b colour, Pattern pattern, const cv::Mat& mask, cv::Mat& canvas,
                  double angle, double r, cv::RNG& rng) {
  const int j = rng.uniform(-15, 16);
  const cv::Vec3b base = Rgb(colour[0] + j, colour[1] + j, colour[2] + j);
  const cv::Vec3b dark = Rgb(colour[0] * 0.45, colour[1] * 0.45, colour[2] * 0.45);
  const bool light = colour[0] + colour[1] + colour[2] > 500;
  const cv::Vec3b dot = light ? Rgb(50, 50, 60) : Rgb(245, 245, 245);
  const double period = std::max(4.0, r / 2.5);
  const double ca = std::cos(angle), sa = std::sin(angle);
  const cv::Rect box = cv::boundingRect(mask);
  for (int y = box.y; y < box.y + box.height; ++y) {
    for (int x = box.x; x < box.x + box.width; ++x) {
      if (mask.at<uint8_t>(y, x) == 0) continue;
      cv::Vec3b p = base;
      const double u = x * ca + y * sa, v = -x * sa + y * ca;  // the shape's own axes
      if (pattern == Pattern::kStriped) {
        if (static_cast<int64_t>(std::floor(u / period)) % 2 != 0) p = dark;
      } else if (pattern == Pattern::kDotted) {
        const double du = u / period - std::round(u / period);
        const double dv = v / period - std::round(v / period);
        if (du * du + dv * dv < 0.07) p = dot;
      }
      canvas.at<cv::Vec3b>(y, x) = p;
    }
  }
}

// Paints the class's colour and pattern into `canvas` where `mask` is set.
void PaintThing(const SynthClass& c, const cv::Mat& mask, cv::Mat& canvas, double angle, double r,
                cv::RNG& rng) {
  const SynthColour& colour = SynthVocabulary::Colours()[c.colour];
  PaintSurface(cv::Vec3b(colour.r, colour.g, colour.b), c.pattern, mask, canvas, angle, r, rng);
}

// A centre coordinate on a side of `size` pixels that keeps a thing of radius r inside
// it: the draw f in [0.1, 0.9] mapped onto [m, size - m], m = 1.1 r, because the square's
// and the cross's corners reach 1.06 r (the middle when m is more than half the side).
double InsideCentre(double f, double r, int size) {
  const double m = 1.1 * r;
  if (2 * m >= size) return size / 2.0;
  return m + (f - 0.1) / 0.8 * (size - 2 * m);
}

cv::Vec3b RandomColour(cv::RNG& rng) {
  return cv::Vec3b(static_cast<uint8_t>(rng.uniform(0, 256)),
                   static_cast<uint8_t>(rng.uniform(0, 256)),
                   static_cast<uint8_t>(rng.uniform(0, 256)));
}

// An unnamed object's outline in `mask` (255), about radius r around `centre`: an ellipse
// of random aspect, or a star-convex polygon of 3-12 vertices at random radii, so that
// outlines vary far more than the world's seven named shapes.
void DrawUnnamedShape(cv::Mat& mask, cv::Point2d centre, double r, double angle, cv::RNG& rng) {
  if (rng.uniform(0, 4) == 0) {
    const cv::Size axes(std::max(1, cvRound(r)), std::max(1, cvRound(r * rng.uniform(0.3, 1.0))));
    cv::ellipse(mask, cv::Point(cvRound(centre.x), cvRound(centre.y)), axes, angle * 180.0 / kPi, 0,
                360, cv::Scalar(255), cv::FILLED);
    return;
  }
  const int n = rng.uniform(3, 13);
  std::vector<cv::Point2d> unit;
  for (int k = 0; k < n; ++k) {
    const double a = 2 * kPi * (k + rng.uniform(-0.35, 0.35)) / n;
    const double radius = rng.uniform(0.45, 1.0);
    unit.emplace_back(radius * std::sin(a), -radius * std::cos(a));
  }
  const std::vector<std::vector<cv::Point>> polys = {Polygon(unit, centre, r, angle)};
  cv::fillPoly(mask, polys, cv::Scalar(255));
}

// An unnamed procedural texture of random colours over all of `c`: noisy flat colour,
// stripes or checks at a random angle and period, speckles, or smooth waves.
void PaintUnnamedTexture(cv::Mat& c, cv::RNG& rng) {
  const int w = c.cols, h = c.rows;
  const cv::Vec3b a = RandomColour(rng), b = RandomColour(rng);
  const double angle = rng.uniform(0.0, kPi), period = rng.uniform(3.0, 18.0);
  const double ca = std::cos(angle), sa = std::sin(angle);
  auto mix = [&](double t) {  // t in [0, 1]: a -> b
    return Rgb(a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1]), a[2] + t * (b[2] - a[2]));
  };
  switch (rng.uniform(0, 5)) {
    case 0:
      FillNoisy(c, a, rng.uniform(3, 30), rng);
      break;
    case 1:  // stripes
      for (int y = 0; y < h; ++y) {
        for (int x = 0; x < w; ++x) {
          const double u = (x * ca + y * sa) / period;
          c.at<cv::Vec3b>(y, x) = static_cast<int64_t>(std::floor(u)) % 2 == 0 ? a : b;
        }
      }
      break;
    case 2:  // checks
      for (int y = 0; y < h; ++y) {
        for (int x = 0; x < w; ++x) {
          const int64_t u = static_cast<int64_t>(std::floor((x * ca + y * sa) / period));
          const int64_t v = static_cast<int64_t>(std::floor((-x * sa + y * ca) / period));
          c.at<cv::Vec3b>(y, x) = (u + v) % 2 == 0 ? a : b;
        }
      }
      break;
    case 3: {  // speckles
      FillNoisy(c, a, 8, rng);
      const int count = w * h / rng.uniform(15, 80);
      for (int i = 0; i < count; ++i) {
        cv::circle(c, cv::Point(rng.uniform(0, w), rng.uniform(0, h)), rng.uniform(1, 4),
                   cv::Scalar(b[0], b[1], b[2]), cv::FILLED);
      }
      break;
    }
    default: {  // smooth waves
      const double f = rng.uniform(0.05, 0.4), g = rng.uniform(0.01, 0.1);
      for (int y = 0; y < h; ++y) {
        for (int x = 0; x < w; ++x) {
          const double u = x * ca + y * sa, v = -x * sa + y * ca;
          c.at<cv::Vec3b>(y, x) = mix(0.5 + 0.5 * std::sin(u * f + 2.0 * std::sin(v * g)));
        }
      }
      break;
    }
  }
}

std::string JoinList(const std::vector<std::string>& items) {
  if (items.size() <= 1) return items.empty() ? "" : items[0];
  return absl::StrCat(absl::StrJoin(items.begin(), items.end() - 1, ", "), " and ", items.back());
}

std::string Caption(const std::vector<std::string>& things, const std::vector<std::string>& stuff) {
  if (things.empty()) return JoinList(stuff);
  // A region caption names one thing and no stuff (a scene always shows some stuff).
  if (stuff.empty()) return JoinList(things);
  return absl::StrCat(JoinList(things), " on ", JoinList(stuff));
}

// The thing class equal to `c` but for one attribute (0 colour, 1 pattern, 2 shape),
// changed to a different value drawn from `rng`. Every combination is a class.
const SynthClass& SwapOneWord(const SynthClass& c, int attribute, cv::RNG& rng) {
  const SynthVocabulary& vocabulary = SynthVocabulary::Get();
  const int values[] = {static_cast<int>(SynthVocabulary::Colours().size()), kNumPatterns,
                        kNumShapes};
  const int current[] = {c.colour, static_cast<int>(c.pattern), static_cast<int>(c.shape)};
  int value = rng.uniform(0, values[attribute] - 1);
  if (value >= current[attribute]) ++value;  // any value but the current one
  for (int id : vocabulary.ThingIds()) {
    const SynthClass& o = vocabulary.ById(id);
    const int attributes[] = {o.colour, static_cast<int>(o.pattern), static_cast<int>(o.shape)};
    bool match = attributes[attribute] == value;
    for (int a = 0; a < 3 && match; ++a) match = a == attribute || attributes[a] == current[a];
    if (match) return o;
  }
  return c;  // unreachable: the vocabulary holds every combination
}

// `count` captions differing from the scene's in one word (SceneOptions::caption_negatives).
std::vector<std::string> NegativeCaptions(const std::vector<int>& thing_classes,
                                          const std::vector<int>& stuff_classes,
                                          const SceneOptions& options, uint64_t seed) {
  const int count = options.caption_negatives;
  const std::vector<CaptionWord>& words = options.negative_words;
  const SynthVocabulary& vocabulary = SynthVocabulary::Get();
  cv::RNG rng(MixSeed(seed, 0x4E454743) | 1);
  std::vector<std::string> out;
  const std::vector<int> all_stuff = vocabulary.StuffIds();
  // A few redraws keep the list free of repeats (two swaps to the same shape), which
  // would only cost text-encoder time; a scene with too little to swap may keep one.
  constexpr int kRedraws = 64;
  for (int k = 0, redraws = 0; k < count; ++k) {
    std::vector<int> things = thing_classes, stuff = stuff_classes;
    if (!things.empty()) {
      const int i = rng.uniform(0, static_cast<int>(things.size()));
      // Words in turn (by default colour, pattern, shape, colour, ...): every image's set
      // asks about each word, rather than leaving one unasked by chance.
      const int word = static_cast<int>(words[static_cast<size_t>(k) % words.size()]);
      things[i] = SwapOneWord(vocabulary.ById(things[i]), word, rng).id;
    } else {
      std::vector<int> absent;
      for (int id : all_stuff) {
        if (std::find(stuff.begin(), stuff.end(), id) == stuff.end()) absent.push_back(id);
      }
      if (stuff.empty() || absent.empty()) break;
      stuff[rng.uniform(0, static_cast<int>(stuff.size()))] =
          absent[rng.uniform(0, static_cast<int>(absent.size()))];
    }
    std::vector<std::string> thing_names, stuff_names;
    for (int id : things) thing_names.push_back("a " + vocabulary.ById(id).name);
    for (int id : stuff) stuff_names.push_back(vocabulary.ById(id).name);
    std::string negative = Caption(thing_names, stuff_names);
    if (std::find(out.begin(), out.end(), negative) != out.end() && redraws < kRedraws) {
      ++redraws;
      --k;  // draw this one again
      continue;
    }
    out.push_back(std::move(negative));
  }
  return out;
}

// Whether a scene category (a vocabulary class or unnamed content) is a thing.
bool IsThingCategory(int category_id) {
  if (IsUnnamedId(category_id)) return category_id == UnnamedThingId();
  return SynthVocabulary::Get().ById(category_id).isthing;
}

}  // namespace

int UnnamedThingId() { return static_cast<int>(SynthVocabulary::Get().classes().size()) + 1; }
int UnnamedStuffId() { return UnnamedThingId() + 1; }
bool IsUnnamedId(int category_id) {
  return category_id == UnnamedThingId() || category_id == UnnamedStuffId();
}

absl::StatusOr<std::vector<CaptionWord>> ParseCaptionWords(absl::string_view comma_list) {
  std::vector<CaptionWord> words;
  for (absl::string_view w : absl::StrSplit(comma_list, ',')) {
    if (w == "colour") {
      words.push_back(CaptionWord::kColour);
    } else if (w == "pattern") {
      words.push_back(CaptionWord::kPattern);
    } else if (w == "shape") {
      words.push_back(CaptionWord::kShape);
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "negative words: \"", w, "\" is not colour, pattern or shape (in \"", comma_list, "\")"));
    }
  }
  return words;
}

absl::Status ValidateSceneOptions(const SceneOptions& o) {
  if (o.min_size < 32 || o.max_size < o.min_size || o.max_size > 4096) {
    return absl::InvalidArgumentError(absl::StrCat("sizes must satisfy 32 <= min (", o.min_size,
                                                   ") <= max (", o.max_size, ") <= 4096"));
  }
  if (!(o.min_thing_radius > 0 && o.min_thing_radius <= o.max_thing_radius &&
        o.max_thing_radius <= 0.5)) {
    return absl::InvalidArgumentError(
        absl::StrCat("thing radius must satisfy 0 < min (", o.min_thing_radius, ") <= max (",
                     o.max_thing_radius, ") <= 0.5 of the shorter side"));
  }
  if (o.max_things < 0 || o.max_stuff < 1 || o.caption_negatives < 0 || o.unnamed_things < 0) {
    return absl::InvalidArgumentError(
        "counts: need max_things >= 0, max_stuff >= 1, caption_negatives >= 0, "
        "unnamed_things >= 0");
  }
  if (!(o.stuff_region_captions >= 0.0 && o.stuff_region_captions <= 1.0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "stuff_region_captions is a probability: need 0 <= ", o.stuff_region_captions, " <= 1"));
  }
  if (o.negative_words.empty()) {
    return absl::InvalidArgumentError(
        "negative_words: name at least one of colour, pattern, shape");
  }
  if (!(o.unnamed_stuff >= 0.0 && o.unnamed_stuff <= 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("unnamed_stuff is a probability: need 0 <= ", o.unnamed_stuff, " <= 1"));
  }
  return absl::OkStatus();
}

SynthScene GenerateScene(uint64_t seed, const SceneOptions& options) {
  const SynthVocabulary& vocabulary = SynthVocabulary::Get();
  cv::RNG rng(seed == 0 ? 1 : seed);  // cv::RNG maps 0 to a fixed state of its own
  const int lo = std::max(32, options.min_size / 32 * 32);
  const int hi = std::max(lo, options.max_size / 32 * 32);
  SynthScene scene;
  scene.width = rng.uniform(lo / 32, hi / 32 + 1) * 32;
  scene.height = rng.uniform(lo / 32, hi / 32 + 1) * 32;
  const int w = scene.width, h = scene.height;
  cv::Mat canvas(h, w, CV_8UC3);
  cv::Mat ids(h, w, CV_32SC1, cv::Scalar(0));

  // Stuff: 1..max_stuff distinct textures in wavy bands, sky first when drawn.
  // The classes a scene may draw: all, or the seen ones for generator data.
  const auto drawable = [&](std::vector<int> ids) {
    if (options.seen_classes_only) {
      const auto unseen = [&](int id) { return !vocabulary.ById(id).seen; };
      ids.erase(std::remove_if(ids.begin(), ids.end(), unseen), ids.end());
    }
    return ids;
  };
  std::vector<int> stuff = drawable(vocabulary.StuffIds());
  for (int i = static_cast<int>(stuff.size()) - 1; i > 0; --i) {
    std::swap(stuff[i], stuff[rng.uniform(0, i + 1)]);
  }
  stuff.resize(rng.uniform(1, std::max(1, options.max_stuff) + 1));
  std::stable_partition(stuff.begin(), stuff.end(),
                        [&](int id) { return vocabulary.ById(id).texture == Texture::kSky; });
  std::vector<double> cuts;  // band boundaries (fractions of the height)
  for (size_t k = 1; k < stuff.size(); ++k) cuts.push_back(rng.uniform(0.2, 0.8));
  std::sort(cuts.begin(), cuts.end());
  const double amplitude = rng.uniform(0.0, 0.08) * h, frequency = rng.uniform(0.01, 0.06);
  const double phase = rng.uniform(0.0, 2 * kPi);
  uint32_t next_id = 1;
  std::vector<int> category_of;  // by segment id - 1
  cv::Mat texture(h, w, CV_8UC3);
  for (size_t k = 0; k < stuff.size(); ++k) {
    // Drawn only when asked for, so scenes without unnamed content keep their seeds' pixels.
    if (options.unnamed_stuff > 0.0 && rng.uniform(0.0, 1.0) < options.unnamed_stuff) {
      PaintUnnamedTexture(texture, rng);
      category_of.push_back(UnnamedStuffId());
    } else {
      PaintTexture(vocabulary.ById(stuff[k]).texture, texture, rng);
      category_of.push_back(stuff[k]);
    }
    const uint32_t id = next_id++;
    for (int y = 0; y < h; ++y) {
      for (int x = 0; x < w; ++x) {
        // Boundary j between bands j and j + 1, the same curve from both sides.
        auto boundary = [&](size_t j) {
          return cuts[j] * h + amplitude * std::sin(frequency * x + phase + 1.7 * j);
        };
        const double top = k == 0 ? -1e9 : boundary(k - 1);
        const double bottom = k + 1 == stuff.size() ? 1e9 : boundary(k);
        if (y >= top && y < bottom) {
          canvas.at<cv::Vec3b>(y, x) = texture.at<cv::Vec3b>(y, x);
          ids.at<int32_t>(y, x) = static_cast<int32_t>(id);
        }
      }
    }
  }

  // Things, each over the ones before.
  const std::vector<int> things = drawable(vocabulary.ThingIds());
  const int n_things = rng.uniform(0, std::max(0, options.max_things) + 1);
  int n_unnamed = options.unnamed_things > 0 ? rng.uniform(0, options.unnamed_things + 1) : 0;
  cv::Mat mask(h, w, CV_8UC1);
  for (int left = n_things + n_unnamed; left > 0; --left) {
    // Named and unnamed things in random order, so either occludes the other.
    const bool unnamed = n_unnamed > 0 && rng.uniform(0, left) < n_unnamed;
    const SynthClass* c = nullptr;
    if (unnamed) {
      --n_unnamed;
    } else {
      c = &vocabulary.ById(things[rng.uniform(0, static_cast<int>(things.size()))]);
    }
    const double r =
        rng.uniform(options.min_thing_radius, options.max_thing_radius) * std::min(w, h);
    // The same two draws either way, so scenes without the option keep their pixels; y
    // first, the order in which GCC evaluated the arguments of the earlier
    // cv::Point2d(uniform * w, uniform * h) that made the published splits.
    const double fy = rng.uniform(0.1, 0.9);
    const double fx = rng.uniform(0.1, 0.9);
    const cv::Point2d centre = options.things_inside
                                   ? cv::Point2d(InsideCentre(fx, r, w), InsideCentre(fy, r, h))
                                   : cv::Point2d(fx * w, fy * h);
    const double angle = rng.uniform(0.0, 2 * kPi);
    mask.setTo(0);
    if (unnamed) {
      DrawUnnamedShape(mask, centre, r, angle, rng);
      PaintSurface(RandomColour(rng), static_cast<Pattern>(rng.uniform(0, kNumPatterns)), mask,
                   canvas, angle, r, rng);
    } else {
      DrawShape(c->shape, mask, centre, r, angle);
      PaintThing(*c, mask, canvas, angle, r, rng);
    }
    const uint32_t id = next_id++;
    category_of.push_back(unnamed ? UnnamedThingId() : c->id);
    ids.setTo(cv::Scalar(static_cast<int>(id)), mask);
  }

  // Sensor noise and blur.
  const double sigma = rng.uniform(0.0, options.max_noise_sigma);
  if (sigma > 0.5) {
    cv::Mat noise(h, w, CV_16SC3);
    rng.fill(noise, cv::RNG::NORMAL, 0.0, sigma);
    cv::Mat wide;
    canvas.convertTo(wide, CV_16SC3);
    wide += noise;
    wide.convertTo(canvas, CV_8UC3);
  }
  if (rng.uniform(0.0, 1.0) < options.blur_probability) {
    const int k = rng.uniform(0, 2) == 0 ? 3 : 5;
    cv::GaussianBlur(canvas, canvas, cv::Size(k, k), 0);
  }

  // Segments: areas after occlusion; things too small to see become VOID.
  scene.ids.assign(ids.begin<int32_t>(), ids.end<int32_t>());
  absl::flat_hash_map<uint32_t, int64_t> area;
  for (uint32_t id : scene.ids) ++area[id];
  std::vector<bool> keep(category_of.size(), false);
  for (size_t s = 0; s < category_of.size(); ++s) {
    const int64_t a = area.contains(s + 1) ? area[s + 1] : 0;
    const bool thing = IsThingCategory(category_of[s]);
    keep[s] = a > 0 && (!thing || a >= options.min_thing_area);
  }
  for (uint32_t& id : scene.ids) {
    if (id != 0 && !keep[id - 1]) id = 0;
  }
  std::vector<std::string> thing_names, stuff_names;
  std::vector<int> thing_classes, stuff_classes;
  for (size_t s = 0; s < category_of.size(); ++s) {
    if (!keep[s]) continue;
    PanopticSegment segment;
    segment.id = static_cast<uint32_t>(s + 1);
    segment.category_id = category_of[s];
    scene.segments.push_back(segment);
    if (IsUnnamedId(segment.category_id)) continue;  // no word names it
    const SynthClass& c = vocabulary.ById(category_of[s]);
    (c.isthing ? thing_names : stuff_names).push_back(c.isthing ? "a " + c.name : c.name);
    (c.isthing ? thing_classes : stuff_classes).push_back(c.id);
  }
  scene.caption = Caption(thing_names, stuff_names);
  scene.negative_captions = NegativeCaptions(thing_classes, stuff_classes, options, seed);
  if (options.region_captions) {
    for (const PanopticSegment& segment : scene.segments) {
      if (IsUnnamedId(segment.category_id)) continue;
      const SynthClass& c = vocabulary.ById(segment.category_id);
      // Each region's draws from a stream of its own, so they do not depend on the
      // scene's other regions.
      const uint64_t stream = MixSeed(seed, 0x52454700 + segment.id);
      if (!c.isthing && cv::RNG(stream | 1).uniform(0.0, 1.0) >= options.stuff_region_captions) {
        continue;
      }
      const std::vector<int> thing = c.isthing ? std::vector<int>{c.id} : std::vector<int>{};
      const std::vector<int> stuff = c.isthing ? std::vector<int>{} : std::vector<int>{c.id};
      scene.regions.push_back({segment.id, c.isthing ? "a " + c.name : c.name,
                               NegativeCaptions(thing, stuff, options, stream)});
    }
  }
  scene.rgb.assign(canvas.data, canvas.data + canvas.total() * 3);
  return scene;
}

}  // namespace ovseg
