"""Benchmark evaluation (`python -m redstar_training.generation.evaluate --config eval.yaml`): generate
with a checkpoint through the distillation backends (`serve:` starts a server per checkpoint), verify with
the shared verifier, score. Samples are cached by content as they finish, so a killed run resumes with
the missing ones and a re-run generates nothing. Each benchmark is sampled as its registry entry says,
plus one greedy sample; every output is kept with its verdict in `outputs.parquet` under `output_dir`."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redstar_training.generation.metrics import avg_at_n, problem_metrics
from redstar_training.generation.types import Sampling
from redstar_training.pipes import log, progress
from redstar_training.verify import VERIFIER_VERSION

BACKENDS = ("transformers", "vllm", "openai")


@dataclass
class EvalRunConfig:
    # [{stage, path, tiny_spec?, version?}]; `version` (the checkpoint's data version) keys the cache,
    # else the folder's content hash
    models: list[dict[str, Any]] = field(default_factory=list)
    # [{name, file, mode, n, temperature, top_p, max_tokens}]; the parquet holds the registry's columns
    # (problem_id, problem, answer, answer_format, tolerance, verifier, tests, entry_point, level)
    benchmarks: list[dict[str, Any]] = field(default_factory=list)
    output_dir: str = ""
    cache_file: str = ""  # default: output_dir/samples.sqlite
    code_verdict_cache: str = ""  # (program, tests, sandbox) -> verdict, shared with verified_traces; "" = none
    # {kind: transformers, batch_size}, {kind: vllm, tensor_parallel_size, ...} or
    # {kind: openai, base_url | serve: {preset: vllm|transformers, args, timeout_s}, concurrency, ...}
    backend: dict[str, Any] = field(default_factory=lambda: {"kind": "transformers"})
    prompt_template: str = "plain"
    max_new_tokens: int = 160  # for benchmarks that name no max_tokens
    seed: int = 1234
    threads: int = 1


@dataclass(frozen=True)
class Pass:
    """One generation pass over a benchmark: greedy, or sample i of n at the benchmark's sampling."""

    run: str
    seed: int | None
    index: int
    sampling: Sampling


def passes(bench: dict[str, Any], cfg: EvalRunConfig) -> list[Pass]:
    max_tokens = int(bench.get("max_tokens") or cfg.max_new_tokens)
    greedy = Pass("greedy", None, 0, Sampling(temperature=0.0, top_p=1.0, max_tokens=max_tokens, seed=None))
    sampled = Sampling(
        temperature=float(bench.get("temperature", 0.6)),
        top_p=float(bench.get("top_p", 0.95)),
        max_tokens=max_tokens,
        seed=cfg.seed,
    )
    return [greedy] + [Pass(f"seed{cfg.seed + i}", cfg.seed + i, i, sampled) for i in range(int(bench.get("n", 0)))]


def model_version(spec: dict[str, Any]) -> str:
    """What identifies the weights in the cache key: the version the asset passes, else the folder hash."""
    from redstar_training.trainers.checkpoints import folder_hash

    return str(spec.get("version") or folder_hash(Path(spec["path"])) or spec["path"])


def make_eval_backend(cfg: EvalRunConfig, model_path: str, base_url: str | None = None):
    from redstar_training.generation.distill import make_backend

    spec = {k: v for k, v in cfg.backend.items() if k != "serve"}
    kind = spec.get("kind", "transformers")
    if kind not in BACKENDS:
        raise ValueError(f"evaluation backend {kind!r} is not one of {BACKENDS}")
    spec.setdefault("model", model_path)
    if kind == "transformers":
        spec.setdefault("threads", cfg.threads)
    if kind == "openai" and base_url:
        spec["base_url"] = base_url
    return make_backend(spec, [])


def _generate(cfg, spec, requests_by_sampling, cache, pipes, counts, images=None) -> dict | None:
    """Generates the samples the cache lacks, committing each as it finishes; `images` (problem id
    -> figure) go to a backend that reads figures. Returns what the backend ran on, asked while a
    started server is still up; None when the cache had every sample and no backend was made."""
    import contextlib

    from redstar_training.generation.environment import backend_runtime
    from redstar_training.generation.serve import ServeSpec, served

    missing = {s: [r for r in reqs if r.key not in counts["found"]] for s, reqs in requests_by_sampling.items()}
    todo = sum(len(v) for v in missing.values())
    counts["requested"] += todo
    if not todo:
        return None
    serve = cfg.backend.get("serve")
    with contextlib.ExitStack() as stack:
        base_url = None
        if serve:
            log_file = Path(cfg.output_dir) / f"serve-{spec['stage']}.log"
            log(pipes, f"starting a server for {spec['path']} (log: {log_file})")
            base_url = stack.enter_context(served(spec["path"], ServeSpec(**serve), log_file))
        backend = make_eval_backend(cfg, spec["path"], base_url)
        if images and hasattr(backend, "images"):
            backend.images = images
        if spec.get("trust_remote_code") and hasattr(backend, "trust_remote_code"):
            backend.trust_remote_code = True
        done = [0]

        def on_done(c) -> None:
            if cache.put(c):
                counts["generated"] += 1
            counts["found"][c.key] = c
            done[0] += 1
            if done[0] % 50 == 0 or done[0] == todo:
                progress(pipes, done[0], todo, "samples", f"{spec['stage']} generation")

        for sampling, reqs in missing.items():
            if reqs:
                backend.generate(reqs, sampling, on_done)
        return backend_runtime(backend)


def evaluate(cfg: EvalRunConfig, pipes: Any = None) -> tuple[list[dict], list[dict], dict]:
    """Every model on every benchmark: (output rows with their verdicts, score rows, sample counts)."""
    import polars as pl

    from redstar_training.generation.cache import SampleCache
    from redstar_training.verify.cache import CodeVerdictCache

    cache = SampleCache(cfg.cache_file or Path(cfg.output_dir) / "samples.sqlite")
    code_verdicts = CodeVerdictCache(cfg.code_verdict_cache) if cfg.code_verdict_cache else None
    items = {b["name"]: pl.read_parquet(b["file"]).to_dicts() for b in cfg.benchmarks}
    outputs: list[dict] = []
    scores: list[dict] = []
    totals = {"samples": 0, "requested": 0, "generated": 0, "from_cache": 0}
    try:
        for spec in cfg.models:
            outputs_, scores_, counts = _evaluate_model(cfg, spec, items, cache, code_verdicts, pipes)
            outputs.extend(outputs_)
            scores.extend(scores_)
            for k in totals:
                totals[k] += counts[k]
    finally:
        cache.close()
        if code_verdicts is not None:
            code_verdicts.close()
    return outputs, scores, totals


def _plan(cfg: EvalRunConfig, version: str, items: dict[str, list[dict]]) -> tuple[dict, dict]:
    """The samples one model owes: per benchmark its passes with their requests, and the requests
    grouped by sampling settings (one backend call each)."""
    from redstar_training.generation.prompts import template
    from redstar_training.generation.types import SampleRequest, problem_key, sample_key

    prompt = template(cfg.prompt_template)
    planned: dict[str, list[tuple[Pass, list]]] = {}
    by_sampling: dict[Sampling, list] = defaultdict(list)
    for bench in cfg.benchmarks:
        planned[bench["name"]] = []
        for p in passes(bench, cfg):
            reqs = [
                SampleRequest(
                    sample_key(version, "", prompt.id, problem_key(it), p.sampling, p.index),
                    it["problem_id"],
                    p.index,
                    prompt.messages(it["problem"]),
                    prompt.chatml(it["problem"]),
                )
                for it in items[bench["name"]]
            ]
            planned[bench["name"]].append((p, reqs))
            by_sampling[p.sampling].extend(reqs)
    return planned, by_sampling


def _evaluate_model(cfg, spec, items, cache, code_verdicts, pipes) -> tuple[list[dict], list[dict], dict]:
    """One model: its samples from the cache or generated, judged, and scored per benchmark, each score
    with its environment stamp."""
    from redstar_training.generation.environment import samples_origin, stamp_json
    from redstar_training.models.base_model import ensure_base_model

    ensure_base_model(spec["path"], spec.get("tiny_spec"))
    version, started = model_version(spec), time.time()
    planned, by_sampling = _plan(cfg, version, items)
    keys = [r.key for reqs in by_sampling.values() for r in reqs]
    counts: dict[str, Any] = {"found": cache.get_many(keys), "requested": 0, "generated": 0}
    from_cache = len(counts["found"])
    cached = set(counts["found"])
    images = {it["problem_id"]: it["image"] for its in items.values() for it in its if it.get("image") is not None}
    runtime = _generate(cfg, spec, by_sampling, cache, pipes, counts, images)
    outputs, scores = [], []
    for bench in cfg.benchmarks:
        bench_items = items[bench["name"]]
        rows = _judge_benchmark(spec, bench, bench_items, planned[bench["name"]], counts["found"], code_verdicts)
        outputs.extend(rows)
        s = _score(spec, bench, bench_items, rows, cfg)
        origin = samples_origin([r.key for _, reqs in planned[bench["name"]] for r in reqs], cached)
        s["environment"] = stamp_json(cfg.backend, runtime, origin, cfg.prompt_template, VERIFIER_VERSION, s)
        scores.append(s)
        log(
            pipes,
            f"{spec['stage']} {bench['name']}: pass@1 {s['pass_at_1']:.3f}, avg@{s['n']} "
            f"{s['avg_at_n'] or 0:.3f} on {s['num_problems']} items",
        )
    log(
        pipes,
        f"{spec['stage']}: {counts['requested']} samples generated, {from_cache} from the cache "
        f"({time.time() - started:.1f}s)",
    )
    totals = {"samples": len(set(keys)), "requested": counts["requested"], "generated": counts["generated"]}
    return outputs, scores, {**totals, "from_cache": from_cache}


def _judge_benchmark(spec, bench, bench_items, planned, found, code_verdicts=None) -> list[dict]:
    from redstar_training.verify import default_verifier
    from redstar_training.verify.items import judge_outputs

    rows, flat_items, texts, finishes = [], [], [], []
    for p, reqs in planned:
        for it, r in zip(bench_items, reqs, strict=True):
            c = found.get(r.key)
            text, finish = (c.text, c.finish_reason) if c is not None else ("", "error")
            rows.append(
                {
                    "stage": spec["stage"],
                    "benchmark": bench["name"],
                    "problem_id": it["problem_id"],
                    "run": p.run,
                    "seed": p.seed,
                    "output": text,
                    "finish_reason": finish,
                }
            )
            flat_items.append(it)
            texts.append(text)
            finishes.append(finish)
    verdicts = judge_outputs(
        flat_items, texts, finishes, bench.get("mode", "strict"), default_verifier(), code_cache=code_verdicts
    )
    for row, (status, extracted, reason) in zip(rows, verdicts, strict=True):
        if row["finish_reason"] == "error":  # no sample (the backend failed it): counted wrong, not cached
            status, extracted, reason = "error", None, "no sample was generated"
        row.update(extracted=extracted, status=status, reason=reason)
    return rows


def _score(spec, bench, bench_items, rows, cfg) -> dict[str, Any]:
    runs: dict[str, list[bool]] = defaultdict(list)
    per_problem: dict[str, list] = defaultdict(list)
    by_level: dict[str, list[bool]] = defaultdict(list)
    level_of = {it["problem_id"]: it.get("level") for it in bench_items}
    for o in rows:
        ok = o["status"] == "correct"
        runs[o["run"]].append(ok)
        if o["run"] == "greedy":
            by_level[str(level_of.get(o["problem_id"]))].append(ok)
        else:
            per_problem[o["problem_id"]].append((o["extracted"], ok))
    sampled = [sum(v) / max(1, len(v)) for k, v in runs.items() if k != "greedy"]
    n = len(sampled)
    ks = range(1, n + 1)
    extra = problem_metrics(per_problem, ks=ks) if n else {}
    mean, stderr = avg_at_n(sampled)
    _, stderr_items = avg_at_n([sum(ok for _, ok in s) / len(s) for s in per_problem.values()])
    greedy = runs.get("greedy", [])
    return {
        "stage": spec["stage"],
        "benchmark": bench["name"],
        "model_path": spec["path"],
        "num_problems": len(bench_items),
        "items_left_out": int(bench.get("left_out", 0)),
        "pass_at_1": sum(greedy) / max(1, len(greedy)),
        "avg_at_n": mean,
        "n": n,
        "stderr": stderr,
        "maj_at_n": extra.get(f"maj@{n}"),
        "pass_at_n": extra.get(f"pass@{n}"),
        "pass_at_k": json.dumps({str(k): extra.get(f"pass@{k}") for k in ks}),
        "maj_at_k": json.dumps({str(k): extra.get(f"maj@{k}") for k in ks}),
        "stderr_items": stderr_items,
        "greedy_by_level": json.dumps({k: round(sum(v) / len(v), 4) for k, v in sorted(by_level.items())}),
        "seeds": json.dumps([cfg.seed + i for i in range(n)]),
        "temperature": float(bench.get("temperature", 0.6)) if n else None,
        "top_p": float(bench.get("top_p", 0.95)) if n else None,
        "max_new_tokens": int(bench.get("max_tokens") or cfg.max_new_tokens),
        "verifier_version": VERIFIER_VERSION,
    }


def run(cfg: EvalRunConfig, pipes: Any = None) -> dict[str, Any]:
    """Evaluates, keeps every output in `outputs.parquet`, and returns the score rows."""
    import polars as pl

    outputs, scores, totals = evaluate(cfg, pipes)
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(outputs, infer_schema_length=None).write_parquet(out / "outputs.parquet")
    return {"scores": scores, "outputs_file": str(out / "outputs.parquet"), "outputs": len(outputs), **totals}


def main(argv: list[str] | None = None) -> None:
    from redstar_training.entry import report_message, run_entry_point

    def describe(cfg: EvalRunConfig) -> str:
        stages = ", ".join(m["stage"] for m in cfg.models)
        return f"evaluate {stages} on {', '.join(b['name'] for b in cfg.benchmarks)}"

    def print_or_report(pipes, cfg, result):
        if pipes is None:
            print(json.dumps(result, indent=2, default=str))
        report_message(pipes, cfg, result)

    run_entry_point(__doc__, EvalRunConfig, run, describe, argv, report=print_or_report)


if __name__ == "__main__":
    main()
