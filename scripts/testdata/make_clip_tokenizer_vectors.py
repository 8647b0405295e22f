#!/usr/bin/env python3
"""Token ids from OpenAI's own simple_tokenizer (openai/CLIP, clip/simple_tokenizer.py) for
every label of the shared vocabularies, the prompt templates and a set of tricky strings.
Writes tests/data/clip_tokenizer_vectors.json: [{"text": ..., "tokens": [...]}, ...] with
start/end tokens, truncated to 77 like clip.tokenize(truncate=True), no padding.

  .tools-venv/bin/python scripts/testdata/make_clip_tokenizer_vectors.py \
      /work/.mirror/openai+CLIP/repo ../shared/vocabularies > tests/data/clip_tokenizer_vectors.json
(the first argument is a checkout of openai/CLIP; pip install ftfy regex)
"""
import glob
import importlib.util
import json
import os
import subprocess
import sys
import tempfile

TRICKY = [
    "", " ", "a", "A", "cat", "Cat", "CAT", "  many   spaces\tand\ttabs\n", "don't", "it's",
    "they're", "we've", "I'm", "you'll", "he'd", "'s", "''s", "rock'n'roll", "o'clock",
    "T-shirt", "t-shirt", "3d", "1,000", "2024", "½", "x²", "١٢٣", "café", "naïve", "Straße",
    "İstanbul", "ΣΊΣΥΦΟΣ", "ＦＵＬＬＷＩＤＴＨ", "ﬁsh", "日本語のテキスト", "한국어", "emoji 🐱🐶",
    "👩‍👩‍👧", "&amp;", "rock &amp; roll", "&amp;amp;", "&lt;b&gt;", "&#39;", "&#x27;", "&#0;",
    "&#128;", "&#x110000;", "&notit;", "&notin;", "&copy 2024", "&", "&#", "&#x", "a&b",
    "“quoted”", "‘single’", "em—dash", "ellipsis…", "zero\u200bwidth", "nbsp\u00a0here",
    "<|startoftext|>", "<|endoftext|>", "x<|endoftext|>", "!<|endoftext|>", "'ſ", "a.b.c",
    "???", "...", "--", "__init__", "e-mail@address.com", "http://example.com/path?q=1",
    "a photo of a {}.", "wall,walls,interior wall", "chest of drawers", "bed ",
    " ".join(["word"] * 100), "supercalifragilisticexpialidocious " * 10,
]

VILD_TEMPLATES = [
    "a photo of a {}.", "This is a photo of a {}", "There is a {} in the scene",
    "There is the {} in the scene", "a photo of a {} in the scene", "a photo of a small {}.",
    "a photo of a medium {}.", "a photo of a large {}.", "This is a photo of a small {}.",
    "This is a photo of a medium {}.", "This is a photo of a large {}.",
    "There is a small {} in the scene.", "There is a medium {} in the scene.",
    "There is a large {} in the scene.",
]


def load_tokenizer(clip_repo):
    out = tempfile.mkdtemp()
    for name in ("simple_tokenizer.py", "bpe_simple_vocab_16e6.txt.gz"):
        data = subprocess.check_output(["git", "-C", clip_repo, "show", "HEAD:clip/" + name])
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    spec = importlib.util.spec_from_file_location("simple_tokenizer",
                                                  os.path.join(out, "simple_tokenizer.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SimpleTokenizer(os.path.join(out, "bpe_simple_vocab_16e6.txt.gz"))


def vocabulary_labels(folder):
    labels = []
    for path in sorted(glob.glob(os.path.join(folder, "*.json"))):
        labels += json.load(open(path))
    for path in sorted(glob.glob(os.path.join(folder, "*_with_prompt_eng.txt"))):
        for line in open(path, encoding="utf-8"):
            line = line.rstrip("\n")
            if ":" in line:
                labels += line.split(":", 1)[1].split(",")
    return labels


def main():
    tokenizer = load_tokenizer(sys.argv[1])
    sot, eot = tokenizer.encoder["<|startoftext|>"], tokenizer.encoder["<|endoftext|>"]
    labels = vocabulary_labels(sys.argv[2])
    texts = list(dict.fromkeys(TRICKY + labels + [t.format("dog") for t in VILD_TEMPLATES]))
    out = []
    for text in texts:
        tokens = [sot] + tokenizer.encode(text) + [eot]
        if len(tokens) > 77:
            tokens = tokens[:77]
            tokens[-1] = eot
        out.append({"text": text, "tokens": tokens})
    json.dump(out, sys.stdout, ensure_ascii=False, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
