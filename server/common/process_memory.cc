#include "server/common/process_memory.h"

#include <unistd.h>

#include <fstream>
#include <string>

namespace ovseg {

double ProcessResidentBytes(int pid) {
  std::ifstream statm(pid > 0 ? "/proc/" + std::to_string(pid) + "/statm"
                              : std::string("/proc/self/statm"));
  double pages_total = 0, pages_resident = 0;
  if (!(statm >> pages_total >> pages_resident)) return 0;
  return pages_resident * static_cast<double>(sysconf(_SC_PAGESIZE));
}

}  // namespace ovseg
