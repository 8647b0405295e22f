// TLS end to end with certificates made here by the openssl command: a server that
// requires client certificates (tls.require_client_cert) answers a client holding one on
// gRPC (OvsegClient with client/client_tls.h's files) and on HTTPS (the gateway), and
// refuses clients without one.
#include <gtest/gtest.h>
#include <httplib.h>

#include <cstdlib>
#include <fstream>
#include <opencv2/imgcodecs.hpp>

#include "client/client_tls.h"
#include "client/ovseg_client.h"
#include "server/config/config_loader.h"
#include "server/ovseg_server.h"
#include "tests/fakes/fake_model_server.h"

namespace ovseg {
namespace {

// A CA, a server certificate for 127.0.0.1/localhost and a client certificate, in `dir`.
bool MakeCertificates(const std::string& dir) {
  const std::string script =
      "set -e; cd " + dir +
      "; openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=test-ca -keyout ca.key "
      "-out ca.pem 2>/dev/null"
      "; printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > san.ext"
      "; for who in server client; do"
      "  openssl req -newkey rsa:2048 -nodes -subj /CN=$who -keyout $who.key -out $who.csr "
      "2>/dev/null;"
      "  openssl x509 -req -in $who.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
      "-extfile san.ext -out $who.pem 2>/dev/null; done";
  std::ofstream(dir + "/make.sh") << script << "\n";
  return std::system(("bash " + dir + "/make.sh").c_str()) == 0;
}

std::string Png() {
  cv::Mat m(32, 32, CV_8UC3, cv::Scalar(20, 120, 220));
  std::vector<uchar> buf;
  cv::imencode(".png", m, buf);
  return std::string(buf.begin(), buf.end());
}

TEST(TlsTest, MutualTlsOnGrpcAndHttps) {
  const std::string dir = ::testing::TempDir() + "/tls-" + std::to_string(getpid());
  std::system(("mkdir -p " + dir).c_str());
  ASSERT_TRUE(MakeCertificates(dir));
  auto config = ParseServerConfig(
      "listen_address: \"127.0.0.1:0\" metrics_address: \"none\" http_address: "
      "\"127.0.0.1:0\" log_requests: false batching { buckets { width: 64 height: 64 } } "
      "tls { cert_file: \"" +
          dir + "/server.pem\" key_file: \"" + dir +
          "/server.key\" "
          "client_ca_file: \"" +
          dir + "/ca.pem\" require_client_cert: true }",
      "test");
  ASSERT_TRUE(config.ok()) << config.status();
  auto server = testing::StartFakeModelServer(*config);
  ASSERT_TRUE(server.ok()) << server.status();

  v1::SegmentRequest request;
  request.mutable_image()->set_encoded(Png());
  request.mutable_labels()->add_labels()->set_name("cat");
  // 127.0.0.1, not localhost: resolving a name goes through c-ares, whose Debian build
  // leaks a few bytes that LeakSanitizer reports (scripts/sanitize.sh asan).
  const std::string target = "127.0.0.1:" + std::to_string((*server)->port());
  ClientOptions with_cert{target, "", absl::Seconds(10)};
  ASSERT_TRUE(
      LoadTlsFiles({dir + "/ca.pem", dir + "/client.pem", dir + "/client.key"}, &with_cert).ok());
  absl::StatusOr<v1::SegmentResponse> ok = OvsegClient(with_cert).Segment(request);
  EXPECT_TRUE(ok.ok()) << ok.status();
  ClientOptions without_cert{target, "", absl::Seconds(10)};
  ASSERT_TRUE(LoadTlsFiles({dir + "/ca.pem", "", ""}, &without_cert).ok());
  EXPECT_FALSE(OvsegClient(without_cert).Segment(request).ok());

  httplib::SSLClient https("127.0.0.1", (*server)->http_port(), dir + "/client.pem",
                           dir + "/client.key");
  https.set_ca_cert_path((dir + "/ca.pem").c_str());
  https.enable_server_certificate_verification(true);
  httplib::Result r = https.Get("/v1/model");
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, 200);
  httplib::SSLClient anonymous("127.0.0.1", (*server)->http_port());
  anonymous.set_ca_cert_path((dir + "/ca.pem").c_str());
  EXPECT_FALSE(anonymous.Get("/v1/model"));

  // The CLI with the same files (its --tls_* flags), and without the client certificate.
  const std::string cli =
      std::string(OVSEG_CLI_BINARY) + " health --server " + target + " --tls_ca " + dir + "/ca.pem";
  EXPECT_EQ(std::system((cli + " --tls_cert " + dir + "/client.pem --tls_key " + dir +
                         "/client.key > /dev/null")
                            .c_str()),
            0);
  EXPECT_NE(std::system((cli + " > /dev/null 2>&1").c_str()), 0);

  // Files that are not there, or a certificate without its key: refused, naming why.
  ClientOptions bad;
  EXPECT_EQ(LoadTlsFiles({dir + "/nope.pem", "", ""}, &bad).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(LoadTlsFiles({dir + "/ca.pem", dir + "/client.pem", ""}, &bad).code(),
            absl::StatusCode::kInvalidArgument);
  (*server)->Shutdown(absl::Seconds(1));
}

}  // namespace
}  // namespace ovseg
