"""Distillation: N teacher samples per problem through any backend, never paying twice for a sample
(`python -m redstar_training.generation.distill --config distill.yaml [key=value ...]`). Every sample has a
content address (model and revision, prompt version, problem hash, sampling, index) and is committed to
the sample cache as it finishes, so a re-run makes no calls and a killed run resumes with the missing ones.
Samples are drawn in rounds by index; with `stop_after_correct: K` a problem stops at K correct samples."""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from redstar_training.generation.cache import BatchedPuts, SampleCache
from redstar_training.generation.prompts import template
from redstar_training.generation.types import Completion, SampleRequest, Sampling, problem_key, sample_key


@dataclass
class DistillConfig:
    problems_file: str = ""  # parquet: problem_id, problem, answer (other columns are carried along)
    output_file: str = ""  # parquet of traces
    cache_file: str = ""
    stats_file: str = ""
    backend: dict = field(default_factory=lambda: {"kind": "procedural"})
    prompt_template: str = "math-long-cot"
    code_prompt_template: str = "code-long-cot"  # for problems whose domain is code
    sampling: dict = field(default_factory=dict)
    samples_per_problem: int = 4
    stop_after_correct: int | None = None
    round_size: int | None = None
    max_problem_chars: int = 20_000
    progress_every_s: float = 10.0
    threads: int = 1  # torch threads for a local model backend (set by the launcher)


def make_backend(spec: dict[str, Any], problems: list[dict]):
    """The backend named by `spec["kind"]`, with the rest of `spec` as its settings."""
    from redstar_training.generation import local_backends
    from redstar_training.generation.openai_backend import OpenAIBackend

    kinds = {
        "procedural": local_backends.ProceduralBackend,
        "synthetic": local_backends.SyntheticBackend,
        "openai": OpenAIBackend,
        "transformers": local_backends.TransformersBackend,
        "vllm": local_backends.VLLMBackend,
    }
    settings = {k: v for k, v in spec.items() if k != "kind"}
    kind = spec.get("kind", "procedural")
    if kind not in kinds:
        raise ValueError(f"unknown teacher backend {kind!r}; known: {sorted(kinds)}")
    try:
        backend = kinds[kind](**settings)
    except TypeError as exc:
        raise ValueError(f"teacher backend {kind!r}: {exc}") from None
    if kind == "procedural":
        backend.problems = {p["problem_id"]: p["problem"] for p in problems}
        backend.tests = {p["problem_id"]: p["tests"] for p in problems if p.get("tests")}
    if kind == "synthetic":
        backend.answers = {p["problem_id"]: p["answer"] for p in problems}
    if hasattr(backend, "images"):  # a backend that reads figures gets each image problem's
        backend.images = {p["problem_id"]: p["image"] for p in problems if p.get("image") is not None}
    return backend


def prompt_version(cfg: DistillConfig, domain: str = "math") -> str:
    if cfg.backend.get("kind", "procedural") == "procedural":
        from redstar_training.synthetic.procedural import PROMPT_VERSION

        return PROMPT_VERSION
    return template(cfg.code_prompt_template if domain == "code" else cfg.prompt_template).id


def skip_reason(problem: str | None, max_chars: int) -> str | None:
    if not problem or not problem.strip():
        return "empty problem"
    if len(problem) > max_chars:
        return f"problem has {len(problem)} characters, over max_problem_chars={max_chars}"
    return None


class Progress:
    """A log line every `every_s` seconds on long runs."""

    def __init__(self, total: int, every_s: float, log):
        self.total, self.every_s, self.log = total, every_s, log
        self.done = 0
        self.started = self.last = time.monotonic()

    def tick(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if now - self.last >= self.every_s:
            self.last = now
            rate = self.done / max(1e-9, now - self.started)
            self.log(f"progress {self.done}/{self.total} samples {rate:.1f}/s")


def distill(problems: list[dict], cfg: DistillConfig, backend, cache: SampleCache, log=print, verifier=None):
    """Returns (completions in problem/index order, skipped problems with reasons, stats)."""
    sampling = Sampling(**cfg.sampling)
    versions = {d: prompt_version(cfg, d) for d in ("math", "code")}
    prompts = {"math": template(cfg.prompt_template), "code": template(cfg.code_prompt_template)}
    n, k = cfg.samples_per_problem, cfg.stop_after_correct
    size = cfg.round_size or (k if k else n)
    skipped, active = {}, {}
    for p in problems:
        why = skip_reason(p.get("problem"), cfg.max_problem_chars)
        if why:
            skipped[p["problem_id"]] = why
        else:
            active[p["problem_id"]] = p
    by_id = {p["problem_id"]: p for p in problems}
    correct: Counter = Counter()
    results: dict[str, Completion] = {}
    fresh: set[str] = set()
    counters: Counter = Counter()
    stats: Counter[str] = Counter()
    progress = Progress(len(active) * n, cfg.progress_every_s, log)
    puts = BatchedPuts(cache)
    generation_s = 0.0
    try:
        for start in range(0, n, size):
            if not active:
                break
            stats["rounds"] += 1
            requests = []
            for pid, p in active.items():
                domain = "code" if p.get("domain") == "code" else "math"
                prompt, version = prompts[domain], versions[domain]
                for i in range(start, min(start + size, n)):
                    key = sample_key(backend.model_id, backend.revision, version, problem_key(p), sampling, i)
                    requests.append(
                        SampleRequest(key, pid, i, prompt.messages(p["problem"]), prompt.chatml(p["problem"]))
                    )
            hits = cache.get_many(r.key for r in requests)
            stats["cache_hits"] += len(hits)
            results.update(hits)
            progress.tick(len(hits))
            missing = [r for r in requests if r.key not in hits]
            stats["samples_requested"] += len(missing)

            def on_done(c: Completion) -> None:
                puts.add(c)
                fresh.add(c.key)
                results[c.key] = c
                progress.tick()

            began = time.monotonic()
            if missing:
                counters.update(backend.generate(missing, sampling, on_done))
                puts.flush()
            generation_s += time.monotonic() - began
            round_done = [results[r.key] for r in requests if r.key in results]
            if k:
                judged = _verify(round_done, by_id, verifier)
                for c, ok in zip(round_done, judged, strict=True):
                    correct[c.problem_id] += ok
                active = {pid: p for pid, p in active.items() if correct[pid] < k}
    finally:
        puts.close()  # every finished sample committed, also when generation failed midway
    ordered = sorted(results.values(), key=lambda c: (c.problem_id, c.sample_index))
    summary: dict[str, Any] = {**stats, **_summary(ordered, counters, generation_s, skipped), "problems": len(problems)}
    new_tokens = sum(c.completion_tokens for c in ordered if c.key in fresh)
    summary["completion_tokens_new"] = new_tokens
    summary["tokens_per_s"] = round(new_tokens / generation_s, 1) if generation_s > 0 else 0.0
    if k:
        summary["problems_reaching_k_correct"] = sum(1 for pid in by_id if correct[pid] >= k)
    return ordered, skipped, summary


def _verify(completions: list[Completion], problems: dict, verifier) -> list[bool]:
    from redstar_training.verify import MathTask, default_verifier
    from redstar_training.verify.extract import answer_format_of

    answers = [str(problems[c.problem_id].get("answer", "")) for c in completions]
    tasks = [MathTask(a, c.text, answer_format=answer_format_of(a), finish_reason=c.finish_reason)
             for a, c in zip(answers, completions, strict=True)]  # fmt: skip
    return [v.correct for v in (verifier or default_verifier()).verify(tasks)]


def _summary(completions: list[Completion], counters: Counter, generation_s: float, skipped: dict) -> dict:
    errors = {k.removeprefix("retry_"): v for k, v in counters.items() if k.startswith("retry_")}
    failed = {k.removeprefix("failed_"): v for k, v in counters.items() if k.startswith("failed_") and v}
    tokens_out = sum(c.completion_tokens for c in completions)
    return {
        "requests_made": counters.get("requests", 0),
        "retries_by_kind": errors,
        "failed_by_kind": failed,
        "prompt_tokens": sum(c.prompt_tokens for c in completions),
        "completion_tokens": tokens_out,
        "generation_seconds": round(generation_s, 3),
        "finish_reasons": dict(Counter(c.finish_reason for c in completions)),
        "skipped": dict(Counter(skipped.values())),
        **_per_endpoint(counters),
    }


ENDPOINT_COUNTS = ("completions", "completion_tokens", "busy_ms", "errors", "taken_out")


def _per_endpoint(counters: Counter) -> dict[str, dict[str, int]]:
    """A fleet's counts by endpoint URL, as flat dicts (`endpoint_completions: {url: n}`, ...) that
    chunk stats merge by adding up."""
    out: dict[str, dict[str, int]] = {}
    for name in ENDPOINT_COUNTS:
        prefix = f"endpoint_{name}:"
        found = {k.removeprefix(prefix): v for k, v in counters.items() if k.startswith(prefix)}
        if found:
            out[f"endpoint_{name}"] = found
    return out


def endpoint_table(stats: dict) -> dict[str, dict[str, float]]:
    """Per endpoint: completions, tokens, errors, times taken out, seconds spent in requests (summed
    over concurrent ones), and tokens/s over the run's generation time."""
    urls = sorted({u for name in ENDPOINT_COUNTS for u in stats.get(f"endpoint_{name}", {})})
    wall = max(float(stats.get("generation_seconds", 0.0)), 1e-9)
    table = {}
    for url in urls:
        row = {name: stats.get(f"endpoint_{name}", {}).get(url, 0) for name in ENDPOINT_COUNTS}
        row["request_seconds"] = round(row.pop("busy_ms") / 1000, 1)
        row["tokens_per_s"] = round(row["completion_tokens"] / wall, 1)
        table[url] = row
    return table


def merge_stats(total: dict, part: dict) -> dict:
    """Run stats of two chunks as of one run: counts add up, per-kind counts merge, rates recomputed."""
    out = dict(total)
    for key, value in part.items():
        if isinstance(value, bool) or not isinstance(value, int | float | dict):
            out[key] = value
        elif isinstance(value, dict):
            merged = dict(out.get(key) or {})
            for k, v in value.items():
                merged[k] = merged.get(k, 0) + v
            out[key] = merged
        else:
            out[key] = out.get(key, 0) + value
    seconds = out.get("generation_seconds") or 0
    if "tokens_per_s" in out:
        out["tokens_per_s"] = round(out.get("completion_tokens_new", 0) / seconds, 1) if seconds > 0 else 0.0
    return out


OUTPUT_SCHEMA = {
    "key": "String",
    "problem_id": "String",
    "sample_index": "Int64",
    "text": "String",
    "finish_reason": "String",
    "prompt_tokens": "Int64",
    "completion_tokens": "Int64",
    "latency_s": "Float64",
    "attempts": "Int64",
    "error_kind": "String",
    "error": "String",
    "extra": "String",
}
CHUNK_PROBLEMS = 2_500  # problems distilled and written at a time: the output is never held whole


def run(cfg: DistillConfig, pipes: Any = None) -> dict[str, Any]:
    """Distills `problems_file` into `output_file` a chunk of problems at a time (one model load:
    the backend keeps its engine); returns the run stats (also sent back through Pipes)."""
    import polars as pl
    import pyarrow.parquet as pq

    from redstar_training.pipes import log

    schema = {k: getattr(pl, v) for k, v in OUTPUT_SCHEMA.items()}
    problems = pl.read_parquet(cfg.problems_file)
    cache = SampleCache(cfg.cache_file)
    out = Path(cfg.output_file) if cfg.output_file else None
    tmp = out.with_suffix(".parquet.tmp") if out else None
    writer: pq.ParquetWriter | None = None
    stats: dict[str, Any] = {}
    try:
        known = [c for c in ("problem_id", "problem", "answer") if c in problems.columns]
        backend = make_backend(cfg.backend, problems.select(known).to_dicts())
        for start in range(0, max(1, problems.height), CHUNK_PROBLEMS):
            chunk = problems.slice(start, CHUNK_PROBLEMS).to_dicts()
            completions, skipped, part = distill(chunk, cfg, backend, cache, log=lambda m: log(pipes, m))
            stats = merge_stats(stats, part)
            if out is None:
                continue
            rows = [asdict(c) | {"extra": json.dumps(c.extra)} for c in completions]
            rows += [
                {"problem_id": pid, "finish_reason": "skipped", "error": why, "sample_index": 0}
                for pid, why in skipped.items()
            ]
            table = pl.DataFrame(rows, schema=schema).to_arrow()
            if writer is None:
                out.parent.mkdir(parents=True, exist_ok=True)
                writer = pq.ParquetWriter(tmp, table.schema, compression="zstd")
            writer.write_table(table, row_group_size=max(1, table.num_rows))  # a row group per chunk
    finally:
        cache.close()
        if writer is not None:
            writer.close()
    if out is not None and tmp is not None:  # both or neither
        tmp.replace(out)
    if cfg.stats_file:
        Path(cfg.stats_file).write_text(json.dumps(stats, indent=2))
    return stats


def main(argv: list[str] | None = None) -> None:
    from redstar_training.entry import report_message, run_entry_point

    def describe(cfg: DistillConfig) -> str:
        return f"distill {cfg.problems_file} with {cfg.backend.get('kind')} {cfg.backend.get('model', '')}".strip()

    run_entry_point(__doc__, DistillConfig, run, describe, argv, report=report_message)


if __name__ == "__main__":
    main()
