"""Judging traces with the shared verifier and flagging quality problems."""

from __future__ import annotations

import polars as pl

from redstar_training.verify import VERIFIER_VERSION, MathTask, MathVerifier, default_verifier


def verify_traces(traces: pl.DataFrame, verifier: MathVerifier | None = None) -> pl.DataFrame:
    """Adds extracted answer, status, reason and quality flags to every trace (one batch through the
    shared verifier's worker pool)."""
    not_generated = ("error", "skipped")
    teacher_ok = [t for t in traces.iter_rows(named=True) if t["finish_reason"] not in not_generated]
    tasks = [MathTask(t["answer"], t["text"], finish_reason=t["finish_reason"]) for t in teacher_ok]
    judged = dict(zip((t["trace_id"] for t in teacher_ok), (verifier or default_verifier()).verify(tasks), strict=True))
    rows = []
    for t in traces.iter_rows(named=True):
        if t["finish_reason"] in not_generated:
            status, reason, extracted = "error", f"teacher {t['finish_reason']}: {t['error']}", None
        else:
            v = judged[t["trace_id"]]
            status, reason, extracted = v.status, v.reason, v.extracted
        rows.append(
            {
                "trace_id": t["trace_id"],
                "extracted": extracted,
                "status": status,
                "reason": reason,
                "truncated": t["finish_reason"] == "length",
                "has_think": "<think>" in t["text"] and "</think>" in t["text"],
            }
        )
    verdicts = pl.DataFrame(
        rows,
        schema={
            "trace_id": pl.String,
            "extracted": pl.String,
            "status": pl.String,
            "reason": pl.String,
            "truncated": pl.Boolean,
            "has_think": pl.Boolean,
        },
    )
    return traces.join(verdicts, on="trace_id", how="left").with_columns(
        pl.lit(VERIFIER_VERSION).alias("verifier_version")
    )
