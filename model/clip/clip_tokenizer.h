// CLIP's byte-level BPE tokenizer, id-for-id equal to OpenAI's simple_tokenizer: text
// clean-up (ftfy's per-character fixes, HTML unescape twice, whitespace collapse),
// lowercase, CLIP's pre-tokenisation pattern, byte-to-unicode table, ranked merges. LibTorch-
// free, so that tools and the server can tokenize without loading a model.
#ifndef OVSEG_MODEL_CLIP_CLIP_TOKENIZER_H_
#define OVSEG_MODEL_CLIP_CLIP_TOKENIZER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace ovseg {

class ClipTokenizer {
 public:
  static constexpr int kStartOfText = 49406;
  static constexpr int kEndOfText = 49407;
  static constexpr int kContextLength = 77;

  // OpenAI's merges file (bpe_simple_vocab_16e6.txt.gz), gzip-compressed bytes.
  static absl::StatusOr<std::unique_ptr<ClipTokenizer>> FromBpeGzip(std::string_view gz_bytes);
  static absl::StatusOr<std::unique_ptr<ClipTokenizer>> FromBpeGzipFile(const std::string& path);
  // HuggingFace CLIPTokenizer files: vocab.json (token -> id) and merges.txt.
  static absl::StatusOr<std::unique_ptr<ClipTokenizer>> FromHuggingFaceFiles(
      const std::string& vocab_json_path, const std::string& merges_txt_path);
  // Writes the vocabulary in HuggingFace's layout (vocab.json, merges.txt with a version
  // line), which FromHuggingFaceFiles reads back.
  absl::Status SaveHuggingFaceFiles(const std::string& vocab_json_path,
                                    const std::string& merges_txt_path) const;

  // The copy of OpenAI's vocabulary compiled into the binary (model/clip/data/, MIT).
  static const ClipTokenizer& Default();

  // BPE ids of `text` (UTF-8; invalid bytes read as U+FFFD), without start/end tokens.
  std::vector<int> Encode(std::string_view text) const;

  // [start] + Encode(text) + [end], truncated to `context_length` with the last id
  // replaced by the end token (OpenAI's tokenize(..., truncate=True)); no padding.
  std::vector<int> Tokenize(std::string_view text, int context_length = kContextLength) const;

  // CLIP's text clean-up and lowercasing, the input of the pre-tokeniser. For tests.
  static std::u32string NormalizeForClip(std::string_view text);

  int vocab_size() const { return static_cast<int>(encoder_.size()); }

 private:
  ClipTokenizer(std::unordered_map<std::string, int> encoder,
                absl::flat_hash_map<std::string, int> merge_ranks);
  // Byte-level BPE of one pre-token (already mapped to the byte-to-unicode alphabet).
  std::vector<int> Bpe(const std::string& token) const;

  std::unordered_map<std::string, int> encoder_;
  absl::flat_hash_map<std::string, int> merge_ranks_;  // "first second" -> rank.
  std::vector<std::string> byte_encoder_;              // Byte -> UTF-8 of its stand-in.

  // Label vocabularies repeat words; cached BPE results make re-encoding cheap.
  mutable absl::Mutex cache_mu_;
  mutable absl::flat_hash_map<std::string, std::vector<int>> cache_ ABSL_GUARDED_BY(cache_mu_);
};

}  // namespace ovseg

#endif  // OVSEG_MODEL_CLIP_CLIP_TOKENIZER_H_
