#include "server/http/form_request.h"

#include <set>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/client_text.h"

namespace ovseg {
namespace {

absl::Status Invalid(const std::string& field, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat("form field ", field, ": ", why));
}

// An enum value by its proto name, case-insensitive: "panoptic" or "PANOPTIC".
template <typename Enum, typename ParseFn>
absl::Status ParseEnum(const FormField& f, ParseFn parse, const std::vector<std::string>& names,
                       Enum* out) {
  if (parse(absl::AsciiStrToUpper(absl::StripAsciiWhitespace(f.content)), out)) {
    return absl::OkStatus();
  }
  return Invalid(f.name, absl::StrCat(QuoteClientText(f.content), " is not one of ",
                                      absl::StrJoin(names, ", ")));
}

absl::Status ParseFloat(const FormField& f, float* out) {
  if (absl::SimpleAtof(absl::StripAsciiWhitespace(f.content), out)) return absl::OkStatus();
  return Invalid(f.name, absl::StrCat(QuoteClientText(f.content), " is not a number"));
}

std::vector<std::string> CommaList(const std::string& text) {
  std::vector<std::string> out;
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    part = absl::StripAsciiWhitespace(part);
    if (!part.empty()) out.emplace_back(part);
  }
  return out;
}

}  // namespace

absl::StatusOr<v1::SegmentRequest> SegmentRequestFromForm(const std::vector<FormField>& fields) {
  v1::SegmentRequest request;
  v1::SegmentOptions* options = request.mutable_options();
  std::set<std::string> seen;
  std::vector<std::string> stuff;
  bool has_labels = false, has_vocabulary_id = false;
  for (const FormField& f : fields) {
    const bool repeatable = f.name == "labels" || f.name == "label" || f.name == "region";
    if (!repeatable && !seen.insert(f.name).second) return Invalid(f.name, "given twice");
    if (f.name == "image") {
      if (f.content.empty()) return Invalid("image", "empty");
      request.mutable_image()->set_encoded(f.content);
    } else if (f.name == "labels") {
      for (const std::string& name : CommaList(f.content)) {
        request.mutable_labels()->add_labels()->set_name(name);
      }
      has_labels = true;
    } else if (f.name == "label") {
      request.mutable_labels()->add_labels()->set_name(
          std::string(absl::StripAsciiWhitespace(f.content)));
      has_labels = true;
    } else if (f.name == "vocabulary_id") {
      request.set_vocabulary_id(std::string(absl::StripAsciiWhitespace(f.content)));
      has_vocabulary_id = true;
    } else if (f.name == "stuff") {
      stuff = CommaList(f.content);
    } else if (f.name == "task") {
      v1::Task task;
      if (absl::Status s = ParseEnum(f, v1::Task_Parse,
                                     {"semantic", "panoptic", "instance", "proposals"}, &task);
          !s.ok()) {
        return s;
      }
      request.set_task(task);
    } else if (f.name == "head_mode") {
      v1::HeadMode mode;
      if (absl::Status s = ParseEnum(f, v1::HeadMode_Parse, {"mask", "dense", "fused"}, &mode);
          !s.ok()) {
        return s;
      }
      options->set_head_mode(mode);
    } else if (f.name == "mask_format") {
      v1::MaskFormat format;
      if (absl::Status s = ParseEnum(f, v1::MaskFormat_Parse,
                                     {"coco_rle", "png", "polygon", "no_mask"}, &format);
          !s.ok()) {
        return s;
      }
      options->set_mask_format(format);
    } else if (f.name == "max_segments") {
      uint32_t n;
      if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(f.content), &n)) {
        return Invalid(f.name, absl::StrCat(QuoteClientText(f.content), " is not a count"));
      }
      options->set_max_segments(n);
    } else if (f.name == "score_threshold" || f.name == "object_mask_threshold" ||
               f.name == "overlap_threshold") {
      float v;
      if (absl::Status s = ParseFloat(f, &v); !s.ok()) return s;
      if (f.name == "score_threshold") options->set_score_threshold(v);
      if (f.name == "object_mask_threshold") options->set_object_mask_threshold(v);
      if (f.name == "overlap_threshold") options->set_overlap_threshold(v);
    } else if (f.name == "return_semantic_map") {
      bool v;
      if (!absl::SimpleAtob(absl::StripAsciiWhitespace(f.content), &v)) {
        return Invalid(f.name, absl::StrCat(QuoteClientText(f.content), " is not true or false"));
      }
      options->set_return_semantic_map(v);
    } else if (f.name == "region") {
      request.add_regions()->set_png(f.content);
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown form field ", QuoteClientText(f.name),
          " (known: image, labels, label, vocabulary_id, stuff, task, head_mode, mask_format, "
          "max_segments, score_threshold, object_mask_threshold, overlap_threshold, "
          "return_semantic_map, region)"));
    }
  }
  if (!request.has_image()) return Invalid("image", "missing (send the file as -F image=@FILE)");
  if (has_labels && has_vocabulary_id) {
    return Invalid("vocabulary_id", "give labels or vocabulary_id, not both");
  }
  for (const std::string& name : stuff) {
    bool found = false;
    for (v1::Label& label : *request.mutable_labels()->mutable_labels()) {
      const std::string first(absl::StripAsciiWhitespace(
          absl::string_view(label.name()).substr(0, label.name().find(','))));
      if (first == name) {
        label.set_is_thing(false);
        found = true;
      }
    }
    if (!found) return Invalid("stuff", absl::StrCat(QuoteClientText(name), " is not a label"));
  }
  return request;
}

}  // namespace ovseg
