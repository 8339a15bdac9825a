"""Oracle: LoRA adapters between PEFT and popo, both ways.

For random Qwen2 and Llama models (fp32) and random subsets of the projections, PEFT makes adapters
with random A and B (init_lora_weights=False, so B is not zero), saves them with save_pretrained,
and records the adapted logits and the logits of merge_and_unload(). popo's side
(`popo_tests --gtest_filter=OracleLora.*`, tests/torch/lora_test.cpp) loads PEFT's folder,
compares its adapted logits with PEFT's, saves its own copy of the adapters, a merged model
(merge_lora + save_model) and fresh adapters of its own init. Then:
  - PEFT loads popo's adapter folder (PeftModel.from_pretrained) and gives PEFT's logits again;
  - transformers loads popo's merged model and gives PEFT's merged logits;
  - PEFT loads popo's fresh adapters: the keys are exactly the ones PEFT's own state dict has for
    that config, and the logits equal the base model's (B = 0).
Tolerances: fp32 logits within 1e-4 (absolute), as the model oracle.
"""
import json
import os
import random
import subprocess

import peft
import pytest
import torch
import transformers
from safetensors.torch import load_file, save_file

TOL = 1e-4
T, B = 12, 2
MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def _seed():
    s = os.environ.get("POPO_ORACLE_SEED")
    return int(s) if s else random.SystemRandom().randrange(1 << 31)


SEED = _seed()


def logits_of(model, ids, mask):
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    with torch.no_grad():
        return model(input_ids=ids, attention_mask=mask, position_ids=pos).logits.float()


def make_case(root, i, rng):
    arch = ["qwen2", "llama"][i % 2]
    heads, kv = rng.choice([(4, 2), (4, 4), (2, 1)])
    head_dim = rng.choice([8, 16])
    common = dict(vocab_size=rng.choice([128, 256]), hidden_size=heads * head_dim,
                  intermediate_size=rng.choice([48, 96]), num_hidden_layers=rng.choice([1, 2, 3]),
                  num_attention_heads=heads, num_key_value_heads=kv, max_position_embeddings=128,
                  tie_word_embeddings=rng.random() < 0.5)
    cfg = (transformers.Qwen2Config(**common) if arch == "qwen2"
           else transformers.LlamaConfig(**common, bos_token_id=1, eos_token_id=2))
    d = root / f"{i}-{arch}"
    base_dir = d / "base"
    torch.manual_seed(SEED + i)
    model = transformers.AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
    with torch.no_grad():
        for _, p in model.named_parameters():
            if p.dim() >= 2:
                p.normal_(0.0, p.shape[-1] ** -0.5)
    model.save_pretrained(base_dir)
    base = transformers.AutoModelForCausalLM.from_pretrained(str(base_dir.resolve()), dtype=torch.float32).eval()
    targets = sorted(rng.sample(MODULES, rng.randint(1, len(MODULES))))
    r = rng.choice([1, 2, 4, 8])
    alpha = rng.choice([1.0, 8.0, 16.0, 32.0])
    lcfg = peft.LoraConfig(r=r, lora_alpha=alpha, target_modules=targets, lora_dropout=0.0, bias="none",
                           task_type="CAUSAL_LM", init_lora_weights=False)
    g = torch.Generator().manual_seed(SEED + 100 + i)
    ids = torch.randint(3, cfg.vocab_size, (B, T), generator=g)
    mask = torch.ones(B, T, dtype=torch.long)
    mask[1, :3] = 0
    ids[mask == 0] = 0
    base_logits = logits_of(base, ids, mask)
    pm = peft.get_peft_model(base, lcfg).eval()
    with torch.no_grad():  # B large enough that the adapters change the logits clearly
        for name, p in pm.named_parameters():
            if "lora_B" in name:
                p.normal_(0.0, 0.5)
    pm.save_pretrained(d / "peft_adapter")
    adapted = logits_of(pm, ids, mask)
    assert (adapted - base_logits).abs().max() > 1e-2, "the adapters must change the logits"
    merged = logits_of(pm.merge_and_unload(), ids, mask)
    save_file({"input_ids": ids, "attention_mask": mask, "logits": adapted.contiguous(),
               "merged_logits": merged.contiguous(), "base_logits": base_logits.contiguous()},
              str(d / "lora_reference.safetensors"))
    (d / "lora_reference.json").write_text(json.dumps({"tol": TOL, "r": r, "alpha": alpha, "targets": targets,
                                                       "peft_version": peft.__version__}))
    return d, lcfg


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    root = tmp_path_factory.mktemp("oracle_lora")
    print(f"POPO_ORACLE_SEED={SEED}")
    rng = random.Random(SEED)
    made = [make_case(root, i, rng) for i in range(4)]
    binary = os.environ["POPO_TESTS_BINARY"]
    r = subprocess.run([binary, "--gtest_filter=OracleLora.*"], env=dict(os.environ, POPO_ORACLE_LORA_DIR=str(root)),
                       capture_output=True, text=True, timeout=600)
    print(r.stdout[-6000:])
    assert r.returncode == 0, f"POPO_ORACLE_SEED={SEED}: popo's side failed:\n{r.stdout[-6000:]}{r.stderr[-2000:]}"
    assert "[  PASSED  ] 1 test" in r.stdout, "the C++ oracle test did not run"
    return made


def test_peft_loads_popos_adapters_and_transformers_its_merged_model(cases):
    for d, _ in cases:
        ref = load_file(str(d / "lora_reference.safetensors"))
        ids, mask, real = ref["input_ids"], ref["attention_mask"], ref["attention_mask"].bool()
        base = transformers.AutoModelForCausalLM.from_pretrained(d / "base", dtype=torch.float32).eval()
        pm = peft.PeftModel.from_pretrained(base, d / "popo_adapter").eval()
        diff = (logits_of(pm, ids, mask)[real] - ref["logits"][real]).abs().max().item()
        assert diff <= TOL, f"POPO_ORACLE_SEED={SEED} {d.name}: PEFT on popo's adapters differs by {diff}"
        merged = transformers.AutoModelForCausalLM.from_pretrained(d / "popo_merged", dtype=torch.float32).eval()
        diff = (logits_of(merged, ids, mask)[real] - ref["merged_logits"][real]).abs().max().item()
        assert diff <= TOL, f"POPO_ORACLE_SEED={SEED} {d.name}: popo's merged model differs by {diff}"


def test_popos_fresh_adapters_have_pefts_keys_and_leave_the_base_exact(cases):
    for d, lcfg in cases:
        ref = load_file(str(d / "lora_reference.safetensors"))
        ids, mask, real = ref["input_ids"], ref["attention_mask"], ref["attention_mask"].bool()
        fresh = d / "popo_fresh"
        # The keys PEFT itself saves for this config, against the keys popo wrote.
        base = transformers.AutoModelForCausalLM.from_pretrained(d / "base", dtype=torch.float32).eval()
        own = peft.get_peft_model(base, peft.LoraConfig(r=lcfg.r, lora_alpha=lcfg.lora_alpha,
                                                        target_modules=sorted(lcfg.target_modules)))
        want = set(peft.get_peft_model_state_dict(own).keys())
        got = set(load_file(str(fresh / "adapter_model.safetensors")).keys())
        assert got == want, f"{d.name}: popo's names differ from PEFT's: {sorted(got ^ want)[:6]}"
        base = transformers.AutoModelForCausalLM.from_pretrained(d / "base", dtype=torch.float32).eval()
        pm = peft.PeftModel.from_pretrained(base, fresh).eval()
        diff = (logits_of(pm, ids, mask)[real] - ref["base_logits"][real]).abs().max().item()
        assert diff == 0.0, f"{d.name}: popo's fresh adapters change the logits by {diff} (B must be 0)"
        # PEFT reads the configuration popo wrote as popo meant it.
        loaded = pm.peft_config["default"]
        assert loaded.r == lcfg.r and loaded.lora_alpha == lcfg.lora_alpha
        assert set(loaded.target_modules) == set(lcfg.target_modules)
