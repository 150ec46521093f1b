"""RL arms from one SFT checkpoint, end to end at test scale (demo-rl-tiny through `redstar run`'s
own code on a fresh instance): the SFT stage trains once, every arm's RL starts from that very
checkpoint (by hash), one arm per method runs through Pipes, and the scores and lineage follow each
arm back to the shared start; GRPO's control (shuffled rewards) runs beside it and the report
compares GRPO with it."""

import json

import polars as pl
import pytest
from support.fresh_run import run_profile

from redstar_assets.lineage.records import latest_materialization, meta
from redstar_training.trainers.checkpoints import folder_hash

ARMS = {"rl-dpo": "dpo", "rl-grpo": "grpo", "rl-grpo-control": "grpo", "rl-rloo": "rloo", "rl-rpp": "reinforce_pp"}


@pytest.mark.slow
def test_every_rl_arm_starts_from_the_one_sft_checkpoint(tmp_path, monkeypatch):
    instance, data = run_profile("demo-rl-tiny", tmp_path, monkeypatch)
    sft_dir = data / "sft_checkpoints" / "sft-start" / "model"
    start = folder_hash(sft_dir)
    assert start and sorted(p.name for p in (data / "sft_checkpoints").iterdir()) == ["sft-start"]  # trained once
    trained = {
        arm: set(
            pl.read_parquet(data / "rl_checkpoints" / arm / f"{'pairs' if m == 'dpo' else 'rl_problems'}.parquet")[
                "problem_id"
            ]
        )
        for arm, m in ARMS.items()
    }
    # the online arms train on one problem set, DPO's pairs first: at max_problems = max_pairs the
    # sets are equal whenever the pool has that many problems with a correct and a wrong trace
    online = [ids for arm, ids in trained.items() if arm != "rl-dpo"]
    assert all(ids == online[0] for ids in online) and len(online[0]) == 8
    assert trained["rl-dpo"] and trained["rl-dpo"] <= online[0]
    for arm, method in ARMS.items():
        lineage = json.loads((data / "rl_checkpoints" / arm / "model" / "redstar_lineage.json").read_text())
        assert lineage["sft_checkpoint_hash"] == start and lineage["sft_model"] == str(sft_dir)
        assert lineage["rl_method"] == method and lineage["experiment"] == arm
        assert lineage["sft_experiment"] == "sft-start"
        record = latest_materialization(instance, "rl_checkpoints", arm)
        assert meta(record, "trained_on", {})["sft_checkpoints"] == {"sft-start": start}
        assert meta(record, "completions") > 0
        curve = sorted(p.name for p in (data / "rl_checkpoints" / arm / "curve").iterdir())
        assert curve == ["step-1", "step-2"]  # curve_every: 1 over 2 optimizer steps
        stages = set(pl.read_parquet(data / "benchmark_scores" / arm / "data.parquet")["stage"])
        assert stages == {"rl", "rl@1", "rl@2"}  # the curve is scored by the benchmark evaluator
        scores = latest_materialization(instance, "benchmark_scores", arm)
        assert meta(scores, "trained_on", {})["rl_checkpoints"] == {
            arm: folder_hash(data / "rl_checkpoints" / arm / "model")
        }
    report = latest_materialization(instance, "ablation_report", None)
    compared = meta(report, "comparisons")
    for arm in ARMS:
        assert f"| RL vs its start | {arm} (rl) | sft-start (sft) |" in compared
    assert "| RL vs its control | rl-grpo (rl) | rl-grpo-control (rl) |" in compared
    control = latest_materialization(instance, "rl_checkpoints", "rl-grpo-control")
    assert meta(control, "rl_control") == "shuffled_rewards" and meta(control, "control") == "shuffled_rewards"
    assert meta(report, "rl_curves").startswith("![")
