"""Experiment tracking: SFT, GRPO and DPO runs with `report_to=mlflow`, tracked to a real local
`mlflow server` started here, are found by the MLflow client with their metrics, tags and loss
curves, and each run id is in its checkpoint's model card."""

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import yaml

from redstar_training.generation.serve import ServeSpec, served
from redstar_training.trainers.checkpoints import folder_hash

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
try:
    import mlflow
except ImportError:  # CI installs the tracking extra (make test), so there this fails instead
    if os.environ.get("REDSTAR_REQUIRE_SERVICES") == "1":
        raise
    pytest.skip("the tracking extra: pip install -e '.[tracking]' (make test does)", allow_module_level=True)


@pytest.mark.slow
def test_sft_grpo_and_dpo_runs_are_tracked_in_mlflow_and_named_in_their_model_cards(tmp_path):
    from test_training_entry_points import _grpo_config, _sft_config

    config = _sft_config(tmp_path, epochs=1)
    cfg = yaml.safe_load(config.read_text())
    cfg["lineage"] = {"experiment": "tiny-sft", "stage": "sft", "subset": "cot-random-20", "subset_hash": "abc123"}
    config.write_text(yaml.safe_dump(cfg))
    store = tmp_path / "mlflow"
    spec = ServeSpec(
        command=[str(BIN / "mlflow"), "server", "--host", "127.0.0.1", "--port", "{port}", "--workers", "1",
                 "--backend-store-uri", f"sqlite:///{store}/runs.db", "--default-artifact-root", str(store / "art")],
        health_path="/health", timeout_s=120,
    )  # fmt: skip
    store.mkdir()
    with served("", spec, tmp_path / "mlflow.log") as url:
        tracking = url.removesuffix("/v1")
        env = {**os.environ, "MLFLOW_TRACKING_URI": tracking, "MLFLOW_EXPERIMENT_NAME": "redstar-test"}
        done = subprocess.run(
            [sys.executable, "-m", "redstar_training.trainers.sft", "--config", str(config), "report_to=mlflow"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        grpo = _grpo_config(tmp_path / "grpo")
        cfg = yaml.safe_load(grpo.read_text())
        cfg["lineage"] = {"experiment": "tiny-sft", "stage": "rl", "subset_hash": "abc123"}
        grpo.write_text(yaml.safe_dump(cfg))
        done = subprocess.run(
            [sys.executable, "-m", "redstar_training.trainers.grpo", "--config", str(grpo), "report_to=mlflow"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        pairs = tmp_path / "pairs.parquet"  # DPO on the SFT checkpoint just tracked
        pl.DataFrame(
            [{"prompt": f"Compute {a} + 3.", "chosen": f"<think>\n{a}+3={a + 3}\n</think>\n\\boxed{{{a + 3}}}",
              "rejected": f"<think>\n{a}+3={a + 4}\n</think>\n\\boxed{{{a + 4}}}"} for a in range(8)]
        ).write_parquet(pairs)  # fmt: skip
        dpo = tmp_path / "dpo.yaml"
        lineage = {"experiment": "tiny-sft", "stage": "dpo", "subset_hash": "abc123"}
        dpo_config = {
            "model": str(tmp_path / "out" / "model"),
            "pairs_file": str(pairs),
            "per_device_train_batch_size": 4,
            "bf16": False,
        }
        dpo.write_text(yaml.safe_dump({**dpo_config, "output_dir": str(tmp_path / "dpo"), "lineage": lineage}))
        done = subprocess.run(
            [sys.executable, "-m", "redstar_training.trainers.dpo", "--config", str(dpo), "report_to=mlflow"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        client = mlflow.MlflowClient(tracking_uri=tracking)
        experiment = client.get_experiment_by_name("redstar-test")
        runs = {r.data.tags["stage"]: r for r in client.search_runs([experiment.experiment_id])}
        run = runs["sft"]
        history = client.get_metric_history(run.info.run_id, "loss")
        rl_history = client.get_metric_history(runs["rl"].info.run_id, "loss")
    model_dir = tmp_path / "out" / "model"
    metrics = json.loads((model_dir / "redstar_metrics.json").read_text())
    assert run.data.tags["experiment"] == "tiny-sft" and run.data.tags["subset_hash"] == "abc123"
    assert run.data.tags["checkpoint_hash"] == folder_hash(model_dir)
    assert run.data.metrics["final_train_loss"] == pytest.approx(metrics["train_loss"])
    assert len(history) >= 2 and run.data.params["learning_rate"] == "0.003"
    card = "\n".join(p.read_text() for p in model_dir.glob("*.md")) + (model_dir / "redstar_lineage.json").read_text()
    assert run.info.run_id in card
    for stage, out in (("rl", tmp_path / "grpo" / "out" / "model"), ("dpo", tmp_path / "dpo" / "model")):
        tracked = runs[stage]
        assert tracked.data.tags["experiment"] == "tiny-sft"
        assert tracked.data.tags["checkpoint_hash"] == folder_hash(out)
        assert "final_train_loss" in tracked.data.metrics
        card = "\n".join(p.read_text() for p in out.glob("*.md")) + (out / "redstar_lineage.json").read_text()
        assert tracked.info.run_id in card and run.info.run_id not in card
    assert rl_history  # GRPO logs every step; the 2-step DPO run logs its loss at the end only
