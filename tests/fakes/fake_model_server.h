// A real OvsegServer serving the fake pipeline and text encoder (fake_pipeline.h), started
// and warmed up, for integration tests that need the whole server but not a model. Tests
// that use it link ovseg_server. Header-only.
#ifndef OVSEG_TESTS_FAKES_FAKE_MODEL_SERVER_H_
#define OVSEG_TESTS_FAKES_FAKE_MODEL_SERVER_H_

#include <memory>
#include <utility>

#include "absl/status/statusor.h"
#include "server/ovseg_server.h"
#include "tests/fakes/fake_pipeline.h"

namespace ovseg::testing {

// `config` as ParseServerConfig returns it; `pipeline` null: a default fake. SERVING
// when it returns OK (UNAVAILABLE if warm-up does not end within 10 s).
inline absl::StatusOr<std::unique_ptr<OvsegServer>> StartFakeModelServer(
    const v1::ServerConfig& config, std::shared_ptr<FakeSegmentationPipeline> pipeline = nullptr) {
  OvsegServerOptions o;
  o.config = config;
  o.model.pipeline = pipeline ? std::move(pipeline) : std::make_shared<FakeSegmentationPipeline>();
  o.model.text_encoder = std::make_shared<FakeTextEncoder>();
  o.request_log = nullptr;
  absl::StatusOr<std::unique_ptr<OvsegServer>> server = OvsegServer::Start(std::move(o));
  if (!server.ok()) return server.status();
  if (!(*server)->WaitUntilServing(absl::Seconds(10))) {
    return absl::UnavailableError("the fake-model server did not finish warming up in 10 s");
  }
  return server;
}

}  // namespace ovseg::testing

#endif  // OVSEG_TESTS_FAKES_FAKE_MODEL_SERVER_H_
