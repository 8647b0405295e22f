#include "model/weights/tensor_fingerprint.h"

#include <openssl/evp.h>

#include <sstream>

namespace ovseg {

std::string TensorFingerprint(const std::string& prefix,
                              const std::map<std::string, torch::Tensor>& tensors) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  EVP_DigestUpdate(ctx, prefix.data(), prefix.size());
  for (const auto& [name, tensor] : tensors) {
    const torch::Tensor t = tensor.detach().to(torch::kCPU, torch::kFloat32).contiguous();
    std::ostringstream header;
    header << name << t.sizes() << ";";
    const std::string h = header.str();
    EVP_DigestUpdate(ctx, h.data(), h.size());
    EVP_DigestUpdate(ctx, t.data_ptr(), t.numel() * sizeof(float));
  }
  unsigned char digest[32];
  unsigned int size = 0;
  EVP_DigestFinal_ex(ctx, digest, &size);
  EVP_MD_CTX_free(ctx);
  static const char* kHex = "0123456789abcdef";
  std::string hex;
  for (unsigned i = 0; i < size; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 15]);
  }
  return hex;
}

}  // namespace ovseg
