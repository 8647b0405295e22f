// The HTTP/JSON gateway of a real server (fake pipeline) driven by a real HTTP client
// (cpp-httplib's) beside a real gRPC client: one request path, two wires.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <optional>
#include <thread>

#include "absl/strings/escaping.h"
#include "client/ovseg_client.h"
#include "server/config/config_loader.h"
#include "server/ovseg_server.h"
#include "tests/fakes/fake_model_server.h"

namespace ovseg {
namespace {

std::string Png(int w, int h) {
  cv::Mat m(h, w, CV_8UC3, cv::Scalar(20, 120, 220));
  std::vector<uchar> buf;
  cv::imencode(".png", m, buf);
  return std::string(buf.begin(), buf.end());
}

struct HttpHarness {
  std::shared_ptr<testing::FakeSegmentationPipeline> pipeline;
  std::unique_ptr<OvsegServer> server;
  std::unique_ptr<httplib::Client> http;
  std::unique_ptr<OvsegClient> grpc;
};

HttpHarness Start(const std::string& extra_config = "",
                  testing::FakeSegmentationPipeline::Options fake = {}) {
  auto config = ParseServerConfig(
      "listen_address: \"127.0.0.1:0\" metrics_address: \"none\" http_address: "
      "\"127.0.0.1:0\" log_requests: false batching { buckets { width: 64 height: 64 } } " +
          extra_config,
      "test");
  EXPECT_TRUE(config.ok()) << config.status();
  HttpHarness h;
  h.pipeline = std::make_shared<testing::FakeSegmentationPipeline>(fake);
  auto server = testing::StartFakeModelServer(*config, h.pipeline);
  EXPECT_TRUE(server.ok()) << server.status();
  h.server = *std::move(server);
  EXPECT_GT(h.server->http_port(), 0);
  h.http = std::make_unique<httplib::Client>("127.0.0.1", h.server->http_port());
  h.http->set_read_timeout(30);
  h.grpc = std::make_unique<OvsegClient>(
      ClientOptions{"127.0.0.1:" + std::to_string(h.server->port()), "", absl::Seconds(30)});
  return h;
}

nlohmann::json Body(const httplib::Result& r) { return nlohmann::json::parse(r->body); }

// Sends `request` as is on a new connection and returns what comes back until the server
// closes it or 2 s pass.
std::string RawExchange(int port, const std::string& request) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string reply;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      send(fd, request.data(), request.size(), 0) == static_cast<ssize_t>(request.size())) {
    timeval timeout{2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    char buf[4096];
    for (ssize_t n; (n = recv(fd, buf, sizeof(buf), 0)) > 0;) {
      reply.append(buf, static_cast<size_t>(n));
      if (reply.find("}}") != std::string::npos) break;  // the JSON error body is complete
    }
  }
  close(fd);
  return reply;
}

TEST(HttpGatewayTest, JsonSegmentAnswersWhatGrpcAnswers) {
  HttpHarness h = Start();
  const std::string image = Png(100, 50);
  v1::SegmentRequest request;
  request.mutable_image()->set_encoded(image);
  request.mutable_labels()->add_labels()->set_name("cat");
  request.mutable_labels()->add_labels()->set_name("dog, puppy");
  request.set_task(v1::PANOPTIC);
  absl::StatusOr<v1::SegmentResponse> via_grpc = h.grpc->Segment(request, "g");
  ASSERT_TRUE(via_grpc.ok()) << via_grpc.status();

  const nlohmann::json body = {
      {"image", {{"encoded", absl::Base64Escape(image)}}},
      {"labels", {{"labels", {{{"name", "cat"}}, {{"name", "dog, puppy"}}}}}},
      {"task", "PANOPTIC"}};
  httplib::Headers headers = {{"X-Request-Id", "http-7"}};
  httplib::Result r = h.http->Post("/v1/segment", headers, body.dump(), "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("X-Request-Id"), "http-7");
  const nlohmann::json j = Body(r);
  EXPECT_EQ(j["requestId"], "http-7");
  EXPECT_EQ(j["imageWidth"], 100);
  EXPECT_EQ(j["bucket"], "64x64");
  ASSERT_EQ(j["segments"].size(), static_cast<size_t>(via_grpc->segments_size()));
  ASSERT_GT(via_grpc->segments_size(), 0);
  for (int i = 0; i < via_grpc->segments_size(); ++i) {
    const v1::Segment& g = via_grpc->segments(i);
    const nlohmann::json& s = j["segments"][i];
    EXPECT_EQ(s["label"], g.label());
    EXPECT_EQ(s["labelIndex"], g.label_index());
    EXPECT_EQ(s["area"], std::to_string(g.area()));
    EXPECT_EQ(s["rle"]["counts"], g.rle().counts());
  }
}

TEST(HttpGatewayTest, MultipartFormAsCurlSendsIt) {
  HttpHarness h = Start();
  httplib::MultipartFormDataItems form = {
      {"image", Png(80, 60), "scene.png", "image/png"},
      {"labels", "cat,grass", "", ""},
      {"stuff", "grass", "", ""},
      {"task", "semantic", "", ""},
      {"mask_format", "no_mask", "", ""},
  };
  httplib::Result r = h.http->Post("/v1/segment", form);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const nlohmann::json j = Body(r);
  EXPECT_EQ(j["imageWidth"], 80);
  ASSERT_FALSE(j["segments"].empty());
  for (const nlohmann::json& s : j["segments"]) {
    EXPECT_TRUE(s["label"] == "cat" || s["label"] == "grass") << s;
    EXPECT_FALSE(s.contains("rle"));
  }
}

TEST(HttpGatewayTest, ErrorsCarryTheGrpcCodeAsHttpStatusAndJson) {
  HttpHarness h = Start("limits { max_receive_message_bytes: 30000 }");
  auto post_json = [&](const std::string& body) {
    return h.http->Post("/v1/segment", body, "application/json");
  };
  // A corrupt image: the shared validation's INVALID_ARGUMENT.
  httplib::Result r =
      post_json(R"({"image": {"encoded": "aGVsbG8="}, "labels": {"labels": [{"name": "cat"}]}})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(Body(r)["error"]["status"], "INVALID_ARGUMENT");
  EXPECT_EQ(Body(r)["error"]["code"], 400);
  EXPECT_FALSE(Body(r)["error"]["message"].get<std::string>().empty());
  // An unregistered vocabulary: NOT_FOUND.
  const std::string image = absl::Base64Escape(Png(8, 8));
  r = post_json(R"({"image": {"encoded": ")" + image + R"("}, "vocabularyId": "nope"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404) << r->body;
  EXPECT_EQ(Body(r)["error"]["status"], "NOT_FOUND");
  // Not JSON of the message; an unknown field.
  r = post_json(R"({"imagee": 1})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(Body(r)["error"]["message"].get<std::string>().find("imagee"), std::string::npos);
  // Larger than the limit (base64 of max_receive_message_bytes plus 1 MiB): refused from
  // its Content-Length, before a byte of it is read (so the body is never sent here).
  const std::string reply =
      RawExchange(h.server->http_port(),
                  "POST /v1/segment HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  "Content-Length: 2097152\r\n\r\n");
  EXPECT_EQ(reply.rfind("HTTP/1.1 413", 0), 0u) << reply;
  EXPECT_NE(reply.find("\"code\":413"), std::string::npos) << reply;
  // Another content type; a route's other method; no route.
  r = h.http->Post("/v1/segment", "x", "text/plain");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 415);
  r = h.http->Get("/v1/segment");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->get_header_value("Allow"), "POST");
  r = h.http->Get("/v2/anything");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(Body(r)["error"]["status"], "NOT_FOUND");
  // A malformed deadline header.
  httplib::Headers bad_deadline = {{"X-Request-Timeout-Ms", "soon"}};
  r = h.http->Post("/v1/segment", bad_deadline, "{}", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("X-Request-Timeout-Ms"), std::string::npos);
  // The server still serves.
  r = h.http->Get("/readyz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST(HttpGatewayTest, DeadlineHeaderIsTheCallsDeadline) {
  testing::FakeSegmentationPipeline::Options slow;
  slow.compute_delay = absl::Milliseconds(300);
  HttpHarness h = Start("", slow);
  httplib::MultipartFormDataItems form = {{"image", Png(16, 16), "a.png", "image/png"},
                                          {"labels", "cat", "", ""}};
  httplib::Headers headers = {{"X-Request-Timeout-Ms", "50"}};
  httplib::Result r = h.http->Post("/v1/segment", headers, form);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 504) << r->body;
  EXPECT_EQ(Body(r)["error"]["status"], "DEADLINE_EXCEEDED");
}

TEST(HttpGatewayTest, VocabularyRegisteredOverHttpServesGrpc) {
  HttpHarness h = Start();
  httplib::Result r = h.http->Post(
      "/v1/vocabularies", R"({"labels": [{"name": "cat"}, {"name": "sky", "isThing": false}]})",
      "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const std::string id = Body(r)["vocabularyId"];
  EXPECT_EQ(Body(r)["numLabels"], 2);
  v1::SegmentRequest request;
  request.mutable_image()->set_encoded(Png(32, 32));
  request.set_vocabulary_id(id);
  absl::StatusOr<v1::SegmentResponse> response = h.grpc->Segment(request, "");
  ASSERT_TRUE(response.ok()) << response.status();
}

TEST(HttpGatewayTest, ModelHealthPageAndMetrics) {
  HttpHarness h = Start();
  httplib::Result r = h.http->Get("/v1/model");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(Body(r)["modelVersion"], "fake-1");
  EXPECT_EQ(Body(r)["buckets"][0], "64x64");
  r = h.http->Get("/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  r = h.http->Get("/");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/html; charset=utf-8");
  for (const char* id : {"id=\"image\"", "id=\"labels\"", "id=\"task\"", "id=\"head_mode\"",
                         "id=\"overlay\"", "id=\"segments\"", "/v1/segment"}) {
    EXPECT_NE(r->body.find(id), std::string::npos) << id;
  }
  EXPECT_EQ(r->body.find("http://"), std::string::npos) << "the page fetches nothing elsewhere";
  EXPECT_EQ(r->body.find("https://"), std::string::npos);
  // Counted with gRPC's calls, told apart by transport.
  h.http->Post("/v1/segment", "{}", "application/json");
  const std::string metrics = h.server->metrics().Serialize();
  EXPECT_NE(metrics.find("ovseg_requests_total{code=\"INVALID_ARGUMENT\",method=\"Segment\","
                         "transport=\"http\"} 1"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find(
                "ovseg_requests_total{code=\"OK\",method=\"GetModelInfo\",transport=\"http\"} 1"),
            std::string::npos);
}

TEST(HttpGatewayTest, DrainFailsReadinessAtOnceAndFinishesCallsInFlight) {
  testing::FakeSegmentationPipeline::Options slow;
  slow.compute_delay = absl::Milliseconds(800);
  HttpHarness h = Start("", slow);
  std::optional<httplib::Result> in_flight;
  std::thread caller([&] {
    httplib::MultipartFormDataItems form = {{"image", Png(16, 16), "a.png", "image/png"},
                                            {"labels", "cat", "", ""}};
    in_flight.emplace(h.http->Post("/v1/segment", form));
  });
  absl::SleepFor(absl::Milliseconds(200));  // the call is in the model
  std::thread stopper([&] { h.server->Shutdown(absl::Seconds(10)); });
  absl::SleepFor(absl::Milliseconds(100));
  httplib::Client probe("127.0.0.1", h.server->http_port());
  httplib::Result ready = probe.Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 503);
  EXPECT_EQ(Body(ready)["error"]["status"], "UNAVAILABLE");
  caller.join();
  stopper.join();
  ASSERT_TRUE(in_flight.has_value() && *in_flight);
  EXPECT_EQ((*in_flight)->status, 200) << (*in_flight)->body;
  EXPECT_EQ((*in_flight)->get_header_value("Connection"), "close");
}

TEST(HttpGatewayTest, ConfigRefusesPlaintextHttpOnANonLoopbackAddress) {
  absl::StatusOr<v1::ServerConfig> config =
      ParseServerConfig("http_address: \"0.0.0.0:8080\"", "test");
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("http_address"), std::string::npos) << config.status();
  EXPECT_TRUE(
      ParseServerConfig("http_address: \"0.0.0.0:8080\" allow_insecure_non_loopback: true", "test")
          .ok());
}

}  // namespace
}  // namespace ovseg
