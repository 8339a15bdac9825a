#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (fuzz/README.md) from the checkout's fixtures and
data: OUT/<target>/<name>. Standard library only. Usage: fuzz/make_seeds.py OUT"""
import json
import os
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = sys.argv[1]


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode("utf-8"))


def jsonl(path, n):
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                rows.append(json.loads(line))
            if len(rows) >= n:
                break
    return rows


# tokenizer.json: the Qwen2.5 file cut to its first 400 tokens and the merges among them (the
# whole file is 11 MB, too big to mutate), with every other section as it is.
tok = json.load(open(os.path.join(ROOT, "tests/fixtures/tokenizers/qwen/tokenizer.json"), encoding="utf-8"))
vocab = {t: i for t, i in tok["model"]["vocab"].items() if i < 400}
merges = [m for m in tok["model"]["merges"]
          if all(p in vocab for p in (m if isinstance(m, list) else m.split(" ")))
          and "".join(m if isinstance(m, list) else m.split(" ")) in vocab][:200]
small = dict(tok)
small["model"] = dict(tok["model"], vocab=vocab, merges=merges)
small["added_tokens"] = [dict(a, id=400 + k) for k, a in enumerate(tok["added_tokens"][:4])]
put("fuzz_tokenizer_json", "qwen-400", json.dumps(small, ensure_ascii=False))
put("fuzz_tokenizer_json", "empty-bpe", json.dumps({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}))

# Tokenizer round trip: the strings of the Hugging Face tokenizer fixture.
for k, row in enumerate(jsonl(os.path.join(ROOT, "tests/fixtures/hf-reference/tokenizer_qwen_cases.jsonl"), 1000)):
    put("fuzz_tokenizer_roundtrip", "case-%03d" % k, row["text"])


# safetensors: small valid files of every dtype, and the headers of the fixture models.
def safetensors(tensors, metadata=None):
    h, data, off = {}, b"", 0
    if metadata:
        h["__metadata__"] = metadata
    for name, dtype, shape, nbytes in tensors:
        h[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + nbytes]}
        data += bytes((off + i) % 251 for i in range(nbytes))
        off += nbytes
    hb = json.dumps(h).encode()
    hb += b" " * ((8 - len(hb) % 8) % 8)
    return struct.pack("<Q", len(hb)) + hb + data


put("fuzz_safetensors", "f32", safetensors([("w", "F32", [2, 3], 24)], {"format": "pt"}))
put("fuzz_safetensors", "mixed", safetensors([("a", "BF16", [4], 8), ("b", "I64", [1, 2], 16),
                                              ("c", "BOOL", [3], 3), ("d", "U8", [0, 5], 0)]))
for model in ("qwen2-tiny", "llama-tiny"):
    with open(os.path.join(ROOT, "tests/fixtures/hf-reference/models", model, "model.safetensors"), "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        f.seek(0)
        put("fuzz_safetensors", model + "-header", f.read(8 + n))

put("fuzz_safetensors_index", "two-shards", json.dumps(
    {"metadata": {"total_size": 64}, "weight_map": {"a.weight": "model-00001-of-00002.safetensors",
                                                   "b.weight": "model-00002-of-00002.safetensors"}}))
put("fuzz_safetensors_index", "escape", json.dumps({"weight_map": {"a": "../x.safetensors"}}))

# The verifier: gold answers of every benchmark with responses that box them, and a few traps.
k = 0
for name in ("math500", "aime2025", "amc23", "minerva", "olympiadbench", "gsm8k_test"):
    for row in jsonl(os.path.join(ROOT, "data", name + ".jsonl"), 12):
        gold = str(row["answer"])
        for mode, resp in ((0, "So the answer is $\\boxed{%s}$." % gold), (1, "\\boxed{%s}" % gold),
                           (2, "The final answer is %s" % gold)):
            put("fuzz_verifier", "v%04d" % k, bytes([mode]) + gold.encode() + b"\0" + resp.encode())
            k += 1
for gold, resp in (("\\frac{1}{2}", "\\boxed{0.5}"), ("(1,2]", "\\boxed{(1, 2]}"), ("x^2+1", "\\boxed{1+x^2}"),
                   ("\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", "\\boxed{\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}}"),
                   ("10\\%", "\\boxed{0.1}"), ("\\{1,2\\}", "\\boxed{\\{2,1\\}}"), ("x=3", "\\boxed{3}")):
    put("fuzz_verifier", "v%04d" % k, b"\0" + gold.encode() + b"\0" + resp.encode())
    k += 1

# Configs: each shipped config, then override lines.
overrides = "trainer.steps=3\nalgo.name=grpo\npopo.tau=0.5\nsampling.temperature=0.7\n"
for f in sorted(os.listdir(os.path.join(ROOT, "configs"))):
    if f.endswith(".yaml"):
        text = open(os.path.join(ROOT, "configs", f), encoding="utf-8").read()
        put("fuzz_config", f, text.encode() + b"\0" + overrides.encode())
put("fuzz_config", "overrides-only", b"\0" + overrides.encode())

# JSONL: the first rows of each dataset, and one with bad rows.
for name in ("math500", "gsm8k_test", "aime2025"):
    with open(os.path.join(ROOT, "data", name + ".jsonl"), encoding="utf-8") as f:
        put("fuzz_jsonl", name, "".join(f.readlines()[:8]))
put("fuzz_jsonl", "bad-rows", '{"problem": "1+1", "answer": 2}\n[]\n{"problem": 3}\n\n{"id": 7, "problem": "x", "answer": ""}\n')

# Chat templates: conversations (parts split at \x01, the first byte the role: 0 system,
# 1 user, 2 assistant, 3 an unknown role).
put("fuzz_chat_template", "user", b"\x01What is 1+1?")
put("fuzz_chat_template", "system-user-assistant",
    b"\x00You are terse.\x01\x01What is 1+1?\x01\x02<think>\nadd\n</think>\n\n\\boxed{2}\x01\x01And 2+2?")
