// Independent random streams from one seed (SplitMix64's finaliser): image i of a split,
// epoch e's permutation, sample k's augmentation. Identical on every platform, unlike
// the standard library's distributions.
#ifndef OVSEG_DATASETS_SEED_MIXING_H_
#define OVSEG_DATASETS_SEED_MIXING_H_

#include <cstdint>

namespace ovseg {

inline uint64_t MixSeed(uint64_t seed, uint64_t stream) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * (stream + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace ovseg

#endif  // OVSEG_DATASETS_SEED_MIXING_H_
