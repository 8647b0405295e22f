#include "server/service/request_memory.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace ovseg {
namespace {

std::string Bytes(uint64_t b) {
  if (b >= (uint64_t{1} << 30)) return absl::StrFormat("%.1f GB", b / double(uint64_t{1} << 30));
  if (b >= (uint64_t{1} << 20)) return absl::StrFormat("%.1f MB", b / double(uint64_t{1} << 20));
  if (b >= 1024) return absl::StrFormat("%.1f KB", b / 1024.0);
  return absl::StrCat(b, " B");
}

}  // namespace

std::string RequestMemoryEstimate::Describe() const {
  return absl::StrCat(Bytes(total()), " (decode ", Bytes(decode), ", regions ", Bytes(regions),
                      ", model ", Bytes(model), ", encode ", Bytes(encode), ")");
}

RequestMemoryEstimate EstimateRequestMemory(const RequestShape& s) {
  RequestMemoryEstimate e;
  // Decoded RGB plus OpenCV's BGR buffer it is converted from; the bucket-sized copy.
  e.decode = s.image_pixels * 6 + s.bucket_pixels * 3;
  // A region is decoded at full size (up to 8 bytes a pixel: 16-bit RGBA PNG) one at a
  // time; every region is kept at the bucket size, as bytes and as float logits.
  if (s.regions > 0) e.regions = s.image_pixels * 8 + s.regions * s.bucket_pixels * 13;
  // At the bucket size: every proposal's mask logits and probabilities (floats); for
  // SEMANTIC one float score map per class; for INSTANCE and PROPOSALS every kept
  // segment's soft mask byte and two floats.
  const uint64_t proposals = std::max(kEstimatedProposals, s.regions);
  e.model = proposals * s.bucket_pixels * 8;
  if (s.semantic) e.model += s.labels * s.bucket_pixels * 4;
  if (s.per_segment_masks) e.model += s.max_segments * s.bucket_pixels * 9;
  // At full size: the segment-id map (int32), the semantic label map (int32), the one
  // mask being encoded; then every encoded mask.
  e.encode = s.image_pixels * (4 + 1 + (s.semantic_map ? 4 : 0));
  if (s.masks) e.encode += s.max_segments * ((s.image_pixels + 7) / 8);
  return e;
}

absl::Status CheckRequestMemory(const RequestShape& shape, uint64_t limit) {
  const RequestMemoryEstimate e = EstimateRequestMemory(shape);
  if (e.total() <= limit) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "request: needs up to ", e.Describe(), " for a ", shape.image_pixels, "-pixel image and ",
      shape.max_segments, " segments, over limits.max_request_memory_bytes = ", limit,
      "; ask for fewer segments (options.max_segments), labels or regions, or NO_MASK, or send "
      "a smaller image"));
}

absl::Status InflightMemory::Reserve(uint64_t bytes) {
  uint64_t used = used_.load(std::memory_order_acquire);
  do {
    if (used + bytes > limit_) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "server busy: requests in flight may use ", used, " bytes, and this one up to ", bytes,
          " more, over limits.max_inflight_memory_bytes = ", limit_, "; retry later"));
    }
  } while (!used_.compare_exchange_weak(used, used + bytes, std::memory_order_acq_rel));
  return absl::OkStatus();
}

}  // namespace ovseg
