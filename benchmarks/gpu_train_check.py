"""GPU training check (run on a lent H100/H200; finishes in a few minutes):

1. SFT throughput of a randomly initialized Qwen2.5-0.5B-architecture model (config only, no
   download), bf16, sdpa attention, packed sequences of `--seq` tokens: tokens/s and MFU.
   MFU = achieved FLOP/s / peak, with FLOPs per token = 6 * N (dense matmuls, forward + backward,
   N = non-embedding parameters + the LM head) + 12 * layers * hidden * seq (attention scores and
   values, forward + backward), as in the PaLM paper's appendix B. Peak: 989 TFLOP/s dense bf16
   (H100 SXM) unless `--peak-tflops` says otherwise.
2. One GRPO step (TRL GRPOTrainer, transformers generation) of a small random Qwen2 with the
   shared verifier as reward, to show the RL path runs on the GPU.

Writes $OUT/gpu_train_check.json (or benchmarks/results/ without $OUT).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path


def qwen25_05b_config():
    from transformers import Qwen2Config

    return Qwen2Config(
        vocab_size=151936,
        hidden_size=896,
        intermediate_size=4864,
        num_hidden_layers=24,
        num_attention_heads=14,
        num_key_value_heads=2,
        max_position_embeddings=32768,
        rope_theta=1_000_000.0,
        tie_word_embeddings=True,
        attn_implementation="sdpa",
        torch_dtype="bfloat16",
    )


def sft_throughput(seq: int, batch: int, steps: int, peak_tflops: float) -> dict:
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    cfg = qwen25_05b_config()
    model = AutoModelForCausalLM.from_config(cfg, torch_dtype=torch.bfloat16).cuda().train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=True)
    n_params = sum(p.numel() for p in model.parameters())
    # Tied embeddings are counted once: the lookup is free but the LM head matmul costs vocab * hidden
    # per token, so N = all parameters here.
    flops_per_token = 6 * n_params + 12 * cfg.num_hidden_layers * cfg.hidden_size * seq
    # Packed batch: several documents per row, positions restart at each document boundary.
    ids = torch.randint(0, cfg.vocab_size, (batch, seq), device="cuda")
    doc = seq // 4
    positions = torch.arange(seq, device="cuda").remainder(doc).expand(batch, seq)
    for _ in range(3):  # warm-up
        model(input_ids=ids, position_ids=positions, labels=ids).loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(steps):
        loss = model(input_ids=ids, position_ids=positions, labels=ids).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    tokens_per_s = batch * seq * steps / seconds
    return {
        "params": n_params,
        "seq": seq,
        "batch": batch,
        "steps": steps,
        "seconds": round(seconds, 2),
        "tokens_per_s": round(tokens_per_s),
        "flops_per_token": flops_per_token,
        "mfu": round(tokens_per_s * flops_per_token / (peak_tflops * 1e12), 4),
        "peak_tflops": peak_tflops,
        "max_memory_gb": round(torch.cuda.max_memory_allocated() / 2**30, 1),
        "device": torch.cuda.get_device_name(),
    }


def grpo_step(tmp: Path) -> dict:
    import polars as pl

    from redstar_training.models.base_model import ensure_base_model
    from redstar_training.trainers.grpo import GRPORunConfig, train

    model = ensure_base_model(str(tmp / "tiny"), {"hidden_size": 128, "num_hidden_layers": 2})
    pl.DataFrame(
        {"problem": [f"Compute {a} + {a}." for a in range(8)], "answer": [str(2 * a) for a in range(8)]}
    ).write_parquet(tmp / "p.parquet")
    cfg = GRPORunConfig(
        model=model,
        problems_file=str(tmp / "p.parquet"),
        output_dir=str(tmp / "grpo"),
        max_steps=1,
        num_generations=4,
        per_device_train_batch_size=8,
        max_completion_length=32,
        bf16=True,
    )
    started = time.perf_counter()
    metrics = train(cfg)
    return {"steps": metrics["steps"], "seconds": round(time.perf_counter() - started, 1), "groups": metrics["groups"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seq", type=int, default=4096)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--peak-tflops", type=float, default=989.0)
    ns = parser.parse_args()
    out = Path(os.environ.get("OUT") or Path(__file__).resolve().parent / "results")
    out.mkdir(parents=True, exist_ok=True)
    result = {"sft": sft_throughput(ns.seq, ns.batch, ns.steps, ns.peak_tflops)}
    print(json.dumps(result), flush=True)
    try:
        result["grpo"] = grpo_step(out)
    except Exception as exc:  # noqa: BLE001 - the SFT figure is still worth reporting
        result["grpo"] = {"error": f"{type(exc).__name__}: {exc}"[:1000]}
    (out / "gpu_train_check.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
