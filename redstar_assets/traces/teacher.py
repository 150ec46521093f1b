"""Sampling teacher traces through the shared distillation code: N samples per problem from the profile's
teacher backend, each with everything needed to reproduce it, never paid for twice. The procedural and
openai backends run in this process (no model weights here); `transformers` and `vllm` load a model, so
they run `python -m redstar_training.generation.distill` in a process of their own, through `launch`."""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import polars as pl

from redstar_assets.config.teacher import TeacherRun
from redstar_training.generation.distill import DistillConfig, merge_stats

TRACE_COLUMNS = [
    "trace_id",
    "problem_id",
    "source",
    "domain",
    "problem",
    "answer",
    "tests",
    "level",
    "sample_index",
    "teacher",
    "prompt_version",
    "sampling",
    "text",
    "finish_reason",
    "prompt_tokens",
    "completion_tokens",
    "latency_s",
    "error_kind",
    "error",
]
TRACE_DTYPES = pl.Schema(
    {c: pl.String for c in TRACE_COLUMNS}
    | {
        "level": pl.Int64,
        "sample_index": pl.Int64,
        "prompt_tokens": pl.Int64,
        "completion_tokens": pl.Int64,
        "latency_s": pl.Float64,
    }
)


def distill_config(spec: TeacherRun) -> DistillConfig:
    """The profile's `teacher:` block as a DistillConfig."""
    return DistillConfig(backend=spec.backend_settings(), **spec.run_settings())


CHUNK_PROBLEMS = 2_500  # problems distilled and written at a time by an in-process teacher (~10k traces)


def distilled_trace_chunks(
    problems: pl.DataFrame,
    spec: TeacherRun,
    cache_file: str | Path | None = None,
    log=print,
    launch: Callable[[dict, Path], dict] | None = None,
    workdir: Path | None = None,
    chunk_problems: int = CHUNK_PROBLEMS,
) -> Iterator[tuple[pl.DataFrame, dict]]:
    """Traces for every problem (skipped problems as `skipped` rows with the reason) with run stats,
    a chunk of problems at a time, so a million traces are never in memory together. An in-process
    teacher works chunk by chunk; a model-loading one runs `redstar_training.generation.distill` once through
    `launch(run_config, workdir)` (its `workdir` keeps its config and output; a temporary folder
    when not given)."""
    cfg = distill_config(spec)
    with tempfile.TemporaryDirectory(prefix="redstar-distill-") as tmp:
        cfg.cache_file = str(cache_file or Path(tmp) / "samples.sqlite")
        if not spec.in_process and launch is None:
            raise ValueError(f"teacher backend {spec.kind!r} loads a model: it runs through the launcher")
        if not spec.in_process:
            yield from _launched(problems, cfg, Path(workdir or tmp), launch)
            return
        for start in range(0, max(1, problems.height), chunk_problems):
            chunk = problems.slice(start, chunk_problems)
            completions, skipped, stats = _in_process(chunk, cfg, log)
            yield _frame(chunk, cfg, completions, skipped), stats


def collect_chunks(chunks: Iterator[tuple[pl.DataFrame, dict]]) -> tuple[pl.DataFrame, dict]:
    """Trace chunks and their stats as one frame and one set of stats."""
    frames: list[pl.DataFrame] = []
    stats: dict[str, Any] = {}
    for frame, chunk_stats in chunks:
        frames.append(frame)
        stats = merge_stats(stats, chunk_stats)
    return pl.concat(frames), stats


def _in_process(problems: pl.DataFrame, cfg, log):

    from redstar_training.generation.cache import SampleCache
    from redstar_training.generation.distill import distill, make_backend

    rows = problems.to_dicts()
    cache = SampleCache(cfg.cache_file)
    try:
        completions, skipped, stats = distill(rows, cfg, make_backend(cfg.backend, rows), cache, log=log)
    finally:
        cache.close()
    stats["teacher"] = make_backend(cfg.backend, []).model_id
    return [vars(c) for c in completions], skipped, stats  # read only: no copies of a chunk's texts


def _launched(problems: pl.DataFrame, cfg, workdir: Path, launch):
    """Runs the launched distillation, then reads its output one row group at a time: the entry
    point writes a row group per chunk of problems, so a problem's samples come together."""
    import pyarrow.parquet as pq

    workdir.mkdir(parents=True, exist_ok=True)
    problems.write_parquet(workdir / "problems.parquet")
    cfg.problems_file, cfg.output_file = str(workdir / "problems.parquet"), str(workdir / "out.parquet")
    stats = launch(asdict(cfg), workdir)
    stats["teacher"] = cfg.backend.get("model", cfg.backend["kind"])
    out = pq.ParquetFile(workdir / "out.parquet")
    if out.num_row_groups == 0:  # no problems: one empty frame, so the table is still written
        yield _frame(problems, cfg, [], {}), stats
    for group in range(out.num_row_groups):
        rows = pl.DataFrame(out.read_row_group(group)).to_dicts()
        skipped = {r["problem_id"]: r["error"] for r in rows if r["finish_reason"] == "skipped"}
        completions = [r for r in rows if r["finish_reason"] != "skipped"]
        yield _frame(problems, cfg, completions, skipped), stats
        stats = {}


def _frame(problems: pl.DataFrame, cfg, completions: list[dict], skipped: dict) -> pl.DataFrame:
    """The trace rows of one chunk, built column-wise (a Python dict per trace costs more than the
    synthetic teacher's whole generation), in the completions' order, skipped problems last."""
    from redstar_training.generation.distill import prompt_version

    sampling = json.dumps(
        {
            "n": cfg.samples_per_problem,
            "stop_after_correct": cfg.stop_after_correct,
            **cfg.sampling,
            **{k: v for k, v in cfg.backend.items() if k != "api_key_env"},
        },
        sort_keys=True,
    )
    teacher = cfg.backend.get("model") or _procedural_id(cfg)
    generated = {
        "trace_id": [c["key"][:16] for c in completions],
        "problem_id": [c["problem_id"] for c in completions],
        "sample_index": [c["sample_index"] for c in completions],
        "text": [c["text"] for c in completions],
        "finish_reason": [c["finish_reason"] for c in completions],
        "prompt_tokens": [c["prompt_tokens"] for c in completions],
        "completion_tokens": [c["completion_tokens"] for c in completions],
        "latency_s": [c["latency_s"] for c in completions],
        "error_kind": [c.get("error_kind") for c in completions],
        "error": [c.get("error") for c in completions],
    }
    ids = list(skipped)
    not_generated = {
        "trace_id": [hashlib.sha256(f"skipped|{pid}".encode()).hexdigest()[:16] for pid in ids],
        "problem_id": ids,
        "sample_index": [0] * len(ids),
        "text": [""] * len(ids),
        "finish_reason": ["skipped"] * len(ids),
        "prompt_tokens": [0] * len(ids),
        "completion_tokens": [0] * len(ids),
        "latency_s": [0.0] * len(ids),
        "error_kind": ["skipped"] * len(ids),
        "error": [skipped[pid] for pid in ids],
    }
    schema = {c: TRACE_DTYPES[c] for c in generated}
    rows = pl.concat([pl.DataFrame(generated, schema=schema), pl.DataFrame(not_generated, schema=schema)])
    info = problems.select(
        "problem_id",
        pl.col("domain").fill_null("math") if "domain" in problems.columns else pl.lit("math").alias("domain"),
        "problem",
        *[
            pl.col(c) if c in problems.columns else pl.lit(None).alias(c)
            for c in ("source", "answer", "tests", "level")
        ],
    ).unique("problem_id", keep="first", maintain_order=True)
    versions = {d: prompt_version(cfg, d) for d in ("math", "code")}
    frame = rows.join(info, on="problem_id", how="left", maintain_order="left").with_columns(
        pl.lit(teacher).alias("teacher"),
        pl.when(pl.col("domain") == "code")
        .then(pl.lit(versions["code"]))
        .otherwise(pl.lit(versions["math"]))
        .alias("prompt_version"),
        pl.lit(sampling).alias("sampling"),
    )
    return frame.select(TRACE_COLUMNS).cast(TRACE_DTYPES)


def _procedural_id(cfg) -> str:
    from redstar_training.synthetic.procedural import TEACHER_ID

    return TEACHER_ID if cfg.backend["kind"] == "procedural" else cfg.backend["kind"]
