"""Experiment tracking where ML teams look: an MLflow run around a training run when `report_to` names
`mlflow`, tagged with the Dagster run, experiment, stage, base model and subset, so transformers'
callback logs into it and the checkpoint's card names the run; `wandb` and `tensorboard` go through
`report_to` as transformers handles them."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

TAGGED = ("experiment", "stage", "base_model", "subset", "subset_hash", "training_recipe", "rl_recipe")


def wants_mlflow(report_to: str | list[str]) -> bool:
    names = report_to.split(",") if isinstance(report_to, str) else list(report_to)
    return "mlflow" in [n.strip() for n in names]


@contextlib.contextmanager
def mlflow_run(report_to: str | list[str], lineage: dict[str, Any], pipes: Any) -> Iterator[dict[str, str] | None]:
    """An active MLflow run for the trainer to log into, or None when tracking is off. Yields what
    the model card records: the run id and the tracking URI."""
    if not wants_mlflow(report_to):
        yield None
        return
    import mlflow

    if not os.environ.get("MLFLOW_TRACKING_URI"):
        raise RuntimeError("report_to names mlflow but MLFLOW_TRACKING_URI is not set (the MLflow server's URL)")
    mlflow.set_experiment(os.environ.get("MLFLOW_EXPERIMENT_NAME", "redstar"))
    tags = {k: str(lineage[k]) for k in TAGGED if lineage.get(k) is not None}
    if pipes is not None:
        tags["dagster_run_id"] = pipes.run_id
    name = "-".join(str(lineage[k]) for k in ("experiment", "stage") if lineage.get(k)) or None
    with mlflow.start_run(run_name=name, tags=tags) as run:
        yield {"mlflow_run_id": run.info.run_id, "mlflow_tracking_uri": mlflow.get_tracking_uri()}


def log_result(tracked: dict[str, str] | None, metrics: dict[str, Any]) -> None:
    """The finished run's numeric metrics and checkpoint hash, into the active MLflow run."""
    if tracked is None:
        return
    import mlflow

    numbers = {k: float(v) for k, v in metrics.items() if isinstance(v, int | float) and not isinstance(v, bool)}
    mlflow.log_metrics({f"final_{k}": v for k, v in numbers.items()})
    if metrics.get("checkpoint_hash"):
        mlflow.set_tag("checkpoint_hash", metrics["checkpoint_hash"])
