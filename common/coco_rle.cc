#include "common/coco_rle.h"

#include "absl/strings/str_cat.h"

namespace ovseg {

CocoRleMask EncodeRle(const uint8_t* mask, int height, int width) {
  CocoRleMask rle;
  rle.height = height;
  rle.width = width;
  uint8_t current = 0;  // Runs alternate starting with background.
  uint32_t run = 0;
  for (int x = 0; x < width; ++x) {
    for (int y = 0; y < height; ++y) {
      const uint8_t v = mask[static_cast<size_t>(y) * width + x] != 0;
      if (v != current) {
        rle.counts.push_back(run);
        run = 0;
        current = v;
      }
      ++run;
    }
  }
  rle.counts.push_back(run);
  return rle;
}

std::string RleCountsToString(const std::vector<uint32_t>& counts) {
  // Each count (delta-coded against the count two back, from the fourth on) is written as
  // 5-bit groups, least significant first, with a continuation bit (0x20) and offset 48.
  std::string out;
  for (size_t i = 0; i < counts.size(); ++i) {
    int64_t x = counts[i];
    if (i > 2) x -= static_cast<int64_t>(counts[i - 2]);
    bool more = true;
    while (more) {
      int64_t c = x & 0x1F;
      x >>= 5;  // Arithmetic shift, as in pycocotools (x is a signed long there).
      more = (c & 0x10) ? x != -1 : x != 0;
      if (more) c |= 0x20;
      out.push_back(static_cast<char>(c + 48));
    }
  }
  return out;
}

absl::StatusOr<std::vector<uint32_t>> RleCountsFromString(const std::string& text) {
  std::vector<uint32_t> counts;
  size_t p = 0;
  while (p < text.size()) {
    int64_t x = 0;
    int k = 0;
    bool more = true;
    while (more) {
      if (p >= text.size()) return absl::InvalidArgumentError("RLE counts: truncated value");
      const int64_t c = static_cast<int64_t>(text[p]) - 48;
      if (c < 0 || c > 63) return absl::InvalidArgumentError("RLE counts: invalid character");
      if (k >= 12) return absl::InvalidArgumentError("RLE counts: value too long");
      x |= (c & 0x1F) << (5 * k);
      more = (c & 0x20) != 0;
      ++p;
      ++k;
      if (!more && (c & 0x10)) x |= -(int64_t{1} << (5 * k));  // Sign-extend.
    }
    if (counts.size() > 2) x += counts[counts.size() - 2];
    if (x < 0 || x > UINT32_MAX) return absl::InvalidArgumentError("RLE counts: run out of range");
    counts.push_back(static_cast<uint32_t>(x));
  }
  return counts;
}

absl::StatusOr<std::vector<uint8_t>> DecodeRle(const CocoRleMask& rle) {
  const uint64_t total = uint64_t(rle.height) * rle.width;
  uint64_t sum = 0;
  for (uint32_t c : rle.counts) sum += c;
  if (sum != total) {
    return absl::InvalidArgumentError(
        absl::StrCat("RLE counts cover ", sum, " pixels, mask has ", total));
  }
  std::vector<uint8_t> mask(total, 0);
  uint64_t pos = 0;
  for (size_t i = 0; i < rle.counts.size(); ++i) {
    if (i % 2 == 1) {
      for (uint64_t k = pos; k < pos + rle.counts[i]; ++k) {
        // Column-major index k -> row-major (y, x).
        const uint64_t x = k / rle.height, y = k % rle.height;
        mask[y * rle.width + x] = 1;
      }
    }
    pos += rle.counts[i];
  }
  return mask;
}

}  // namespace ovseg
