// build/bench/mask2former_bench: see model/bench/mask2former_bench.cc. A LibTorch-free main, so
// that the model benchmarks compile as one unity file (model/CMakeLists.txt).
#include "model/bench/model_benches.h"

int main(int argc, char** argv) { return ovseg::RunMask2FormerBench(argc, argv); }
