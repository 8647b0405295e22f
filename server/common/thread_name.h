// Names the calling thread, so `top -H`, perf and /proc/<pid>/task show which of the
// server's threads is which (decode pool, batch threads, vocabulary pool).
#ifndef OVSEG_SERVER_COMMON_THREAD_NAME_H_
#define OVSEG_SERVER_COMMON_THREAD_NAME_H_

#include <string_view>

namespace ovseg {

// Linux keeps at most 15 bytes of a thread name; longer names are cut there.
void NameCurrentThread(std::string_view name);

}  // namespace ovseg

#endif  // OVSEG_SERVER_COMMON_THREAD_NAME_H_
