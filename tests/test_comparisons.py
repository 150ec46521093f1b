"""The report's comparisons read from stored outputs: sides pooled over their training seeds, a planted
difference found, sides scored on different items refused with both named, and the environment stamps
compared (a dtype difference flagged, a commit difference not)."""

import json

import polars as pl
import pytest

from redstar_assets.config.profile import load_profile
from redstar_assets.evaluation.comparisons import comparison_table
from redstar_assets.storage import Store

STAMP = {
    "backend": "transformers",
    "dtype": "float32",
    "device": "cpu",
    "device_count": 1,
    "libraries": {"torch": "2.13.0+cpu", "transformers": "5.0.0", "trl": "1.16.0"},
    "verifier_version": "verify-v4",
    "prompt_template_hash": "abc",
    "seeds": [1234, 1235],
    "temperature": 0.7,
    "top_p": 0.95,
    "max_new_tokens": 48,
    "samples": "generated",
    "code_commit": "c0",
}
ITEMS = [f"p{i}" for i in range(40)]


def _write(store: Store, experiment: str, stage: str, rate: float, *, items=ITEMS, stamp=None, rl=None) -> None:
    """One experiment's outputs on arith-heldout: a greedy pass and two samples, the first `rate` of
    the items correct in each (`rl`'s for an rl stage beside), and its score row with a stamp."""
    rows = []
    for stage_, rate_ in ((stage, rate), ("rl", rl)):
        for run in ("greedy", "seed1234", "seed1235") if rate_ is not None else ():
            for i, item in enumerate(items):
                rows.append(
                    {
                        "stage": stage_,
                        "benchmark": "arith-heldout",
                        "problem_id": item,
                        "run": run,
                        "status": "correct" if i < rate_ * len(items) else "wrong",
                    }
                )
    folder = store.folder("benchmark_scores", experiment) / "eval"
    folder.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(rows).write_parquet(folder / "outputs.parquet")
    score = {"stage": stage, "benchmark": "arith-heldout", "environment": json.dumps(stamp or STAMP)}
    store.write(pl.DataFrame([score]), "benchmark_scores", experiment)


@pytest.fixture
def profile():
    """demo-tiny scored on arith-heldout only."""
    loaded = load_profile("demo-tiny")
    loaded.benchmarks = [b for b in loaded.benchmarks if b.name == "arith-heldout"]
    return loaded


def _row(table: pl.DataFrame, kind: str) -> dict:
    return table.filter(pl.col("comparison") == kind).row(0, named=True)


def test_a_planted_difference_is_found_and_seeds_are_pooled(tmp_path, profile):
    store = Store(tmp_path)
    _write(store, "untrained", "base", 0.0)
    _write(store, "cot-random-20", "sft", 0.2, rl=0.2)
    _write(store, "cot-random-40", "sft", 0.9, rl=0.9)
    _write(store, "cot-hard-20@s0", "sft", 0.2)
    _write(store, "cot-hard-20@s1", "sft", 0.3, stamp={**STAMP, "code_commit": "c1"})
    table = comparison_table(store, profile)
    scale = _row(table, "scale step")
    assert (scale["a"], scale["b"], scale["verdict"], scale["items"]) == (
        "cot-random-40 (sft)",
        "cot-random-20 (sft)",
        "better",
        40,
    )
    assert scale["difference"] == pytest.approx(0.7) and scale["ci_low"] > 0
    hard = _row(table, "hard-first vs random")
    assert (hard["seeds_a"], hard["seeds_b"]) == (2, 1)
    assert hard["difference"] == pytest.approx(0.05)  # (0.2 + 0.3) / 2 - 0.2
    assert hard["differs_in"] == ""  # a different commit alone is no difference
    assert hard["metric"] == "avg@n (sampled)"
    assert _row(table, "RL vs its start")["verdict"] == "no difference"


def test_a_dtype_difference_is_flagged_and_different_items_are_refused(tmp_path, profile):
    store = Store(tmp_path)
    _write(store, "untrained", "base", 0.0)
    _write(store, "cot-random-20", "sft", 0.5)
    _write(store, "cot-random-40", "sft", 0.5, items=ITEMS[:-1] + ["elsewhere"])
    _write(store, "cot-hard-20@s0", "sft", 0.5)
    _write(store, "cot-hard-20@s1", "sft", 0.5, stamp={**STAMP, "dtype": "bfloat16"})
    table = comparison_table(store, profile)
    assert _row(table, "hard-first vs random")["differs_in"] == "dtype"
    refused = _row(table, "scale step")
    assert refused["verdict"] == "refused" and refused["p_value"] is None
    assert "cot-random-40 (sft)" in refused["note"] and "cot-random-20 (sft)" in refused["note"]
