// Gives every thread at least 1 MiB of stack, whoever creates it. Linked into
// ovseg-server itself (not a library) so that its definition interposes libc's.
//
// Why: civetweb, the HTTP server behind prometheus-cpp's /metrics, creates its worker
// threads with a fixed ~100 KiB stack. glibc refuses (EINVAL) any stack smaller than the
// process's static TLS plus a guard page, and the CUDA libraries LibTorch's wheel loads
// (cuBLASLt, cuSOLVER, cuDNN, ...) bring ~150 KiB of static TLS. Without this floor the
// metrics endpoint cannot start in a process that links LibTorch ("null context when
// constructing CivetServer"). Larger requests pass unchanged.
#include <dlfcn.h>
#include <pthread.h>

#include <algorithm>
#include <cstddef>

namespace {
constexpr size_t kMinThreadStack = size_t{1} << 20;
}  // namespace

extern "C" int pthread_attr_setstacksize(pthread_attr_t* attr, size_t size) {
  using SetStackSize = int (*)(pthread_attr_t*, size_t);
  static const SetStackSize libc_version =
      reinterpret_cast<SetStackSize>(dlsym(RTLD_NEXT, "pthread_attr_setstacksize"));
  return libc_version(attr, std::max(size, kMinThreadStack));
}
