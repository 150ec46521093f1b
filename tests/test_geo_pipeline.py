"""demo-geo-tiny end to end through `redstar run`'s own code on a fresh instance: generated figures
become problems with images, the procedural teacher reads each figure, subsets carry the figures,
the tiny vision-language student is trained with and without them, and every arm is scored on the
held-out figures."""

from __future__ import annotations

import pytest


@pytest.mark.slow
def test_demo_geo_tiny_runs_end_to_end_through_benchmark_scores(tmp_path, monkeypatch):
    import polars as pl
    from support.fresh_run import run_profile

    from redstar_assets.lineage.records import latest_materialization
    from redstar_assets.storage import Store

    instance, data = run_profile("demo-geo-tiny", tmp_path, monkeypatch)

    store = Store(str(data))
    problems = store.read("problems", "geo-figures")
    assert problems.height >= 25 and problems["image"].null_count() == 0  # figure-aware dedupe kept them
    verified = store.read("verified_traces", "geo-figures")
    statuses = verified["status"].value_counts().to_dicts()
    assert {s["status"] for s in statuses} <= {"correct", "wrong"} and verified["status"].eq("correct").mean() > 0.6
    subset = pl.read_parquet(store.path("sft_subsets", "geo-cot-24"))
    assert subset.height == 24 and subset["image"].null_count() == 0
    for experiment in ("untrained", "geo-cot-24", "geo-blind-24", "geo-answer-24"):
        scores = store.read("benchmark_scores", experiment)
        assert scores["benchmark"].to_list() == ["geo-heldout"], scores
    lineage = latest_materialization(instance, "sft_checkpoints", "geo-blind-24").asset_materialization.metadata
    assert lineage["config"].value["blank_images"] is True
    report = latest_materialization(instance, "ablation_report", None).asset_materialization.metadata
    assert "geo-blind-24" in report["table"].value
