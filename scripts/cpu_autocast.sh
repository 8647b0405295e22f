#!/usr/bin/env bash
# Prints the autocast a training run on this machine should use: "bf16" where the CPU has
# bf16 instructions (AVX512-BF16, AMX), else "fp32": emulated bf16 is several times slower
# than fp32 (measured on an AVX2-only VM, docs/results.md).
if grep -qw -e avx512_bf16 -e amx_bf16 /proc/cpuinfo; then echo bf16; else echo fp32; fi
