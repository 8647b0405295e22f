// The HTTP/JSON port: the Segmentation API for clients without gRPC (curl, browsers,
// scripts), plus the playground page and health endpoints for load balancers. Every call
// goes through the same SegmentationFrontend as gRPC, so validation, limits, admission,
// batching and metrics are the gRPC path's; only the wire differs (json_codec.h,
// form_request.h). Routes:
//   POST /v1/segment        SegmentRequest as JSON, or a multipart form (form_request.h)
//                           -> SegmentResponse as JSON
//   POST /v1/vocabularies   RegisterVocabularyRequest -> RegisterVocabularyResponse
//   GET  /v1/model          GetModelInfoResponse
//   GET  /healthz           200 while the process answers (liveness)
//   GET  /readyz            200 while serving, 503 while warming up or draining
//   GET  /                  the playground page (playground_page.h)
// Errors: the gRPC code's HTTP status and {"error": {code, status, message}}; a refusal
// with retry advice carries "Retry-After" (whole seconds, rounded up) and
// "X-Retry-After-Ms". Request headers: "X-Request-Id" (echoed; else generated) and
// "X-Request-Timeout-Ms" (the call's deadline, as gRPC's deadline; none: no deadline).
//
// Threading: cpp-httplib's thread-per-connection model on a pool of `threads`; a Segment
// handler blocks its thread until the frontend answers, so `threads` bounds the HTTP calls
// in flight (more connections wait for a thread).
#ifndef OVSEG_SERVER_HTTP_HTTP_GATEWAY_H_
#define OVSEG_SERVER_HTTP_HTTP_GATEWAY_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "ovseg/v1/config.pb.h"
#include "server/service/call_record.h"
#include "server/service/segmentation_frontend.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace ovseg {

struct HttpGatewayOptions {
  std::string address;  // "host:port"; port 0 picks a free one.
  int threads = 16;
  uint64_t max_body_bytes = 0;  // Larger request bodies are refused with 413.
  v1::TlsConfig tls;            // With a certificate: HTTPS (client CA when required).
};

class HttpGateway {
 public:
  // Binds and starts serving. `frontend` and the observers must outlive the gateway.
  static absl::StatusOr<std::unique_ptr<HttpGateway>> Start(const HttpGatewayOptions& options,
                                                            SegmentationFrontend* frontend,
                                                            const CallObservers& observers);
  ~HttpGateway();  // Stop()s.

  int port() const { return port_; }

  // How a handler ended, for the call's record: its status and its log-line fields.
  struct Outcome {
    absl::Status status;
    nlohmann::json fields;
  };

  // Closes the listening socket and waits for the calls in flight to be answered (they
  // end with the frontend: queued work is answered or refused by its shutdown).
  // Idempotent.
  void Stop();

 private:
  HttpGateway(SegmentationFrontend* frontend, const CallObservers& observers,
              uint64_t max_body_bytes);
  void AddRoutes();
  // What every API route shares: the request id (in and out), the handler, Connection:
  // close while draining, and the call's record (call_record.h) under `method`.
  void Serve(
      const char* method, const httplib::Request& req, httplib::Response& res,
      const std::function<Outcome(const std::string& request_id, absl::Time arrival)>& handle);

  SegmentationFrontend* const frontend_;
  const CallObservers observers_;
  const uint64_t max_body_bytes_;
  std::unique_ptr<httplib::Server> server_;
  std::thread listener_;
  int port_ = 0;
};

}  // namespace ovseg

#endif  // OVSEG_SERVER_HTTP_HTTP_GATEWAY_H_
