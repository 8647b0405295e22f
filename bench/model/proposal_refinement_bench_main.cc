// build/bench/proposal_refinement_bench: see model/bench/proposal_refinement_bench.cc. A
// LibTorch-free main, as the other model benchmarks' (model/CMakeLists.txt).
#include "model/bench/model_benches.h"

int main(int argc, char** argv) { return ovseg::RunProposalRefinementBench(argc, argv); }
