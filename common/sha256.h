// SHA-256 (OpenSSL EVP) for checkpoint integrity and stable ids.
#ifndef OVSEG_COMMON_SHA256_H_
#define OVSEG_COMMON_SHA256_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ovseg {

// Incremental hasher; feed with Update(), read once with HexDigest().
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(absl::string_view data);
  // Lowercase hex of the digest; the hasher must not be used afterwards.
  std::string HexDigest();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::string Sha256Hex(absl::string_view data);
// Whether `text` has a digest's form: 64 lowercase hex digits.
bool IsSha256Hex(absl::string_view text);
// The digest of a whole file, read in 1 MiB pieces.
absl::StatusOr<std::string> Sha256HexOfFile(const std::string& path);

}  // namespace ovseg

#endif  // OVSEG_COMMON_SHA256_H_
