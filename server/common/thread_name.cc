#include "server/common/thread_name.h"

#include <pthread.h>

#include <string>

namespace ovseg {

void NameCurrentThread(std::string_view name) {
  const std::string truncated(name.substr(0, 15));
  // Naming is diagnostic only: a failure changes nothing the server does.
  pthread_setname_np(pthread_self(), truncated.c_str());
}

}  // namespace ovseg
