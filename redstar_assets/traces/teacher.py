"""Sampling teacher traces: N seeded samples per problem, with everything needed to reproduce them."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import polars as pl

TRACE_COLUMNS = [
    "trace_id",
    "problem_id",
    "source",
    "problem",
    "answer",
    "level",
    "sample_index",
    "teacher",
    "prompt_version",
    "sampling",
    "text",
    "finish_reason",
    "completion_tokens",
    "error",
]


def trace_id(problem_id: str, teacher: str, prompt_version: str, sampling: str, index: int) -> str:
    """Content address of one sample: the same inputs always name the same trace."""
    return hashlib.sha256(f"{problem_id}|{teacher}|{prompt_version}|{sampling}|{index}".encode()).hexdigest()[:16]


def procedural_traces(problems: pl.DataFrame, spec: dict[str, Any]) -> pl.DataFrame:
    """Runs the procedural teacher; a problem it cannot read becomes an `error` row, not a crash."""
    from redstar_training.teachers.procedural import PROMPT_VERSION, TEACHER_ID, ProceduralTeacherConfig, solve

    cfg = ProceduralTeacherConfig(
        **{k: spec[k] for k in ("slip_per_column", "slip_per_carry", "catch_rate", "seed") if k in spec}
    )
    n = int(spec.get("samples_per_problem", 4))
    sampling = json.dumps({"n": n, **cfg.__dict__}, sort_keys=True)
    rows = []
    for p in problems.iter_rows(named=True):
        for i in range(n):
            base = {
                "trace_id": trace_id(p["problem_id"], TEACHER_ID, PROMPT_VERSION, sampling, i),
                "problem_id": p["problem_id"],
                "source": p["source"],
                "problem": p["problem"],
                "answer": p["answer"],
                "level": p["level"],
                "sample_index": i,
                "teacher": TEACHER_ID,
                "prompt_version": PROMPT_VERSION,
                "sampling": sampling,
            }
            try:
                sample = solve(p["problem"], i, p["problem_id"], cfg)
                rows.append(
                    {
                        **base,
                        "text": sample.text,
                        "finish_reason": sample.finish_reason,
                        "completion_tokens": sample.completion_tokens,
                        "error": None,
                    }
                )
            except ValueError as exc:
                rows.append({**base, "text": "", "finish_reason": "error", "completion_tokens": 0, "error": str(exc)})
    schema = {c: pl.String for c in TRACE_COLUMNS} | {
        "level": pl.Int64,
        "sample_index": pl.Int64,
        "completion_tokens": pl.Int64,
    }
    return pl.DataFrame(rows, schema=schema).select(TRACE_COLUMNS)


def generate_traces(problems: pl.DataFrame, spec: dict[str, Any]) -> pl.DataFrame:
    backend = spec.get("backend", "procedural")
    if backend == "procedural":
        return procedural_traces(problems, spec)
    raise ValueError(f"teacher backend {backend!r} is not available in this version; known: procedural")
