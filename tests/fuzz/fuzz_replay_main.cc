// Runs a libFuzzer target without libFuzzer (gcc builds, CI): every seed in the corpus
// folder given as argv[1], then deterministic mutations of each (byte flips, truncations,
// insertions, length-field edits). Fails only by crashing, as the fuzzer would.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

void Run(const std::string& input) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return std::fprintf(stderr, "usage: %s CORPUS_DIR [MUTATIONS]\n", argv[0]), 2;
  const int mutations = argc > 2 ? std::atoi(argv[2]) : 20000;
  std::vector<std::string> seeds;
  for (const auto& entry : std::filesystem::directory_iterator(argv[1])) {
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    seeds.push_back(ss.str());
  }
  if (seeds.empty()) return std::fprintf(stderr, "empty corpus %s\n", argv[1]), 2;
  std::mt19937_64 rng(12345);
  for (const std::string& s : seeds) Run(s);
  for (int i = 0; i < mutations; ++i) {
    std::string s = seeds[rng() % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !s.empty(); ++e) {
      const size_t at = rng() % s.size();
      switch (rng() % 5) {
        case 0:
          s[at] = static_cast<char>(rng());
          break;
        case 1:
          s.resize(at);
          break;
        case 2:
          s.insert(at, 1, "{}[]\",:0123456789-e"[rng() % 19]);
          break;
        case 3:
          s.erase(at, 1 + rng() % 8);
          break;
        case 4:
          if (s.size() >= 8) s[rng() % 8] = static_cast<char>(rng());
          break;  // Length field.
      }
    }
    Run(s);
  }
  std::printf("%zu seeds, %d mutations: no crash\n", seeds.size(), mutations);
  return 0;
}
