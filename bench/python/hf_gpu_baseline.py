"""Baseline for bench/gpu.sh: Hugging Face transformers + PyTorch on the same card as popo.

Two measurements, written the way a TRL user without vLLM gets them:
  generate - model.generate(do_sample=True, temperature=1.0, no top-k/top-p, no EOS) at a batch
             of random prompts: generated tokens/s and peak memory.
  update   - one GRPO-style optimizer step on random rollouts: HF forward, fp32 logits,
             log-softmax of the sampled tokens, the clipped-ratio policy-gradient loss with
             seq-mean-token-mean aggregation (ratio 1 in value, as TRL with one iteration),
             backward in micro-batches, clip_grad_norm_ 1.0, AdamW: tokens/s, MFU, peak memory.
Weights are random (HF init) in the Qwen2.5 shapes of bench/bench_util.h. Without transformers
(e.g. Debian's python3-torch on a CPU machine) it writes one 'skipped' record and exits 0.
Appends one JSON object per measurement to --json.
"""
import argparse
import contextlib
import json
import time

import torch

SHAPES = {  # copied from the published config.json files
    "tiny": dict(vocab_size=512, hidden_size=64, intermediate_size=176, num_hidden_layers=2,
                 num_attention_heads=4, num_key_value_heads=2, rope_theta=10000.0,
                 tie_word_embeddings=True, max_position_embeddings=4096),
    "qwen2.5-0.5b": dict(vocab_size=151936, hidden_size=896, intermediate_size=4864,
                         num_hidden_layers=24, num_attention_heads=14, num_key_value_heads=2,
                         rope_theta=1000000.0, tie_word_embeddings=True,
                         max_position_embeddings=32768),
    "qwen2.5-math-1.5b": dict(vocab_size=151936, hidden_size=1536, intermediate_size=8960,
                              num_hidden_layers=28, num_attention_heads=12, num_key_value_heads=2,
                              rope_theta=10000.0, tie_word_embeddings=True,
                              max_position_embeddings=4096),
}


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def reset_peak(device):
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()


def peak_bytes(device):
    return torch.cuda.max_memory_allocated() if device.type == "cuda" else None


def matmul_rate(device, dtype, n):
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    sync(device)
    t = time.perf_counter()
    for _ in range(10):
        a @ b
    sync(device)
    return 2 * n**3 * 10 / (time.perf_counter() - t)


def make_model(shape, device, dtype):
    from transformers import AutoModelForCausalLM, Qwen2Config

    import transformers

    kw = dict(SHAPES[shape])
    if int(transformers.__version__.split(".")[0]) >= 5:  # v5 nests it in rope_parameters
        kw["rope_parameters"] = {"rope_type": "default", "rope_theta": kw.pop("rope_theta")}
    config = Qwen2Config(**kw, rms_norm_eps=1e-6, bos_token_id=None, eos_token_id=None,
                         pad_token_id=0)
    # Initialise on the GPU directly (torch >= 2.0 makes a device a context manager).
    on_device = torch.device(device) if hasattr(torch.device, "__enter__") else contextlib.nullcontext()
    with on_device:
        try:
            model = AutoModelForCausalLM.from_config(config, dtype=dtype)
        except TypeError:  # transformers < 4.56 names it torch_dtype
            model = AutoModelForCausalLM.from_config(config, torch_dtype=dtype)
    return model.to(device)


def bench_generate(model, device, batch, prompt_len, new_tokens):
    vocab = model.config.vocab_size
    ids = torch.randint(1, vocab, (batch, prompt_len), device=device)
    mask = torch.ones_like(ids)
    kwargs = dict(do_sample=True, temperature=1.0, top_k=0, top_p=1.0, eos_token_id=None,
                  pad_token_id=0)
    with torch.no_grad():
        model.generate(ids, attention_mask=mask, max_new_tokens=8, **kwargs)  # warm-up
        sync(device)
        reset_peak(device)
        t = time.perf_counter()
        out = model.generate(ids, attention_mask=mask, max_new_tokens=new_tokens,
                             min_new_tokens=new_tokens, **kwargs)
        sync(device)
        secs = time.perf_counter() - t
    generated = (out.shape[1] - prompt_len) * batch
    return dict(phase="generate", batch=batch, prompt_len=prompt_len, new_tokens=new_tokens,
                generated_tokens=generated, seconds=secs, tokens_per_s=generated / secs,
                peak_bytes=peak_bytes(device))


def grpo_loss(model, ids, prompt_len, advantages, n_micro):
    """TRL-style GRPO loss of one micro-batch (all response tokens real)."""
    response_len = ids.shape[1] - prompt_len
    # As TRL: logits of the response positions only (logits_to_keep), upcast to fp32.
    logits = model(input_ids=ids, use_cache=False,
                   logits_to_keep=response_len + 1).logits[:, :-1].float()  # (m, R, V)
    logp = torch.log_softmax(logits, dim=-1).gather(-1, ids[:, prompt_len:, None]).squeeze(-1)
    ratio = torch.exp(logp - logp.detach())                               # 1 in value
    per_token = -torch.min(ratio * advantages[:, None],
                           torch.clamp(ratio, 0.8, 1.2) * advantages[:, None])
    return per_token.mean(dim=1).mean() / n_micro                          # seq-mean-token-mean


def bench_update(model, device, rollouts, prompt_len, response_len, micro_batch, iters, peak_rate):
    vocab = model.config.vocab_size
    torch.manual_seed(7)
    ids = torch.randint(1, vocab, (rollouts, prompt_len + response_len), device=device)
    advantages = 1.0 - 2.0 * (torch.arange(rollouts, device=device) % 2).float()  # +1, -1, ...
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-6, weight_decay=0.01)
    n_micro = (rollouts + micro_batch - 1) // micro_batch
    times = []
    for it in range(1 + iters):  # one warm-up step
        sync(device)
        reset_peak(device)
        t = time.perf_counter()
        for i in range(0, rollouts, micro_batch):
            grpo_loss(model, ids[i:i + micro_batch], prompt_len,
                      advantages[i:i + micro_batch], n_micro).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        sync(device)
        if it > 0:
            times.append(time.perf_counter() - t)
    secs = sum(times) / len(times)
    tokens = rollouts * (prompt_len + response_len)
    params = sum(p.numel() for p in model.parameters())
    return dict(phase="update", algo="grpo", rollouts=rollouts, prompt_len=prompt_len,
                response_len=response_len, micro_batch=micro_batch, step_s=secs, tokens=tokens,
                tokens_per_s=tokens / secs, params=params,
                mfu=6 * params * tokens / secs / peak_rate, peak_step_bytes=peak_bytes(device))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--dtype", default="bfloat16")
    ap.add_argument("--shape", default="qwen2.5-0.5b", choices=sorted(SHAPES))
    ap.add_argument("--gen-batches", default="64,256")
    ap.add_argument("--prompt-len", type=int, default=128)
    ap.add_argument("--new-tokens", type=int, default=256)
    ap.add_argument("--update-rollouts", type=int, default=16)
    ap.add_argument("--update-prompt-len", type=int, default=128)
    ap.add_argument("--update-response-len", type=int, default=896)
    ap.add_argument("--micro-batch", type=int, default=4)
    ap.add_argument("--iters", type=int, default=2)
    ap.add_argument("--json", required=True)
    args = ap.parse_args()
    device, dtype = torch.device(args.device), getattr(torch, args.dtype)
    base = dict(program="hf", shape=args.shape, device=str(device), dtype=args.dtype,
                torch=torch.__version__)

    def emit(record):
        record = {**base, **record}
        with open(args.json, "a") as f:
            f.write(json.dumps(record) + "\n")
        print(json.dumps(record), flush=True)

    try:
        import transformers
    except ImportError:
        emit(dict(phase="all", skipped="transformers is not installed here"))
        return
    base["transformers"] = transformers.__version__
    peak_rate = matmul_rate(device, dtype, 8192 if device.type == "cuda" else 512)
    base["matmul_tflops"] = peak_rate / 1e12
    model = make_model(args.shape, device, dtype)
    model.eval()
    for batch in (int(b) for b in args.gen_batches.split(",") if b):
        emit(bench_generate(model, device, batch, args.prompt_len, args.new_tokens))
    emit(bench_update(model, device, args.update_rollouts, args.update_prompt_len,
                      args.update_response_len, args.micro_batch, args.iters, peak_rate))


if __name__ == "__main__":
    main()
