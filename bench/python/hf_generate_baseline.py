"""Hugging Face baseline for bench/bench_generate: transformers' own model class and `generate`
(greedy, with its KV cache) on the CPU, at the same shapes and on the same weights as popo.

Usage: hf_generate_baseline.py MODEL_DIR PROMPTS.json NEW_TOKENS THREADS [REPEATS]
Prints one JSON line: {"prefill_s", "decode_s", "tokens": [[...], ...], "versions": {...}} of the
fastest of REPEATS runs. generate() does not report its prefill separately, so prefill_s is a
separate forward pass over the prompts (timed alone) and decode_s the rest of generate's time.
Needs the oracle environment (scripts/oracle_env.sh): torch and transformers.
"""
import json
import sys
import time

import torch
import transformers


def main():
    model_dir, prompts_path, new_tokens, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    repeats = int(sys.argv[5]) if len(sys.argv) > 5 else 1
    torch.set_num_threads(threads)
    model = transformers.AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    ids = torch.tensor(json.load(open(prompts_path)), dtype=torch.long)  # (B, P), no padding
    mask = torch.ones_like(ids)
    best = None
    with torch.inference_mode():
        for _ in range(repeats):
            t0 = time.perf_counter()
            model(input_ids=ids, attention_mask=mask, use_cache=True)
            prefill = time.perf_counter() - t0
            t0 = time.perf_counter()
            out = model.generate(ids, attention_mask=mask, max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                                 do_sample=False, use_cache=True, eos_token_id=None, pad_token_id=0)
            total = time.perf_counter() - t0
            r = {"prefill_s": prefill, "decode_s": max(total - prefill, 0.0),
                 "tokens": out[:, ids.shape[1]:].tolist(),
                 "versions": {"torch": torch.__version__, "transformers": transformers.__version__}}
            if best is None or r["prefill_s"] + r["decode_s"] < best["prefill_s"] + best["decode_s"]:
                best = r
    print(json.dumps(best))


if __name__ == "__main__":
    main()
