// The LibTorch-side benchmark programs (build/bench/; figures in docs/benchmarks.md), as
// functions: their code compiles once, as one unity file of the ovseg_model_benches
// library, and each program's main (bench/model/*_main.cc) stays LibTorch-free.
#ifndef OVSEG_MODEL_BENCH_MODEL_BENCHES_H_
#define OVSEG_MODEL_BENCH_MODEL_BENCHES_H_

namespace ovseg {

int RunClipBench(int argc, char** argv);
int RunClassifierBench(int argc, char** argv);
int RunMask2FormerBench(int argc, char** argv);
int RunFgaSegBench(int argc, char** argv);
int RunProposalRefinementBench(int argc, char** argv);

}  // namespace ovseg

#endif  // OVSEG_MODEL_BENCH_MODEL_BENCHES_H_
