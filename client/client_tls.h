// TLS for clients (the CLI, ovseg-eval --server, the training job's checkpoint submission):
// PEM files named on a command line or in a config, read into ClientOptions. A CA file
// alone gives server-authenticated TLS; a certificate and key with it, mutual TLS (the
// server's tls.require_client_cert).
#ifndef OVSEG_CLIENT_CLIENT_TLS_H_
#define OVSEG_CLIENT_CLIENT_TLS_H_

#include <string>

#include "absl/status/status.h"
#include "client/ovseg_client.h"

namespace ovseg {

struct TlsFiles {
  std::string ca_file;    // PEM of the CA that signed the server's certificate
  std::string cert_file;  // this client's certificate chain (mutual TLS)
  std::string key_file;   // its private key
};

// Reads the files into `options` (none set: plaintext, options unchanged). Errors name
// the file: NOT_FOUND when unreadable, INVALID_ARGUMENT when a certificate comes without
// its key (or the other way round) or without a CA file.
absl::Status LoadTlsFiles(const TlsFiles& files, ClientOptions* options);

}  // namespace ovseg

#endif  // OVSEG_CLIENT_CLIENT_TLS_H_
