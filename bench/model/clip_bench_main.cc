// build/bench/clip_bench: see model/bench/clip_bench.cc. A LibTorch-free main, so that the
// model benchmarks compile as one unity file (model/CMakeLists.txt).
#include "model/bench/model_benches.h"

int main(int argc, char** argv) { return ovseg::RunClipBench(argc, argv); }
