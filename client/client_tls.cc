#include "client/client_tls.h"

#include <fstream>
#include <sstream>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace ovseg {
namespace {

absl::StatusOr<std::string> ReadPem(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot read"));
  std::stringstream text;
  text << in.rdbuf();
  if (text.str().find("-----BEGIN ") == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a PEM file"));
  }
  return text.str();
}

}  // namespace

absl::Status LoadTlsFiles(const TlsFiles& files, ClientOptions* options) {
  if (files.cert_file.empty() != files.key_file.empty()) {
    return absl::InvalidArgumentError(
        "a client certificate needs its key, and a key its certificate");
  }
  if (!files.cert_file.empty() && files.ca_file.empty()) {
    return absl::InvalidArgumentError("a client certificate needs the CA file of the server's");
  }
  if (files.ca_file.empty()) return absl::OkStatus();
  for (auto [path, field] : {std::pair{&files.ca_file, &options->tls_root_certs},
                             {&files.cert_file, &options->tls_cert_chain},
                             {&files.key_file, &options->tls_private_key}}) {
    if (path->empty()) continue;
    absl::StatusOr<std::string> pem = ReadPem(*path);
    if (!pem.ok()) return pem.status();
    *field = *std::move(pem);
  }
  return absl::OkStatus();
}

}  // namespace ovseg
