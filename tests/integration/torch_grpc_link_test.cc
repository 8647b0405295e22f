// Proves that the torch wheel's LibTorch and Debian's gRPC/protobuf live in one process:
// a torch computation and a real gRPC round trip, same C++ ABI, no symbol clash.
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <gtest/gtest.h>

#include "grpc/health/v1/health.grpc.pb.h"
#include "model/runtime/torch_runtime.h"
#include "ovseg/v1/segmentation.grpc.pb.h"

namespace ovseg {
namespace {

TEST(TorchGrpcLinkTest, TorchOpAndGrpcCallInOneProcess) {
  const TorchRuntimeInfo torch = DescribeTorchRuntime();
  EXPECT_TRUE(torch.cxx11_abi);  // Same ABI as Debian's gRPC and protobuf.
  EXPECT_EQ(torch.version.substr(0, 2), "2.");
  ASSERT_TRUE(RunTorchSelfCheck("cpu").ok());

  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  v1::Segmentation::CallbackService unimplemented;  // A server needs one service to start.
  builder.RegisterService(&unimplemented);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  auto stub = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  ASSERT_TRUE(stub->Check(&context, request, &response).ok());
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  // Protobuf from Debian serialises our messages in the same process as torch.
  v1::SegmentRequest msg;
  msg.mutable_labels()->add_labels()->set_name("cat");
  EXPECT_GT(msg.ByteSizeLong(), 0u);
  server->Shutdown();
}

TEST(TorchGrpcLinkTest, DeviceResolution) {
  EXPECT_EQ(*ResolveDevice("cpu"), "cpu");
  EXPECT_EQ(ResolveDevice("tpu").status().code(), absl::StatusCode::kInvalidArgument);
  if (!DescribeTorchRuntime().cuda_available) {
    EXPECT_EQ(ResolveDevice("cuda:0").status().code(), absl::StatusCode::kFailedPrecondition);
  }
}

}  // namespace
}  // namespace ovseg
