"""Oracle: popo's tokenizer against Hugging Face tokenizers on random and adversarial strings.

Vocabularies: the real Qwen tokenizer.json (tests/fixtures/tokenizers/qwen) and vocabularies
trained at test time with tokenizers' own BPE trainer (the Qwen pre-tokenizer layout, GPT-2's
ByteLevel-with-regex layout, added special tokens). Every string's ids and the decode of those ids
must be equal. The strings are drawn from a seed (POPO_ORACLE_SEED, default fresh, printed).
"""
import json
import os
import random
import subprocess
import tempfile
from pathlib import Path

import pytest
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

SEED = int(os.environ.get("POPO_ORACLE_SEED") or random.SystemRandom().randrange(1 << 31))
FIXTURES = Path(os.environ.get("POPO_FIXTURES_DIR") or Path(__file__).resolve().parents[1] / "fixtures")
DATA = Path(os.environ.get("POPO_DATA_DIR") or Path(__file__).resolve().parents[2] / "data")
QWEN_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
              r"|\s*[\r\n]+|\s+(?!\S)|\s+")

# Pieces that stress the pre-tokenizer, the byte-level map and the NFC normaliser.
PIECES = [
    " ", "  ", "   ", "\t", "\n", "\r\n", "\n\n\n", " \n ", "\u00a0", "\u3000", "\u200b", "\u200d",
    "'s", "'T", "'re", "'LL", "n't", "I'm", "12345", "3.14159", "1,000,000", "-7", "1e-9", "٣٤٥",
    "\\frac{1}{2}", "\\boxed{42}", "$x^2+y^2$", "\\sqrt{3}", "a_{i,j}", "{}", "((()))", "...",
    "héllo", "he\u0301llo", "e\u0301", "\u212b", "A\u030a", "Ω", "\u2126", "ﬁ", "Ⅻ", "①",
    "数学", "答案是", "日本語のテキスト", "한국어", "Привет", "مرحبا", "שלום", "हिन्दी", "ไทย",
    "😀", "👍🏽", "👨‍👩‍👧", "🇫🇷", "∑∫∂√∞≠≤≥", "→", "½", "°", "€", "£", "\x7f", "\x01", "\u0000",
    "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|im_start", "im_end|>", "<|fim_prefix|>",
    "http://example.com/a?b=c", "snake_case_name", "CamelCaseName", "ALLCAPS", "x" * 40,
]


def random_string(rng):
    k = rng.randint(1, 12)
    parts = []
    for _ in range(k):
        r = rng.random()
        if r < 0.45:
            parts.append(rng.choice(PIECES))
        elif r < 0.7:
            parts.append("".join(rng.choice("abcdefghijklmnopqrstuvwxyz ABCXYZ0123456789.,;:!?'\"-+*/=()[]{}\\$^_")
                                 for _ in range(rng.randint(1, 20))))
        elif r < 0.9:  # random code points from the BMP and beyond, skipping surrogates
            cps = []
            for _ in range(rng.randint(1, 6)):
                c = rng.choice([rng.randint(0x20, 0x7e), rng.randint(0xa0, 0x2fff),
                                rng.randint(0x3000, 0x9fff), rng.randint(0x1f300, 0x1faff),
                                rng.randint(0x300, 0x36f)])
                cps.append(chr(c))
            parts.append("".join(cps))
        else:
            parts.append(rng.choice([" ", "\n", "  ", "\t"]) * rng.randint(1, 5))
    return "".join(parts)


def corpus_strings(rng, n):
    out = list(PIECES)
    for name in ("math500.jsonl", "gsm8k_test.jsonl"):
        p = DATA / name
        if p.exists():
            for line in p.read_text().splitlines()[:200]:
                row = json.loads(line)
                out.append(row.get("problem") or row.get("question") or "")
    out += [random_string(rng) for _ in range(n)]
    return out


def run_popo(tokenizer_json, texts):
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8") as f:
        for t in texts:
            f.write(json.dumps({"text": t}) + "\n")
        path = f.name
    r = subprocess.run([os.environ["POPO_BINARY"], "tokenize", "--tokenizer", str(tokenizer_json),
                        "--jsonl", path], capture_output=True, timeout=600)
    os.unlink(path)
    assert r.returncode == 0, r.stderr.decode(errors="replace")[-3000:]
    return [json.loads(l) for l in r.stdout.decode("utf-8").split("\n") if l]


def compare(tokenizer_json, texts):
    hf = Tokenizer.from_file(str(tokenizer_json))
    got = run_popo(tokenizer_json, texts)
    assert len(got) == len(texts)
    bad = []
    for t, g in zip(texts, got):
        ids = hf.encode(t, add_special_tokens=False).ids
        dec = hf.decode(ids, skip_special_tokens=False)
        if g["ids"] != ids or g["text"] != dec:
            bad.append({"text": t, "hf_ids": ids, "popo_ids": g["ids"], "hf_decode": dec,
                        "popo_decode": g["text"]})
    assert not bad, (f"POPO_ORACLE_SEED={SEED} {tokenizer_json}: {len(bad)} of {len(texts)} differ; "
                     f"first: {json.dumps(bad[:3], ensure_ascii=True)}")


def train(tmp, name, pre, normalizer, specials, rng):
    tok = Tokenizer(models.BPE())
    if normalizer is not None:
        tok.normalizer = normalizer
    tok.pre_tokenizer = pre
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=rng.choice([300, 600, 1200]), special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(corpus_strings(rng, 400), trainer=trainer)
    path = tmp / f"{name}.json"
    tok.save(str(path))
    return path


def test_qwen_vocabulary_random_and_adversarial():
    rng = random.Random(SEED)
    print(f"POPO_ORACLE_SEED={SEED}")
    texts = PIECES + ["".join(PIECES)] + [random_string(rng) for _ in range(1500)]
    compare(FIXTURES / "tokenizers/qwen/tokenizer.json", texts)


@pytest.mark.parametrize("layout", ["qwen", "gpt2", "qwen-specials"])
def test_vocabularies_trained_at_test_time(tmp_path, layout):
    rng = random.Random(SEED + ["qwen", "gpt2", "qwen-specials"].index(layout) + 1)
    if layout == "gpt2":
        pre, norm, specials = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True), None, []
    else:
        pre = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(QWEN_SPLIT), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
        norm = normalizers.NFC()
        specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] if layout == "qwen-specials" else []
    path = train(tmp_path, layout, pre, norm, specials, rng)
    texts = PIECES + [random_string(rng) for _ in range(800)]
    compare(path, texts)
