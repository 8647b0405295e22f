// Mask and label-map encodings other than RLE: PNG and polygons (OpenCV), plus the box
// and area of a binary mask.
#ifndef OVSEG_SERVER_ENCODE_MASK_CODECS_H_
#define OVSEG_SERVER_ENCODE_MASK_CODECS_H_

#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace ovseg {

// `mask` is CV_8UC1, non-zero = foreground. Encodes an 8-bit PNG with values 0 / 255.
std::string EncodeMaskPng(const cv::Mat& mask);

// Outer contours (no holes) as flattened x, y pixel coordinates; contours with fewer than
// three points are skipped, as COCO polygons need an area.
std::vector<std::vector<float>> MaskToPolygons(const cv::Mat& mask);

// `labels` is CV_32SC1 with -1 for "no label". Encodes 8-bit PNG (255 = none) when
// num_labels <= 255, else 16-bit PNG (65535 = none).
std::string EncodeLabelMapPng(const cv::Mat& labels, int num_labels);

// Decodes a single-channel PNG (8- or 16-bit) as CV_8UC1 or CV_16UC1.
absl::StatusOr<cv::Mat> DecodeGrayPng(const std::string& png);

}  // namespace ovseg

#endif  // OVSEG_SERVER_ENCODE_MASK_CODECS_H_
