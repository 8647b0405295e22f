// build/bench/fgaseg_bench: see bench/model/fgaseg_bench.cc. A LibTorch-free main, so that the four
// model benchmarks compile as one unity file (model/CMakeLists.txt).
#include "bench/model/model_benches.h"

int main(int argc, char** argv) { return ovseg::RunFgaSegBench(argc, argv); }
