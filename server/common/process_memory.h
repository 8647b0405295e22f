// A process's resident memory, read from Linux's /proc: the server's
// ovseg_process_resident_memory_bytes gauge reads its own, the soak benchmark the
// server's. Stateless; thread-safe.
#ifndef OVSEG_SERVER_COMMON_PROCESS_MEMORY_H_
#define OVSEG_SERVER_COMMON_PROCESS_MEMORY_H_

namespace ovseg {

// Resident set size in bytes of process `pid` (0: this process), from /proc/PID/statm;
// 0 if unavailable (no such process, not Linux).
double ProcessResidentBytes(int pid = 0);

}  // namespace ovseg

#endif  // OVSEG_SERVER_COMMON_PROCESS_MEMORY_H_
