#include "datasets/augmentation.h"

#include <algorithm>
#include <cmath>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

namespace ovseg {
namespace {

constexpr uint8_t kImagePad = 128;

// The sample resized to w x h (image bilinear, maps nearest).
Sample Resized(const Sample& s, int w, int h) {
  Sample out = s;
  out.width = w;
  out.height = h;
  const cv::Mat rgb(s.height, s.width, CV_8UC3, const_cast<uint8_t*>(s.rgb.data()));
  cv::Mat image;
  cv::resize(rgb, image, cv::Size(w, h), 0, 0, cv::INTER_LINEAR);
  out.rgb.assign(image.data, image.data + image.total() * 3);
  if (!s.ids.empty()) {
    const cv::Mat ids(s.height, s.width, CV_32SC1, const_cast<uint32_t*>(s.ids.data()));
    cv::Mat r;
    cv::resize(ids, r, cv::Size(w, h), 0, 0, cv::INTER_NEAREST);
    out.ids.assign(r.ptr<uint32_t>(), r.ptr<uint32_t>() + r.total());
  }
  if (!s.labels.empty()) {
    const cv::Mat labels(s.height, s.width, CV_32SC1, const_cast<int32_t*>(s.labels.data()));
    cv::Mat r;
    cv::resize(labels, r, cv::Size(w, h), 0, 0, cv::INTER_NEAREST);
    out.labels.assign(r.ptr<int32_t>(), r.ptr<int32_t>() + r.total());
  }
  return out;
}

// Window [x0, x0 + w) x [y0, y0 + h) of s; outside the sample is padding.
Sample Window(const Sample& s, int x0, int y0, int w, int h) {
  Sample out = s;
  out.width = w;
  out.height = h;
  out.rgb.assign(static_cast<size_t>(w) * h * 3, kImagePad);
  if (!s.ids.empty()) out.ids.assign(static_cast<size_t>(w) * h, 0);
  if (!s.labels.empty()) out.labels.assign(static_cast<size_t>(w) * h, s.ignore);
  for (int y = std::max(0, -y0); y < h && y0 + y < s.height; ++y) {
    for (int x = std::max(0, -x0); x < w && x0 + x < s.width; ++x) {
      const size_t from = static_cast<size_t>(y0 + y) * s.width + (x0 + x);
      const size_t to = static_cast<size_t>(y) * w + x;
      std::copy_n(&s.rgb[from * 3], 3, &out.rgb[to * 3]);
      if (!s.ids.empty()) out.ids[to] = s.ids[from];
      if (!s.labels.empty()) out.labels[to] = s.labels[from];
    }
  }
  return out;
}

void DropVanishedSegments(Sample* s) {
  if (s->segments.empty()) return;
  KeepVisibleSegments(s->width, s->height, s->ids, &s->segments);
}

}  // namespace

Sample HorizontalFlip(const Sample& s) {
  Sample out = s;
  for (int y = 0; y < s.height; ++y) {
    for (int x = 0; x < s.width; ++x) {
      const size_t from = static_cast<size_t>(y) * s.width + x;
      const size_t to = static_cast<size_t>(y) * s.width + (s.width - 1 - x);
      std::copy_n(&s.rgb[from * 3], 3, &out.rgb[to * 3]);
      if (!s.ids.empty()) out.ids[to] = s.ids[from];
      if (!s.labels.empty()) out.labels[to] = s.labels[from];
    }
  }
  DropVanishedSegments(&out);  // boxes move
  return out;
}

Sample LargeScaleJitter(const Sample& s, const JitterOptions& o, uint64_t seed) {
  cv::RNG rng(seed == 0 ? 1 : seed);
  const double scale = rng.uniform(o.min_scale, o.max_scale);
  const double fit = std::min(o.crop * scale / s.height, o.crop * scale / s.width);
  const int w = std::max(1, static_cast<int>(std::lround(s.width * fit)));
  const int h = std::max(1, static_cast<int>(std::lround(s.height * fit)));
  Sample out = Resized(s, w, h);
  // A random crop where the image is larger than the window; padding where smaller.
  const int x0 = w > o.crop ? rng.uniform(0, w - o.crop + 1) : 0;
  const int y0 = h > o.crop ? rng.uniform(0, h - o.crop + 1) : 0;
  out = Window(out, x0, y0, o.crop, o.crop);
  if (o.flip && rng.uniform(0, 2) == 1) out = HorizontalFlip(out);
  DropVanishedSegments(&out);
  return out;
}

Sample ResizeShorterSide(const Sample& s, int shorter, int max_longer) {
  double scale = static_cast<double>(shorter) / std::min(s.width, s.height);
  if (max_longer > 0)
    scale = std::min(scale, static_cast<double>(max_longer) / std::max(s.width, s.height));
  Sample out = Resized(s, std::max(1, static_cast<int>(std::lround(s.width * scale))),
                       std::max(1, static_cast<int>(std::lround(s.height * scale))));
  DropVanishedSegments(&out);
  return out;
}

}  // namespace ovseg
