"""The skeleton SFT, DPO and GRPO share, so each trainer module holds only what its method needs:
reuse a finished checkpoint of the same config, the Trainer arguments no method changes, a progress
callback that keeps the log history, and train, time, save with its card and track."""

from __future__ import annotations

import resource
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redstar_training.files.run_config import config_hash
from redstar_training.pipes import log, progress
from redstar_training.trainers.checkpoints import reuse_finished, save_checkpoint
from redstar_training.trainers.tracking import log_result, mlflow_run


@dataclass
class TrainerRunConfig:
    """The run-config fields every trainer has; SFT, DPO and online RL add their method's own."""

    output_dir: str = ""
    bf16: bool = False
    seed: int = 0
    threads: int = 1
    report_to: str = "none"  # transformers' report_to: none, mlflow, wandb, tensorboard
    smoke_prompt: str = "Compute 12 + 34."  # the 'loads and generates' check's prompt
    lineage: dict[str, Any] = field(default_factory=dict)  # written into the model card by the asset


def reuse_if_finished(cfg: Any, pipes: Any, trust_remote_code: bool = False) -> dict[str, Any] | None:
    """The finished checkpoint of this exact config and data, re-checked; None means train."""
    model_dir = Path(cfg.output_dir) / "model"
    reused = reuse_finished(model_dir, config_hash(cfg), cfg.smoke_prompt, trust_remote_code)
    if reused is not None:
        log(pipes, f"{model_dir} was trained with this exact config and data: reusing it")
    return reused


def shared_args(cfg: Any, trainer_dir: Path) -> dict[str, Any]:
    """Trainer arguments every method sets the same way: CPU unless a GPU is there, no progress bars
    (the progress lines are ours), no dataloader workers (the data is small and in memory)."""
    import torch

    torch.set_num_threads(cfg.threads)
    return {
        "output_dir": str(trainer_dir),
        "bf16": cfg.bf16,
        "use_cpu": not torch.cuda.is_available(),
        "report_to": cfg.report_to,
        "seed": cfg.seed,
        "disable_tqdm": True,
        "dataloader_num_workers": 0,
    }


def epoch_args(cfg: Any) -> dict[str, Any]:
    """The Trainer arguments of a recipe trained for epochs over a fixed dataset (SFT, DPO), in the
    recipes' names: epochs, learning_rate, lr_scheduler, batch_size, max_length."""
    return {
        "num_train_epochs": cfg.epochs,
        "per_device_train_batch_size": cfg.batch_size,
        "learning_rate": cfg.learning_rate,
        "lr_scheduler_type": cfg.lr_scheduler,
        "max_length": cfg.max_length,
    }


CURVE_DIR = "curve"  # beside the final model: curve/step-N, the policy after N optimizer steps


def curve_args(curve_every: int) -> dict[str, Any]:
    """Trainer arguments that keep the policy every `curve_every` optimizer steps (weights and
    tokenizer only), for scoring along the way; none when 0."""
    if curve_every <= 0:
        return {"save_strategy": "no"}
    return {"save_strategy": "steps", "save_steps": curve_every, "save_only_model": True, "save_total_limit": None}


def keep_curve(trainer_dir: Path, out: Path) -> list[int]:
    """Moves the Trainer's step checkpoints to out/curve/step-N (replacing an older run's); the steps."""
    curve = out / CURVE_DIR
    shutil.rmtree(curve, ignore_errors=True)
    steps = []
    for checkpoint in sorted(trainer_dir.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1])):
        step = int(checkpoint.name.split("-")[1])
        curve.mkdir(parents=True, exist_ok=True)
        checkpoint.rename(curve / f"step-{step}")
        steps.append(step)
    return steps


def history_callback(pipes: Any, detail: Callable[[dict[str, Any]], str]) -> tuple[Any, list[dict[str, float]]]:
    """A TrainerCallback that keeps every logged step's numbers and draws a progress line with
    `detail(logs)`, and the list it fills."""
    from transformers import TrainerCallback

    history: list[dict[str, float]] = []

    class Progress(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                numbers = {k: float(v) for k, v in logs.items() if isinstance(v, int | float)}
                history.append({"step": state.global_step, **numbers})
                progress(pipes, state.global_step, state.max_steps, "steps", detail(logs))

    return Progress(), history


def train_and_save(
    trainer: Any,
    tokenizer: Any,
    cfg: Any,
    pipes: Any,
    history: list[dict[str, float]],
    method_metrics: Callable[[Any, float], dict[str, Any]],
    lineage: dict[str, Any],
    resume: bool = False,
    trust_remote_code: bool = False,
    before_save: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Trains inside the MLflow run (when tracking is on), then saves the checkpoint with its card:
    the metrics every method reports plus `method_metrics(result, seconds)`, the lineage plus the
    config hash. `before_save` runs between the two (SFT merges its LoRA adapters there)."""
    with mlflow_run(cfg.report_to, cfg.lineage, pipes) as tracked:
        start = time.time()
        result = trainer.train(resume_from_checkpoint=True if resume else None)
        seconds = time.time() - start
        if before_save is not None:
            before_save()
        metrics = {
            "train_loss": float(result.training_loss),
            "first_loss": history[0]["loss"] if history else None,
            "last_loss": history[-1]["loss"] if history else None,
            "steps": int(result.global_step),
            "train_seconds": round(seconds, 1),
            **method_metrics(result, seconds),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "loss_curve": [(int(h["step"]), h["loss"]) for h in history],
        }
        card = {**cfg.lineage, **lineage, "run_config_hash": config_hash(cfg), **(tracked or {})}
        out = Path(cfg.output_dir)
        if getattr(cfg, "curve_every", 0) and trainer.is_world_process_zero():
            metrics["curve_steps"] = keep_curve(Path(trainer.args.output_dir), out)
        saved = save_checkpoint(trainer, tokenizer, out, card, metrics, cfg.smoke_prompt, trust_remote_code)
        log_result(tracked, saved)
    return saved
