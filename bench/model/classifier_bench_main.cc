// build/bench/classifier_bench: see bench/model/classifier_bench.cc. A LibTorch-free main, so that
// the four model benchmarks compile as one unity file (model/CMakeLists.txt).
#include "bench/model/model_benches.h"

int main(int argc, char** argv) { return ovseg::RunClassifierBench(argc, argv); }
