"""Scoring stored model outputs (ours or another harness's) against a registered benchmark with the
shared verifier: `redstar eval score`. Predictions join the benchmark by an id field or by the
problem text, whitespace-normalized; several predictions for one item are its samples, in order."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import polars as pl

from redstar_assets.problems.normalize import normalize_text
from redstar_training.files.jsonl import read_rows


def read_predictions(path: Path, output_field: str, key_field: str) -> tuple[list[dict], list[str]]:
    """(rows with line, key, output) and error messages for lines that cannot be read."""
    records, errors = read_rows(path)
    rows = []
    for number, rec in records:
        missing = [k for k in (output_field, key_field) if k not in rec]
        if missing:
            errors.append(f"{path}:{number}: missing field(s) {missing}")
            continue
        output = rec[output_field]
        if isinstance(output, list):  # harness dumps keep a list of samples: take the first
            output = output[0] if output else ""
        rows.append({"line": number, "key": rec[key_field], "output": str(output)})
    return rows, errors


def join_to_benchmark(bench: pl.DataFrame, rows: list[dict], by: str) -> tuple[list[tuple[dict, dict]], list[dict]]:
    """Pairs (prediction, benchmark item) and the predictions that match no item."""
    if by == "id":
        index = {str(r["item_id"]): r for r in bench.iter_rows(named=True)}
        look = lambda key: index.get(str(key))  # noqa: E731
    else:
        index = {normalize_text(r["problem"]): r for r in bench.iter_rows(named=True)}
        look = lambda key: index.get(normalize_text(str(key)))  # noqa: E731
    matched, unmatched = [], []
    for row in rows:
        item = look(row["key"])
        (matched.append((row, item)) if item is not None else unmatched.append(row))
    return matched, unmatched


def score(
    bench: pl.DataFrame, rows: list[dict], by: str, mode: str, workers: int | None = None
) -> tuple[dict, list[dict]]:
    """The metric summary and one verdict row per matched prediction."""
    from redstar_training.generation.metrics import problem_metrics
    from redstar_training.verify import MathVerifier
    from redstar_training.verify.items import judge_outputs

    matched, unmatched = join_to_benchmark(bench, rows, by)
    items = [item for _row, item in matched]
    outputs = [row["output"] for row, _item in matched]
    with MathVerifier(workers=workers) as verifier:
        verdicts = judge_outputs(items, outputs, ["stop"] * len(items), mode, verifier)
    out: list[dict] = []
    samples: dict[str, list] = {}
    groups: dict[str, dict] = {"level": {}, "subject": {}}
    for (row, item), (status, extracted, reason) in zip(matched, verdicts, strict=True):
        for axis, group in groups.items():
            if item.get(axis) is not None:
                group.setdefault(str(item[axis]), []).append(status == "correct")
        out.append(
            {
                "line": row["line"],
                "key": row["key"],
                "item_id": item["item_id"],
                "status": status,
                "correct": status == "correct",
                "extracted": extracted,
                "reason": reason,
            }
        )
        samples.setdefault(item["item_id"], []).append((extracted, status == "correct"))
    n = min((len(s) for s in samples.values()), default=0)
    metrics = problem_metrics(samples, ks=sorted({1, n} - {0})) if samples else {}
    summary = {
        "benchmark": bench["benchmark"][0] if bench.height else None,
        "mode": mode,
        "predictions": len(rows),
        "matched": len(matched),
        "unmatched": len(unmatched),
        "unmatched_keys": [r["key"] for r in unmatched][:50],
        "benchmark_items": bench.height,
        "items_scored": len(samples),
        "accuracy": round(sum(o["correct"] for o in out) / len(out), 4) if out else None,
        "statuses": dict(Counter(o["status"] for o in out)),
        **{
            f"by_{axis}": {k: round(sum(v) / len(v), 4) for k, v in sorted(g.items())}
            for axis, g in groups.items()
            if g
        },
        **{k: (round(v, 4) if isinstance(v, float) else v) for k, v in metrics.items()},
    }
    return summary, out
