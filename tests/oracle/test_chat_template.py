"""Oracle: popo's chat templates against transformers' apply_chat_template.

"qwen3" is compared with the chat_template of the real Qwen tokenizer_config.json in the fixtures.
"chatml" and "qwen-boxed" are compared with the published Qwen2-Instruct ChatML template (below,
with the default system turn of each). Conversations: system/user/assistant in many shapes,
drawn from a seed (POPO_ORACLE_SEED), including <think> blocks, empty contents and newlines at
the edges that the templates strip. The rendered text and its ids must both be equal.
"""
import json
import os
import random
import subprocess
import tempfile
from pathlib import Path

import pytest
from transformers import AutoTokenizer

SEED = int(os.environ.get("POPO_ORACLE_SEED") or random.SystemRandom().randrange(1 << 31))
FIXTURES = Path(os.environ.get("POPO_FIXTURES_DIR") or Path(__file__).resolve().parents[1] / "fixtures")
QWEN_DIR = FIXTURES / "tokenizers/qwen"

CHATML = ("{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
          "{{ '<|im_start|>system\\nDEFAULT<|im_end|>\\n' }}{% endif %}"
          "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
          "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")
DEFAULT_SYSTEM = {
    "chatml": "You are a helpful assistant.",
    "qwen-boxed": "Please reason step by step, and put your final answer within \\\\boxed{}.",
}

TEXTS = ["What is 1+1?", "Compute $\\frac{1}{2}+\\frac{1}{3}$.", "", "\n", "\nline\n", "多行\n文本",
         "<think>\nplan\n</think>\n\nThe answer is 2.", "<think>a</think>b", "no think here",
         "x</think>y</think>z", "\n\n<think>\n\nr\n\n</think>\n\n\nc\n", "  spaced  ", "😀 \\boxed{3}"]


def conversations(rng, n):
    out = [[{"role": "user", "content": "What is 1+1?"}]]
    for _ in range(n):
        msgs = []
        if rng.random() < 0.5:
            msgs.append({"role": "system", "content": rng.choice(TEXTS)})
        for t in range(rng.randint(1, 3)):
            msgs.append({"role": "user", "content": rng.choice(TEXTS)})
            if t or rng.random() < 0.6:
                msgs.append({"role": "assistant", "content": rng.choice(TEXTS)})
        if rng.random() < 0.3:
            msgs.append({"role": "user", "content": rng.choice(TEXTS)})
        out.append(msgs)
    return out


def popo_render(template, rows):
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8") as f:
        for msgs, gen in rows:
            f.write(json.dumps({"messages": msgs, "add_generation_prompt": gen}) + "\n")
        path = f.name
    r = subprocess.run([os.environ["POPO_BINARY"], "tokenize", "--tokenizer", str(QWEN_DIR / "tokenizer.json"),
                        "--template", template, "--jsonl", path], capture_output=True, timeout=300)
    os.unlink(path)
    assert r.returncode == 0, r.stderr.decode(errors="replace")[-3000:]
    return [json.loads(l) for l in r.stdout.decode("utf-8").split("\n") if l]


@pytest.mark.parametrize("template", ["qwen3", "chatml", "qwen-boxed"])
def test_renderings_equal_apply_chat_template(template):
    rng = random.Random(SEED)
    print(f"POPO_ORACLE_SEED={SEED}")
    hf = AutoTokenizer.from_pretrained(str(QWEN_DIR))
    jinja = None if template == "qwen3" else CHATML.replace("DEFAULT", DEFAULT_SYSTEM[template])
    rows = [(m, gen) for m in conversations(rng, 150) for gen in (True, False)]
    got = popo_render(template, rows)
    assert len(got) == len(rows)
    bad = []
    for (msgs, gen), g in zip(rows, got):
        want = hf.apply_chat_template(msgs, tokenize=False, add_generation_prompt=gen, chat_template=jinja)
        ids = hf(want, add_special_tokens=False)["input_ids"]
        if g["prompt"] != want or g["ids"] != ids:
            bad.append({"messages": msgs, "gen": gen, "hf": want, "popo": g["prompt"]})
    assert not bad, f"POPO_ORACLE_SEED={SEED}: {len(bad)} of {len(rows)} differ; first: {json.dumps(bad[:2])}"
