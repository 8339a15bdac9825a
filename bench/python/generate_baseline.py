"""Plain PyTorch baseline for bench/bench_generate: a Qwen2 decoder with a KV cache, written the
way a Python user would (nn.Module per block, torch.cat cache), greedy decoding.

Usage: generate_baseline.py MODEL_DIR PROMPTS.json NEW_TOKENS THREADS [REPEATS]
Prints one JSON line: {"prefill_s", "decode_s", "tokens": [[...], ...]} of the fastest of REPEATS runs.
Reads the safetensors file with a few lines of struct/json (no safetensors package needed).
"""
import json
import struct
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    dtypes = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16}
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        a, b = e["data_offsets"]
        out[name] = torch.frombuffer(bytearray(data[a:b]), dtype=dtypes[e["dtype"]]).reshape(e["shape"])
    return out


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        var = x.float().pow(2).mean(-1, keepdim=True)
        return self.weight * (x.float() * torch.rsqrt(var + self.eps)).to(x.dtype)


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.h, self.hkv = c["num_attention_heads"], c["num_key_value_heads"]
        self.d = c.get("head_dim") or c["hidden_size"] // self.h
        C = c["hidden_size"]
        self.q_proj = nn.Linear(C, self.h * self.d, bias=True)
        self.k_proj = nn.Linear(C, self.hkv * self.d, bias=True)
        self.v_proj = nn.Linear(C, self.hkv * self.d, bias=True)
        self.o_proj = nn.Linear(self.h * self.d, C, bias=False)

    def forward(self, x, cos, sin, cache):
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.h, self.d).transpose(1, 2)
        k = self.k_proj(x).view(B, T, self.hkv, self.d).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.hkv, self.d).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if cache is not None:
            k = torch.cat([cache[0], k], dim=2)
            v = torch.cat([cache[1], v], dim=2)
        new_cache = (k, v)
        rep = self.h // self.hkv
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        scores = q @ k.transpose(2, 3) / self.d ** 0.5
        S = k.shape[2]
        if T > 1:
            mask = torch.full((T, S), float("-inf")).triu(S - T + 1)
            scores = scores + mask
        out = F.softmax(scores.float(), dim=-1).to(q.dtype) @ v
        return self.o_proj(out.transpose(1, 2).reshape(B, T, -1)), new_cache


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        C, I = c["hidden_size"], c["intermediate_size"]
        self.input_layernorm = RMSNorm(C, c["rms_norm_eps"])
        self.post_attention_layernorm = RMSNorm(C, c["rms_norm_eps"])
        self.self_attn = Attention(c)
        self.mlp = nn.ModuleDict(dict(gate_proj=nn.Linear(C, I, bias=False), up_proj=nn.Linear(C, I, bias=False),
                                      down_proj=nn.Linear(I, C, bias=False)))

    def forward(self, x, cos, sin, cache):
        a, cache = self.self_attn(self.input_layernorm(x), cos, sin, cache)
        x = x + a
        h = self.post_attention_layernorm(x)
        m = self.mlp
        return x + m["down_proj"](F.silu(m["gate_proj"](h)) * m["up_proj"](h)), cache


class Qwen2(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.model = nn.Module()
        self.model.embed_tokens = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.model.layers = nn.ModuleList([Layer(c) for _ in range(c["num_hidden_layers"])])
        self.model.norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        if not c.get("tie_word_embeddings"):
            self.lm_head = nn.Linear(c["hidden_size"], c["vocab_size"], bias=False)
        d = c.get("head_dim") or c["hidden_size"] // c["num_attention_heads"]
        theta = c.get("rope_theta") or c["rope_parameters"]["rope_theta"]
        self.inv_freq = 1.0 / (theta ** (torch.arange(0, d, 2).float() / d))

    def forward(self, ids, start, caches):
        T = ids.shape[1]
        pos = torch.arange(start, start + T).float()
        freqs = torch.outer(pos, self.inv_freq)
        emb = torch.cat([freqs, freqs], dim=-1)
        cos, sin = emb.cos(), emb.sin()
        x = self.model.embed_tokens(ids)
        new = []
        for i, layer in enumerate(self.model.layers):
            x, c = layer(x, cos, sin, caches[i] if caches else None)
            new.append(c)
        x = self.model.norm(x[:, -1])
        w = self.model.embed_tokens.weight if self.c.get("tie_word_embeddings") else self.lm_head.weight
        return x @ w.t(), new


def main():
    model_dir, prompts_path, new_tokens, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    torch.set_num_threads(threads)
    c = json.load(open(model_dir + "/config.json"))
    model = Qwen2(c).eval()
    model.load_state_dict(read_safetensors(model_dir + "/model.safetensors"), strict=True)
    repeats = int(sys.argv[5]) if len(sys.argv) > 5 else 1
    ids = torch.tensor(json.load(open(prompts_path)))
    best = None
    for _ in range(repeats):
        with torch.inference_mode():
            t0 = time.perf_counter()
            logits, caches = model(ids, 0, None)
            tok = logits.argmax(-1, keepdim=True)
            t1 = time.perf_counter()
            out = [tok]
            for step in range(new_tokens - 1):
                logits, caches = model(tok, ids.shape[1] + step, caches)
                tok = logits.argmax(-1, keepdim=True)
                out.append(tok)
            t2 = time.perf_counter()
        run = {"prefill_s": t1 - t0, "decode_s": t2 - t1, "tokens": torch.cat(out, 1).tolist()}
        if best is None or t2 - t0 < best["prefill_s"] + best["decode_s"]:
            best = run
    print(json.dumps(best))


if __name__ == "__main__":
    main()
