// gRPC handlers of ovseg.v1.Segmentation (callback API). Thin: parse, hand the request to
// the transport-independent frontend (segmentation_frontend.h, shared with the HTTP
// gateway), convert the status, record the call. Handlers never block: Segment completes
// from the processor's callback, RegisterVocabulary from the vocabulary worker.
#ifndef OVSEG_SERVER_SERVICE_SEGMENTATION_SERVICE_H_
#define OVSEG_SERVER_SERVICE_SEGMENTATION_SERVICE_H_

#include <memory>

#include "ovseg/v1/segmentation.grpc.pb.h"
#include "server/service/call_record.h"
#include "server/service/segmentation_frontend.h"

namespace ovseg {

// Segment and RegisterVocabulary are raw methods: they parse their requests themselves,
// so a message protobuf cannot parse (invalid UTF-8 in a label, random bytes) gets
// INVALID_ARGUMENT saying so, instead of gRPC's bare error with no message.
class SegmentationService final : public v1::Segmentation::WithRawCallbackMethod_Segment<
                                      v1::Segmentation::WithRawCallbackMethod_RegisterVocabulary<
                                          v1::Segmentation::CallbackService>> {
 public:
  // Both must outlive the service.
  SegmentationService(SegmentationFrontend* frontend, const CallObservers& observers)
      : frontend_(frontend), observers_(observers) {}

  grpc::ServerUnaryReactor* Segment(grpc::CallbackServerContext* context,
                                    const grpc::ByteBuffer* request,
                                    grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* RegisterVocabulary(grpc::CallbackServerContext* context,
                                               const grpc::ByteBuffer* request,
                                               grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetModelInfo(grpc::CallbackServerContext* context,
                                         const v1::GetModelInfoRequest* request,
                                         v1::GetModelInfoResponse* response) override;

 private:
  SegmentationFrontend* const frontend_;
  const CallObservers observers_;
};

}  // namespace ovseg

#endif  // OVSEG_SERVER_SERVICE_SEGMENTATION_SERVICE_H_
