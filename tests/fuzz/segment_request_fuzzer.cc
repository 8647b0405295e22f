// libFuzzer target: a SegmentRequest off the wire (protobuf parsing as the raw gRPC
// handler does) through ParseSegmentRequest with the default limits: labels, synonyms,
// UTF-8, options, thresholds, regions count, image header, memory estimate. Seeds are
// serialized requests (tests/fuzz/corpus/segment_request, made by protoc --encode).
#include <cstddef>
#include <cstdint>

#include "server/config/config_loader.h"
#include "server/service/segment_request_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const ovseg::v1::ServerConfig* config = [] {
    auto parsed = ovseg::ParseServerConfig("", "fuzz");
    return new ovseg::v1::ServerConfig(*parsed);
  }();
  static ovseg::VocabularyRegistry* registry = new ovseg::VocabularyRegistry(16);
  ovseg::v1::SegmentRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  ovseg::SegmentWork work;
  (void)ovseg::ParseSegmentRequest(request, *config, *registry, &work);
  return 0;
}
