"""Benchmark evaluation: generate with a checkpoint, verify with the shared verifier, score.

    python -m redstar_training.evaluate --config eval.yaml

For each model (stage) and benchmark it runs one greedy pass (pass@1) and `samples` sampled passes
with recorded seeds (avg@n, with the standard error across the n runs), keeps every output with
its verdict in `outputs.parquet` under `output_dir`, and sends the score rows back through Dagster
Pipes (printed as JSON when run by hand).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redstar_training.metrics import avg_at_n, problem_metrics
from redstar_training.pipes import log, progress
from redstar_training.tiny_model import ensure_base_model
from redstar_training.verify import VERIFIER_VERSION, default_verifier
from redstar_training.verify.items import judge_outputs


@dataclass
class EvalRunConfig:
    models: list[dict[str, Any]] = field(default_factory=list)  # [{stage, path, tiny_spec?}]
    # [{name, file, mode?}]; parquet: problem_id, problem, answer, and where the benchmark registers them
    # answer_format, tolerance, verifier (math, choice, code), tests, entry_point
    benchmarks: list[dict[str, str]] = field(default_factory=list)
    output_dir: str = ""
    max_new_tokens: int = 160
    samples: int = 4
    temperature: float = 0.7
    top_p: float = 0.95
    seed: int = 1234
    batch_size: int = 128
    threads: int = 1


def generate(model, tokenizer, prompts: list[str], cfg: EvalRunConfig, seed: int | None) -> list[tuple[str, str]]:
    """Batched left-padded generation; returns (text, finish_reason) per prompt."""
    import torch

    tokenizer.padding_side = "left"
    results: list[tuple[str, str]] = []
    if seed is not None:
        torch.manual_seed(seed)
    for start in range(0, len(prompts), cfg.batch_size):
        chunk = [
            tokenizer.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True, tokenize=False)
            for p in prompts[start : start + cfg.batch_size]
        ]
        enc = tokenizer(chunk, return_tensors="pt", padding=True, add_special_tokens=False)
        sampling = (
            {"do_sample": True, "temperature": cfg.temperature, "top_p": cfg.top_p}
            if seed is not None
            else {"do_sample": False}
        )
        with torch.no_grad():
            out = model.generate(
                **enc,
                max_new_tokens=cfg.max_new_tokens,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
                **sampling,
            )
        for row in out[:, enc["input_ids"].shape[1] :].tolist():
            stopped = tokenizer.eos_token_id in row
            if stopped:
                row = row[: row.index(tokenizer.eos_token_id)]
            results.append((tokenizer.decode(row, skip_special_tokens=True), "stop" if stopped else "length"))
    return results


def evaluate(cfg: EvalRunConfig, pipes: Any = None) -> tuple[list[dict], list[dict]]:
    import polars as pl
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(cfg.threads)
    outputs, scores = [], []
    passes, total_passes = 0, len(cfg.models) * len(cfg.benchmarks) * (1 + cfg.samples)
    for spec in cfg.models:
        ensure_base_model(spec["path"], spec.get("tiny_spec"))
        tokenizer = AutoTokenizer.from_pretrained(spec["path"])
        model = AutoModelForCausalLM.from_pretrained(spec["path"]).eval()
        for bench in cfg.benchmarks:
            problems = pl.read_parquet(bench["file"]).to_dicts()
            prompts = [p["problem"] for p in problems]
            runs: dict[str, float] = {}
            seeds = [None] + [cfg.seed + i for i in range(cfg.samples)]
            started = time.time()
            for seed in seeds:
                run_name = "greedy" if seed is None else f"seed{seed}"
                correct = 0
                generated = generate(model, tokenizer, prompts, cfg, seed)
                texts, finishes = [g[0] for g in generated], [g[1] for g in generated]
                verdicts = judge_outputs(problems, texts, finishes, bench.get("mode", "strict"), default_verifier())
                for prob, (text, finish), (status, extracted, _reason) in zip(
                    problems, generated, verdicts, strict=True
                ):
                    correct += status == "correct"
                    outputs.append(
                        {
                            "stage": spec["stage"],
                            "benchmark": bench["name"],
                            "problem_id": prob["problem_id"],
                            "run": run_name,
                            "seed": seed,
                            "output": text,
                            "finish_reason": finish,
                            "extracted": extracted,
                            "status": status,
                        }
                    )
                runs[run_name] = correct / max(1, len(problems))
                passes += 1
                progress(pipes, passes, total_passes, "passes", f"{spec['stage']} {bench['name']} {run_name}")
            sampled = [v for k, v in runs.items() if k != "greedy"]
            per_problem: dict[str, list] = {}
            for o in outputs:
                if o["stage"] == spec["stage"] and o["benchmark"] == bench["name"] and o["run"] != "greedy":
                    per_problem.setdefault(o["problem_id"], []).append((o["extracted"], o["status"] == "correct"))
            n = len(sampled)
            extra = problem_metrics(per_problem, ks=(n,)) if n else {}
            level_of = {p["problem_id"]: p.get("level") for p in problems}
            by_level: dict[str, list[bool]] = {}
            for o in outputs:
                if o["stage"] == spec["stage"] and o["benchmark"] == bench["name"] and o["run"] == "greedy":
                    by_level.setdefault(str(level_of.get(o["problem_id"])), []).append(o["status"] == "correct")
            scores.append(
                {
                    "stage": spec["stage"],
                    "benchmark": bench["name"],
                    "model_path": spec["path"],
                    "num_problems": len(problems),
                    "pass_at_1_greedy": runs["greedy"],
                    "avg_at_n": sum(sampled) / len(sampled) if sampled else None,
                    "n": len(sampled),
                    "stderr": avg_at_n(sampled)[1],
                    "maj_at_n": extra.get(f"maj@{n}"),
                    "pass_at_n": extra.get(f"pass@{n}"),
                    "greedy_by_level": json.dumps({k: round(sum(v) / len(v), 4) for k, v in sorted(by_level.items())}),
                    "seeds": json.dumps(seeds[1:]),
                    "temperature": cfg.temperature,
                    "top_p": cfg.top_p,
                    "max_new_tokens": cfg.max_new_tokens,
                    "verifier_version": VERIFIER_VERSION,
                }
            )
            log(
                pipes,
                f"{spec['stage']} {bench['name']}: pass@1 {runs['greedy']:.3f}, avg@{len(sampled)} "
                f"{scores[-1]['avg_at_n'] or 0:.3f} ({time.time() - started:.1f}s)",
            )
    return outputs, scores


def run(cfg: EvalRunConfig, pipes: Any = None) -> dict[str, Any]:
    """Evaluates, keeps every output in `outputs.parquet`, and returns the score rows."""
    import polars as pl

    outputs, scores = evaluate(cfg, pipes)
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(outputs, infer_schema_length=None).write_parquet(out / "outputs.parquet")
    return {"scores": scores, "outputs_file": str(out / "outputs.parquet"), "outputs": len(outputs)}


def main(argv: list[str] | None = None) -> None:
    from redstar_training.entry import report_message, run_entry_point

    def describe(cfg: EvalRunConfig) -> str:
        stages = ", ".join(m["stage"] for m in cfg.models)
        return f"evaluate {stages} on {', '.join(b['name'] for b in cfg.benchmarks)}"

    def print_or_report(pipes, cfg, result):
        if pipes is None:
            print(json.dumps(result["scores"], indent=2, default=str))
        report_message(pipes, cfg, result)

    run_entry_point(__doc__, EvalRunConfig, run, describe, argv, report=print_or_report)


if __name__ == "__main__":
    main()
