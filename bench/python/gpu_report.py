"""Prints the one markdown table of bench/gpu.sh from its results.jsonl (plain Python, no torch).

Each line of the input is one record written by bench_rollout / bench_update (program "popo"),
bench/python/hf_gpu_baseline.py (program "hf") or bench/gpu.sh itself (program "card").
Rows pair popo with the Hugging Face / plain PyTorch baseline measured in the same run.
"""
import json
import sys

# Earlier readings on the Qwen2.5-0.5B shape, printed for orientation (H100, 2026-11-27).
EARLIER = {("generate", 64): "HF 876 tok/s", ("generate", 256): "HF 4,041 tok/s",
           ("update", "grpo"): "PyTorch ~50,000 tok/s"}


def earlier(r, key):
    return EARLIER.get(key, "") if r.get("shape") == "qwen2.5-0.5b" else ""


def gib(b):
    return "n/a" if b is None or b < 0 else f"{b / 2**30:.2f} GiB"


def num(x, fmt="{:,.0f}"):
    return "n/a" if x is None else fmt.format(x)


def main(path):
    recs = [json.loads(line) for line in open(path) if line.strip()]
    card = next((r for r in recs if r.get("program") == "card"), {})
    popo = [r for r in recs if r.get("program") == "popo"]
    hf = [r for r in recs if r.get("program") == "hf"]
    hf_skip = next((r["skipped"] for r in hf if "skipped" in r), None)
    print(f"GPU: {card.get('gpu', 'none')}; torch {card.get('torch', '?')}; "
          f"transformers {card.get('transformers', 'not installed')}; date {card.get('date', '?')}")
    rate = next((r["matmul_tflops"] for r in popo + hf if "matmul_tflops" in r), None)
    print(f"matmul rate measured in this run (8192^3 bf16 on a GPU, 512^3 fp32 on CPU): "
          f"{num(rate, '{:.3g}')} TFLOP/s; MFU below = 6 x params x tokens / time / that rate")
    if hf_skip:
        print(f"HF columns: skipped ({hf_skip})")
    print()
    print("| measurement | popo | HF / PyTorch (same run) | popo / baseline | popo peak | baseline peak | earlier reading |")
    print("|---|---|---|---|---|---|---|")
    for r in (r for r in popo if r.get("phase") == "generate"):
        b = next((h for h in hf if h.get("phase") == "generate" and r.get("group") == 1
                  and all(h.get(k) == r.get(k) for k in ("shape", "batch", "prompt_len", "new_tokens"))),
                 None)
        ratio = f"{r['tokens_per_s'] / b['tokens_per_s']:.2f}x" if b else "n/a"
        print(f"| generate {r['shape']} batch {r['batch']} (G {r['group']}), {r['prompt_len']} + "
              f"{r['new_tokens']} tok, tok/s | {num(r['tokens_per_s'])} | "
              f"{num(b['tokens_per_s']) if b else 'n/a'} | {ratio} | {gib(r.get('peak_bytes'))} | "
              f"{gib(b.get('peak_bytes')) if b else 'n/a'} | {earlier(r, ('generate', r['batch']))} |")
    for r in (r for r in popo if "algo" in r):
        shape = f"{r['shape']} {r['algo'].upper()} step, {r['rollouts']} x {r['prompt_len'] + r['response_len']} tok"
        shape += ", grad ckpt" if r.get("grad_ckpt") else ""
        if not r.get("fits", False):
            print(f"| {shape} | does not fit: {r.get('error', '?')} | | | | | |")
            continue
        b = next((h for h in hf if h.get("phase") == "update"
                  and all(h.get(k) == r.get(k) for k in ("shape", "rollouts", "prompt_len", "response_len"))),
                 None)
        ratio = f"{r['tokens_per_s'] / b['tokens_per_s']:.2f}x" if b else "n/a"
        print(f"| {shape}, tok/s (MFU) | {num(r['tokens_per_s'])} ({100 * r['mfu']:.1f}%) | "
              f"{num(b['tokens_per_s']) + ' (' + format(100 * b['mfu'], '.1f') + '%, GRPO)' if b else 'n/a'} | "
              f"{ratio} | {gib(r.get('peak_step_bytes'))} | {gib(b.get('peak_step_bytes')) if b else 'n/a'} | "
              f"{earlier(r, ('update', r['algo']))} |")
        print(f"| {shape}, phases | coef {r['coef_s']:.3f} s, fwd+bwd {r['fwd_bwd_s']:.3f} s, "
              f"optimizer {r['optimizer_s']:.3f} s | | | coef peak {gib(r.get('peak_coef_bytes'))} | | |")
    for r in (r for r in popo if r.get("error_step")):
        print(f"| {r['error_step']} | failed: {r.get('error', '?')} | | | | | |")


if __name__ == "__main__":
    main(sys.argv[1])
