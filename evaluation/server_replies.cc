#include "evaluation/server_replies.h"

#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "evaluation/semantic_metrics.h"

namespace ovseg {

OvsegClient MakeEvalClient(const ServerEvalOptions& o) {
  ClientOptions options{o.server, o.tls_root_certs, o.timeout};
  options.tls_cert_chain = o.tls_cert_chain;
  options.tls_private_key = o.tls_private_key;
  return OvsegClient(options);
}

absl::StatusOr<v1::SegmentRequest> EvalRequest(const std::string& image_path,
                                               const std::vector<CocoCategory>& categories,
                                               v1::Task task, const ServerEvalOptions& options) {
  std::ifstream in(image_path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(image_path, ": missing"));
  v1::SegmentRequest request;
  request.mutable_image()->set_encoded(std::string((std::istreambuf_iterator<char>(in)), {}));
  for (const CocoCategory& c : categories) {
    v1::Label* label = request.mutable_labels()->add_labels();
    std::vector<std::string> names = {c.category.name};
    names.insert(names.end(), c.synonyms.begin(), c.synonyms.end());
    label->set_name(absl::StrJoin(names, ","));
    label->set_is_thing(c.category.isthing);
  }
  request.set_task(task);
  request.mutable_options()->set_score_threshold(options.score_threshold);
  request.mutable_options()->set_mask_format(v1::PNG);
  request.mutable_options()->set_return_semantic_map(task == v1::SEMANTIC);
  if (options.object_mask_threshold) {
    request.mutable_options()->set_object_mask_threshold(*options.object_mask_threshold);
  }
  if (options.overlap_threshold) {
    request.mutable_options()->set_overlap_threshold(*options.overlap_threshold);
  }
  return request;
}

absl::StatusOr<GroundTruthImage> ReadGroundTruthImage(
    const std::string& gt_json, const std::string& gt_dir, const std::string& image_dir,
    const absl::flat_hash_map<int64_t, const CocoImageInfo*>& images,
    const CocoPanopticAnnotation& annotation) {
  const auto info = images.find(annotation.image_id);
  if (info == images.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat(gt_json, ": image_id ", annotation.image_id, " is not in images"));
  }
  absl::StatusOr<PanopticImage> truth = ReadPanopticPng(gt_dir, annotation);
  if (!truth.ok()) return truth.status();
  return GroundTruthImage{*std::move(truth),
                          (std::filesystem::path(image_dir) / info->second->file_name).string()};
}

absl::StatusOr<v1::SegmentResponse> SendEvalRequest(OvsegClient& client,
                                                    const std::string& image_path,
                                                    const v1::SegmentRequest& request) {
  absl::StatusOr<v1::SegmentResponse> response = client.Segment(request);
  if (!response.ok()) {
    return absl::Status(response.status().code(),
                        absl::StrCat(image_path, ": ", response.status().message()));
  }
  return response;
}

absl::StatusOr<cv::Mat> DecodeReplyPng(const std::string& png, int width, int height,
                                       const std::string& where) {
  const cv::Mat buffer(1, static_cast<int>(png.size()), CV_8UC1, const_cast<char*>(png.data()));
  cv::Mat mask = cv::imdecode(buffer, cv::IMREAD_UNCHANGED);
  if (mask.empty() || mask.channels() != 1 || mask.cols != width || mask.rows != height) {
    return absl::DataLossError(absl::StrCat(where, ": the server's mask is not a ", width, "x",
                                            height, " single-channel PNG"));
  }
  return mask;
}

absl::StatusOr<PanopticImage> PanopticFromReply(const v1::SegmentResponse& reply,
                                                const std::vector<CocoCategory>& categories,
                                                int width, int height, const std::string& name,
                                                const std::string& where) {
  PanopticImage pred;
  pred.name = name;
  pred.width = width;
  pred.height = height;
  pred.ids.assign(static_cast<size_t>(width) * height, 0);
  for (const v1::Segment& s : reply.segments()) {
    if (s.label_index() >= categories.size()) {
      return absl::DataLossError(
          absl::StrCat(where, ": label_index ", s.label_index(), " outside the vocabulary"));
    }
    absl::StatusOr<cv::Mat> mask = DecodeReplyPng(s.png(), width, height, where);
    if (!mask.ok()) return mask.status();
    for (int y = 0; y < height; ++y) {
      const uint8_t* row = mask->ptr<uint8_t>(y);
      for (int x = 0; x < width; ++x) {
        if (row[x] != 0) pred.ids[static_cast<size_t>(y) * width + x] = s.id();
      }
    }
    PanopticSegment segment;
    segment.id = s.id();
    segment.category_id = categories[s.label_index()].category.id;
    pred.segments.push_back(segment);
  }
  // A segment whose pixels all went to later ones is not in the PNG; drop it.
  KeepVisibleSegments(width, height, pred.ids, &pred.segments);
  return pred;
}

absl::StatusOr<std::vector<int32_t>> LabelIndicesFromReply(const v1::SegmentResponse& reply,
                                                           int width, int height,
                                                           const std::string& where) {
  absl::StatusOr<cv::Mat> map = DecodeReplyPng(reply.semantic_map_png(), width, height, where);
  if (!map.ok()) return map.status();
  const bool wide = map->depth() == CV_16U;
  const int none = wide ? 65535 : 255;
  std::vector<int32_t> out(static_cast<size_t>(width) * height);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const int v = wide ? map->at<uint16_t>(y, x) : map->at<uint8_t>(y, x);
      out[static_cast<size_t>(y) * width + x] = v == none ? SemanticMetrics::kNoPrediction : v;
    }
  }
  return out;
}

absl::StatusOr<std::vector<std::vector<uint8_t>>> MasksFromReply(const v1::SegmentResponse& reply,
                                                                 int width, int height,
                                                                 const std::string& where) {
  std::vector<std::vector<uint8_t>> masks;
  for (const v1::Segment& s : reply.segments()) {
    absl::StatusOr<cv::Mat> mask = DecodeReplyPng(s.png(), width, height, where);
    if (!mask.ok()) return mask.status();
    std::vector<uint8_t>& m = masks.emplace_back(static_cast<size_t>(width) * height);
    for (int y = 0; y < height; ++y) {
      const uint8_t* row = mask->ptr<uint8_t>(y);
      for (int x = 0; x < width; ++x) m[static_cast<size_t>(y) * width + x] = row[x] != 0;
    }
  }
  return masks;
}

}  // namespace ovseg
