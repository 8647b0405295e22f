#include "model/clip/clip_tokenizer.h"

#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "model/clip/generated/clip_text_tables.h"

// OpenAI's bpe_simple_vocab_16e6.txt.gz, linked in by model/clip/clip_bpe_vocab.S.
extern "C" const char ovseg_clip_bpe_vocab_gz[];
extern "C" const char ovseg_clip_bpe_vocab_gz_end[];

namespace ovseg {
namespace {

using clip_text::CodePointMapping;
using clip_text::CodePointRange;

constexpr char32_t kReplacement = 0xFFFD;
constexpr std::string_view kStartText = "<|startoftext|>";
constexpr std::string_view kEndText = "<|endoftext|>";
// OpenAI keeps the first 49152 - 256 - 2 lines after the version line.
constexpr int kOpenAiMerges = 49152 - 256 - 2;

bool InRanges(char32_t c, const CodePointRange* ranges, size_t n) {
  const CodePointRange* end = ranges + n;
  const CodePointRange* it = std::upper_bound(
      ranges, end, c, [](char32_t v, const CodePointRange& r) { return v < r.first; });
  return it != ranges && c <= (it - 1)->last;
}

const CodePointMapping* FindMapping(char32_t c, const CodePointMapping* table, size_t n) {
  const CodePointMapping* end = table + n;
  const CodePointMapping* it = std::lower_bound(
      table, end, c, [](const CodePointMapping& m, char32_t v) { return m.code_point < v; });
  return it != end && it->code_point == c ? it : nullptr;
}

bool IsLetter(char32_t c) {
  return InRanges(c, clip_text::kLetterRanges, clip_text::kLetterRangesSize);
}
bool IsNumber(char32_t c) {
  return InRanges(c, clip_text::kNumberRanges, clip_text::kNumberRangesSize);
}
bool IsRegexSpace(char32_t c) {
  return InRanges(c, clip_text::kSpaceRanges, clip_text::kSpaceRangesSize);
}
bool IsStripSpace(char32_t c) {
  return InRanges(c, clip_text::kStripSpaceRanges, clip_text::kStripSpaceRangesSize);
}

void AppendUtf8(char32_t c, std::string* out) {
  if (c < 0x80) {
    out->push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (c >> 6)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (c >> 12)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (c >> 18)));
    out->push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

// Strict decoder: overlong forms, surrogates and truncated sequences become U+FFFD.
std::u32string DecodeUtf8(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<uint8_t>(s[i]);
    int len = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > s.size()) {
      out.push_back(kReplacement);
      ++i;
      continue;
    }
    char32_t c = len == 1 ? b : len == 2 ? (b & 0x1F) : len == 3 ? (b & 0x0F) : (b & 0x07);
    bool ok = true;
    for (int k = 1; k < len; ++k) {
      const auto cont = static_cast<uint8_t>(s[i + k]);
      if ((cont & 0xC0) != 0x80) ok = false;
      c = (c << 6) | (cont & 0x3F);
    }
    static constexpr char32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (!ok || c < kMin[len] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
      out.push_back(kReplacement);
      ++i;
      continue;
    }
    out.push_back(c);
    i += len;
  }
  return out;
}

void AppendMapped(const CodePointMapping& m, std::u32string* out) {
  const std::u32string decoded = DecodeUtf8(std::string_view(m.utf8, m.utf8_size));
  out->append(decoded);
}

// ftfy.fix_text, as far as it acts on single code points (generated table).
std::u32string FixTextPerCodePoint(const std::u32string& s) {
  std::u32string out;
  out.reserve(s.size());
  for (char32_t c : s) {
    const CodePointMapping* m =
        FindMapping(c, clip_text::kFtfySingleCodePoint, clip_text::kFtfySingleCodePointSize);
    if (m != nullptr) {
      AppendMapped(*m, &out);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

const char* FindHtmlEntity(const std::u32string& name) {
  std::string ascii;
  for (char32_t c : name) {
    if (c >= 0x80) return nullptr;  // Every entity name is ASCII.
    ascii.push_back(static_cast<char>(c));
  }
  const clip_text::HtmlEntity* begin = clip_text::kHtmlEntities;
  const clip_text::HtmlEntity* end = begin + clip_text::kHtmlEntitiesSize;
  const clip_text::HtmlEntity* it =
      std::lower_bound(begin, end, ascii, [](const clip_text::HtmlEntity& e, const std::string& v) {
        return std::strcmp(e.name, v.c_str()) < 0;
      });
  return it != end && ascii == it->name ? it->utf8 : nullptr;
}

// Python's html.unescape for a numeric reference.
void AppendNumericReference(uint64_t num, std::u32string* out) {
  if (num <= 0x10FFFF) {
    const CodePointMapping* m =
        FindMapping(static_cast<char32_t>(num), clip_text::kHtmlInvalidCharrefs,
                    clip_text::kHtmlInvalidCharrefsSize);
    if (m != nullptr) return AppendMapped(*m, out);
  }
  if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF) return out->push_back(kReplacement);
  const uint32_t* invalid = clip_text::kHtmlInvalidCodePoints;
  if (std::binary_search(invalid, invalid + clip_text::kHtmlInvalidCodePointsSize,
                         static_cast<uint32_t>(num))) {
    return;
  }
  out->push_back(static_cast<char32_t>(num));
}

bool IsAsciiDigit(char32_t c) { return c >= '0' && c <= '9'; }
bool IsAsciiHex(char32_t c) {
  return IsAsciiDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// Python's html.unescape: &#123; &#x7b; and named references (HTML5 list, longest
// prefix for names without ';').
std::u32string HtmlUnescape(const std::u32string& s) {
  if (s.find(U'&') == std::u32string::npos) return s;
  std::u32string out;
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    if (s[i] != U'&') {
      out.push_back(s[i++]);
      continue;
    }
    const size_t j = i + 1;
    if (j < n && s[j] == U'#') {
      const bool hex = j + 2 < n && (s[j + 1] == U'x' || s[j + 1] == U'X') && IsAsciiHex(s[j + 2]);
      const bool dec = j + 1 < n && IsAsciiDigit(s[j + 1]);
      if (!hex && !dec) {
        out.push_back(s[i++]);  // A lone "&#": kept as text.
        continue;
      }
      size_t k = hex ? j + 2 : j + 1;
      uint64_t num = 0;
      constexpr uint64_t kSaturated = uint64_t{1} << 40;  // Beyond any code point.
      for (; k < n && (hex ? IsAsciiHex(s[k]) : IsAsciiDigit(s[k])); ++k) {
        const char32_t c = s[k];
        const uint64_t digit = IsAsciiDigit(c) ? c - '0' : (c | 0x20) - 'a' + 10;
        num = std::min(kSaturated, num * (hex ? 16 : 10) + digit);
      }
      if (k < n && s[k] == U';') ++k;
      AppendNumericReference(num, &out);
      i = k;
      continue;
    }
    size_t k = j;
    static constexpr std::u32string_view kStop = U"\t\n\f <&#;";
    while (k < n && k - j < 32 && kStop.find(s[k]) == std::u32string_view::npos) ++k;
    if (k == j) {
      out.push_back(s[i++]);
      continue;
    }
    if (k < n && s[k] == U';') ++k;
    const std::u32string name = s.substr(j, k - j);
    if (const char* value = FindHtmlEntity(name)) {
      out += DecodeUtf8(value);
    } else {
      bool found = false;
      for (size_t x = name.size() - 1; x > 1; --x) {
        if (const char* prefix_value = FindHtmlEntity(name.substr(0, x))) {
          out += DecodeUtf8(prefix_value);
          out += name.substr(x);
          found = true;
          break;
        }
      }
      if (!found) {
        out.push_back(U'&');
        out += name;
      }
    }
    i = k;
  }
  return out;
}

std::u32string Strip(const std::u32string& s) {
  size_t b = 0, e = s.size();
  while (b < e && IsStripSpace(s[b])) ++b;
  while (e > b && IsStripSpace(s[e - 1])) --e;
  return s.substr(b, e - b);
}

std::u32string CollapseWhitespace(const std::u32string& s) {
  std::u32string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    if (IsRegexSpace(s[i])) {
      while (i < s.size() && IsRegexSpace(s[i])) ++i;
      out.push_back(U' ');
    } else {
      out.push_back(s[i++]);
    }
  }
  return Strip(out);
}

// Python's str.lower(), including its one context rule: a capital sigma that ends a word
// (a letter before it, none after) becomes the final sigma.
std::u32string Lowercase(const std::u32string& s) {
  std::u32string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const char32_t c = s[i];
    if (c == 0x3A3 && i > 0 && IsLetter(s[i - 1]) && (i + 1 == s.size() || !IsLetter(s[i + 1]))) {
      out.push_back(0x3C2);
      continue;
    }
    const CodePointMapping* m = FindMapping(c, clip_text::kLowercase, clip_text::kLowercaseSize);
    if (m != nullptr) {
      AppendMapped(*m, &out);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// CLIP's pattern, alternatives tried in order at each position (as the regex engine
// does): special tokens | 's 't 're 've 'm 'll 'd | \p{L}+ | \p{N} | [^\s\p{L}\p{N}]+.
std::vector<std::u32string> PreTokenize(const std::u32string& text) {
  std::vector<std::u32string> out;
  const size_t n = text.size();
  auto starts_with = [&](size_t at, std::u32string_view p) {
    if (at + p.size() > n) return false;
    for (size_t k = 0; k < p.size(); ++k) {
      char32_t c = text[at + k];
      // The text is lowercased already; what IGNORECASE still adds is case folding, under
      // which the long s (U+017F) equals 's' (OpenAI reads "'\u017f" as a contraction).
      if (c == 0x17F) c = U's';
      if (c != p[k]) return false;
    }
    return true;
  };
  static constexpr std::u32string_view kSpecials[] = {U"<|startoftext|>", U"<|endoftext|>"};
  static constexpr std::u32string_view kContractions[] = {U"'s", U"'t",  U"'re", U"'ve",
                                                          U"'m", U"'ll", U"'d"};
  size_t i = 0;
  while (i < n) {
    size_t len = 0;
    for (auto p : kSpecials) {
      if (len == 0 && starts_with(i, p)) len = p.size();
    }
    for (auto p : kContractions) {
      if (len == 0 && starts_with(i, p)) len = p.size();
    }
    if (len == 0 && IsLetter(text[i])) {
      while (i + len < n && IsLetter(text[i + len])) ++len;
    }
    if (len == 0 && IsNumber(text[i])) len = 1;
    if (len == 0 && !IsRegexSpace(text[i])) {
      while (i + len < n && !IsRegexSpace(text[i + len]) && !IsLetter(text[i + len]) &&
             !IsNumber(text[i + len])) {
        ++len;
      }
    }
    if (len == 0) {
      ++i;  // Whitespace separates tokens and is dropped.
      continue;
    }
    out.push_back(text.substr(i, len));
    i += len;
  }
  return out;
}

// OpenAI's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the others
// are shifted to 256 + n so that no byte maps to whitespace or a control character.
std::vector<char32_t> ByteToUnicodeOrder(std::vector<uint8_t>* bytes_in_order) {
  std::vector<int> bs;
  for (int b = '!'; b <= '~'; ++b) bs.push_back(b);
  for (int b = 0xA1; b <= 0xAC; ++b) bs.push_back(b);
  for (int b = 0xAE; b <= 0xFF; ++b) bs.push_back(b);
  std::vector<char32_t> cs(bs.begin(), bs.end());
  int extra = 0;
  for (int b = 0; b < 256; ++b) {
    if (std::find(bs.begin(), bs.begin() + 188, b) == bs.begin() + 188) {
      bs.push_back(b);
      cs.push_back(256 + extra++);
    }
  }
  bytes_in_order->assign(bs.begin(), bs.end());
  return cs;
}

absl::StatusOr<std::string> Gunzip(std::string_view gz) {
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) return absl::InternalError("zlib init failed");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  zs.avail_in = static_cast<uInt>(gz.size());
  std::string out;
  char buffer[1 << 16];
  int rc = Z_OK;
  while (rc == Z_OK) {
    zs.next_out = reinterpret_cast<Bytef*>(buffer);
    zs.avail_out = sizeof(buffer);
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(buffer, sizeof(buffer) - zs.avail_out);
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) break;
  }
  inflateEnd(&zs);
  if (rc != Z_STREAM_END) {
    return absl::InvalidArgumentError(
        absl::StrCat("BPE vocabulary: gzip data is corrupt or "
                     "truncated (zlib code ",
                     rc, ")"));
  }
  return out;
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Splits "a b" (one merge) into its halves; false when malformed.
bool SplitMerge(std::string_view line, std::string* first, std::string* second) {
  const size_t space = line.find(' ');
  if (space == std::string_view::npos || space == 0 || space + 1 >= line.size()) return false;
  if (line.find(' ', space + 1) != std::string_view::npos) return false;
  *first = std::string(line.substr(0, space));
  *second = std::string(line.substr(space + 1));
  return true;
}

}  // namespace

ClipTokenizer::ClipTokenizer(std::unordered_map<std::string, int> encoder,
                             absl::flat_hash_map<std::string, int> merge_ranks)
    : encoder_(std::move(encoder)), merge_ranks_(std::move(merge_ranks)) {
  std::vector<uint8_t> bytes;
  const std::vector<char32_t> chars = ByteToUnicodeOrder(&bytes);
  byte_encoder_.resize(256);
  for (size_t k = 0; k < bytes.size(); ++k) AppendUtf8(chars[k], &byte_encoder_[bytes[k]]);
}

absl::StatusOr<std::unique_ptr<ClipTokenizer>> ClipTokenizer::FromBpeGzip(
    std::string_view gz_bytes) {
  absl::StatusOr<std::string> text = Gunzip(gz_bytes);
  if (!text.ok()) return text.status();
  std::vector<absl::string_view> lines = absl::StrSplit(*text, '\n');
  if (lines.size() < static_cast<size_t>(kOpenAiMerges) + 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "BPE vocabulary: ", lines.size(), " lines, expected at least ", kOpenAiMerges + 1));
  }
  std::vector<uint8_t> bytes;
  const std::vector<char32_t> chars = ByteToUnicodeOrder(&bytes);
  std::vector<std::string> vocab;
  for (char32_t c : chars) {
    std::string s;
    AppendUtf8(c, &s);
    vocab.push_back(s);
  }
  for (size_t k = 0; k < chars.size(); ++k) vocab.push_back(vocab[k] + "</w>");
  absl::flat_hash_map<std::string, int> ranks;
  for (int r = 0; r < kOpenAiMerges; ++r) {
    std::string first, second;
    if (!SplitMerge(std::string_view(lines[r + 1].data(), lines[r + 1].size()), &first, &second)) {
      return absl::InvalidArgumentError(
          absl::StrCat("BPE vocabulary: line ", r + 2, " is not a merge \"a b\""));
    }
    ranks.emplace(first + " " + second, r);
    vocab.push_back(first + second);
  }
  vocab.emplace_back(kStartText);
  vocab.emplace_back(kEndText);
  std::unordered_map<std::string, int> encoder;
  for (size_t id = 0; id < vocab.size(); ++id) encoder.emplace(vocab[id], static_cast<int>(id));
  return std::unique_ptr<ClipTokenizer>(new ClipTokenizer(std::move(encoder), std::move(ranks)));
}

absl::StatusOr<std::unique_ptr<ClipTokenizer>> ClipTokenizer::FromBpeGzipFile(
    const std::string& path) {
  absl::StatusOr<std::string> bytes = ReadFile(path);
  if (!bytes.ok()) return bytes.status();
  return FromBpeGzip(*bytes);
}

absl::StatusOr<std::unique_ptr<ClipTokenizer>> ClipTokenizer::FromHuggingFaceFiles(
    const std::string& vocab_json_path, const std::string& merges_txt_path) {
  absl::StatusOr<std::string> vocab_text = ReadFile(vocab_json_path);
  if (!vocab_text.ok()) return vocab_text.status();
  absl::StatusOr<std::string> merges_text = ReadFile(merges_txt_path);
  if (!merges_text.ok()) return merges_text.status();
  nlohmann::json vocab = nlohmann::json::parse(*vocab_text, nullptr, /*allow_exceptions=*/false);
  if (!vocab.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(vocab_json_path, ": not a JSON object of token -> id"));
  }
  std::unordered_map<std::string, int> encoder;
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    if (!it.value().is_number_integer()) {
      return absl::InvalidArgumentError(
          absl::StrCat(vocab_json_path, ": id of token \"", it.key(), "\" is not an integer"));
    }
    encoder.emplace(it.key(), it.value().get<int>());
  }
  for (std::string_view special : {kStartText, kEndText}) {
    if (!encoder.count(std::string(special))) {
      return absl::InvalidArgumentError(
          absl::StrCat(vocab_json_path, ": missing special token ", std::string(special)));
    }
  }
  // Byte-level BPE never needs an unknown token: every byte's stand-in, alone and as a
  // word end, must have an id.
  std::vector<uint8_t> bytes;
  for (char32_t c : ByteToUnicodeOrder(&bytes)) {
    std::string symbol;
    AppendUtf8(c, &symbol);
    for (const std::string& s : {symbol, symbol + "</w>"}) {
      if (!encoder.count(s)) {
        return absl::InvalidArgumentError(
            absl::StrCat(vocab_json_path, ": byte symbol \"", s,
                         "\" is missing (not a byte-level BPE vocabulary)"));
      }
    }
  }
  absl::flat_hash_map<std::string, int> ranks;
  int line_number = 0;
  for (absl::string_view absl_line : absl::StrSplit(*merges_text, '\n')) {
    std::string_view line(absl_line.data(), absl_line.size());
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || (line_number == 1 && line.substr(0, 8) == "#version")) continue;
    std::string first, second;
    if (!SplitMerge(line, &first, &second)) {
      return absl::InvalidArgumentError(
          absl::StrCat(merges_txt_path, ": line ", line_number, " is not a merge \"a b\""));
    }
    ranks.emplace(first + " " + second, static_cast<int>(ranks.size()));
  }
  return std::unique_ptr<ClipTokenizer>(new ClipTokenizer(std::move(encoder), std::move(ranks)));
}

const ClipTokenizer& ClipTokenizer::Default() {
  static const ClipTokenizer* tokenizer = [] {
    const std::string_view gz(ovseg_clip_bpe_vocab_gz,
                              ovseg_clip_bpe_vocab_gz_end - ovseg_clip_bpe_vocab_gz);
    absl::StatusOr<std::unique_ptr<ClipTokenizer>> t = FromBpeGzip(gz);
    if (!t.ok()) {
      // The vocabulary is part of the binary: failing here is a build defect.
      std::fprintf(stderr, "embedded CLIP vocabulary: %s\n", t.status().ToString().c_str());
      std::abort();
    }
    return t->release();
  }();
  return *tokenizer;
}

absl::Status ClipTokenizer::SaveHuggingFaceFiles(const std::string& vocab_json_path,
                                                 const std::string& merges_txt_path) const {
  nlohmann::json vocab = nlohmann::json::object();
  for (const auto& [token, id] : encoder_) vocab[token] = id;
  std::vector<const std::string*> merges(merge_ranks_.size());
  for (const auto& [merge, rank] : merge_ranks_) merges[rank] = &merge;
  std::ofstream v(vocab_json_path, std::ios::binary), m(merges_txt_path, std::ios::binary);
  v << vocab.dump();
  m << "#version: 0.2\n";
  for (const std::string* merge : merges) m << *merge << "\n";
  v.close();
  m.close();
  if (!v || !m) {
    return absl::InternalError(
        absl::StrCat("cannot write ", vocab_json_path, " and ", merges_txt_path));
  }
  return absl::OkStatus();
}

std::u32string ClipTokenizer::NormalizeForClip(std::string_view text) {
  std::u32string s = FixTextPerCodePoint(DecodeUtf8(text));
  s = Strip(HtmlUnescape(HtmlUnescape(s)));
  return Lowercase(CollapseWhitespace(s));
}

std::vector<int> ClipTokenizer::Bpe(const std::string& token) const {
  {
    absl::MutexLock lock(&cache_mu_);
    auto it = cache_.find(token);
    if (it != cache_.end()) return it->second;
  }
  // Symbols: one per stand-in character, the last one marked as the end of the word.
  std::vector<std::string> word;
  for (size_t i = 0; i < token.size();) {
    const auto b = static_cast<uint8_t>(token[i]);
    const size_t len = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : 4;
    word.push_back(token.substr(i, len));
    i += len;
  }
  if (word.empty()) return {};
  word.back() += "</w>";
  while (word.size() > 1) {
    int best_rank = std::numeric_limits<int>::max();
    size_t best = 0;
    for (size_t k = 0; k + 1 < word.size(); ++k) {
      auto it = merge_ranks_.find(word[k] + " " + word[k + 1]);
      if (it != merge_ranks_.end() && it->second < best_rank) {
        best_rank = it->second;
        best = k;
      }
    }
    if (best_rank == std::numeric_limits<int>::max()) break;
    const std::string first = word[best], second = word[best + 1];
    std::vector<std::string> merged;
    merged.reserve(word.size());
    for (size_t k = 0; k < word.size();) {
      if (k + 1 < word.size() && word[k] == first && word[k + 1] == second) {
        merged.push_back(first + second);
        k += 2;
      } else {
        merged.push_back(word[k++]);
      }
    }
    word = std::move(merged);
  }
  std::vector<int> ids;
  ids.reserve(word.size());
  for (const std::string& symbol : word) {
    auto it = encoder_.find(symbol);
    // Every byte and byte + "</w>" is in the vocabulary, so a miss means a merges file
    // without its vocabulary; the unknown symbol is dropped rather than misread.
    if (it != encoder_.end()) ids.push_back(it->second);
  }
  absl::MutexLock lock(&cache_mu_);
  if (cache_.size() > 200'000) cache_.clear();  // Bounded: labels are client input.
  cache_.emplace(token, ids);
  return ids;
}

std::vector<int> ClipTokenizer::Encode(std::string_view text) const {
  std::vector<int> ids;
  for (const std::u32string& piece : PreTokenize(NormalizeForClip(text))) {
    std::string utf8;
    for (char32_t c : piece) AppendUtf8(c, &utf8);
    if (utf8 == kStartText || utf8 == kEndText) {
      ids.push_back(encoder_.at(utf8));
      continue;
    }
    std::string stand_in;
    for (char byte : utf8) stand_in += byte_encoder_[static_cast<uint8_t>(byte)];
    const std::vector<int> piece_ids = Bpe(stand_in);
    ids.insert(ids.end(), piece_ids.begin(), piece_ids.end());
  }
  return ids;
}

std::vector<int> ClipTokenizer::Tokenize(std::string_view text, int context_length) const {
  std::vector<int> tokens = {kStartOfText};
  const std::vector<int> ids = Encode(text);
  tokens.insert(tokens.end(), ids.begin(), ids.end());
  tokens.push_back(kEndOfText);
  if (context_length >= 2 && static_cast<int>(tokens.size()) > context_length) {
    tokens.resize(context_length);
    tokens.back() = kEndOfText;
  }
  return tokens;
}

}  // namespace ovseg
