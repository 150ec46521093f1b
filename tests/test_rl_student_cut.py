"""The student's pass-rate cut through the assets: the RL step samples the candidates with its SFT
checkpoint through the evaluation entry point (Pipes), keeps the rates beside the checkpoint, and a
cut that leaves fewer problems than the recipe asks for fails before training, naming the counts."""

import polars as pl
import pytest
from support.fresh_run import execute_profile

PROFILE = """extends: demo-rl-tiny
name: student-cut
replace: [rl_recipes, experiments]
rl_recipes:
  dpo-student: {samples: student, candidates: 6, pass_rate_samples: 2, max_pairs: 8, per_device_train_batch_size: 4,
                bf16: false, activation_checkpointing: false}
experiments:
  - {name: sft-start, base_model: tiny-qwen2, subset: cot-random-20, training: sft-tiny, stages: [sft]}
  - {name: dpo-student, sft_from: sft-start, rl: dpo-student, stages: [rl]}
"""


def _errors(error) -> str:
    """A failure's message with the messages of its causes."""
    return error.message + (" " + _errors(error.cause) if error.cause is not None else "")


@pytest.mark.slow
def test_a_cut_short_of_the_recipe_fails_before_training_naming_the_counts(tmp_path, monkeypatch):
    path = tmp_path / "student-cut.yaml"
    path.write_text(PROFILE)
    _, data, failed = execute_profile(str(path), tmp_path, monkeypatch, "rl_checkpoints")
    assert failed is not None
    messages = " ".join(_errors(e.step_failure_data.error) for e in failed.all_events if e.is_step_failure)
    assert "experiment 'dpo-student': the student's pass-rate cut kept" in messages
    assert "of 6 candidate problems" in messages and "asks for 8" in messages
    arm = data / "rl_checkpoints" / "dpo-student"
    rates = pl.read_parquet(arm / "pass_rates.parquet")
    assert rates.height == 6 and set(rates["samples"]) == {2}  # every candidate sampled twice, greedy aside
    outputs = pl.read_parquet(arm / "student_samples" / "outputs.parquet")
    assert outputs.height == 6 * 3 and set(outputs["run"]) >= {"greedy"}
    assert not (arm / "model").exists()  # nothing was trained
