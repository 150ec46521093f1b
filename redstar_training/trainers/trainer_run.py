"""The skeleton SFT, DPO and online RL share: a run config parsed straight into a subclass of TRL's
own config, reuse of a finished checkpoint of the same config, a progress callback that keeps the
log history, and train, time, save with its card and track."""

from __future__ import annotations

import argparse
import copy
import dataclasses
import difflib
import hashlib
import json
import re
import resource
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from redstar_training.files.run_config import ConfigError
from redstar_training.pipes import log, progress
from redstar_training.trainers.checkpoints import reuse_finished, save_checkpoint
from redstar_training.trainers.tracking import log_result, mlflow_run

# Recipe keys the pipeline once named itself, and TRL's name for each (a recipe using one fails).
RENAMED = {
    "epochs": "num_train_epochs",
    "batch_size": "per_device_train_batch_size",
    "lr_scheduler": "lr_scheduler_type",
    "gradient_checkpointing": "activation_checkpointing",
    "format_reward_weight": "reward_weights",
}
# TRL fields every trainer sets itself, from the machine and for its progress lines.
PIPELINE_SET = ("output_dir", "disable_tqdm", "use_cpu")
# Fields that change with the process, not the run (the rank), left out of the run's hash.
_VOLATILE = {"local_rank"}


@dataclass
class RunFields:
    """The pipeline's own fields every trainer's run config adds to TRL's."""

    threads: int = 1
    smoke_prompt: str = "Compute 12 + 34."  # the 'loads and generates' check's prompt
    lineage: dict[str, Any] = field(default_factory=dict)  # written into the model card by the asset

    @classmethod
    def from_run_config(cls, path: str | Path | None, overrides: list[str]) -> Any:
        """The run config in `path` with `key=value` overrides, parsed by TRL's parser."""
        return parse_run_config(cls, read_run_config(path), overrides, str(path or "run config"))


def own_fields(cls: type) -> list[str]:
    """The fields `cls` adds to the TRL config it extends (the pipeline's, not TRL's)."""
    trl_base = next(b for b in cls.__mro__[1:] if b.__module__.startswith("trl."))
    trl_names = {f.name for f in dataclasses.fields(trl_base)}
    return [f.name for f in dataclasses.fields(cls) if f.init and f.name not in trl_names]


_EXPONENT = re.compile(r"[+-]?\d+(\.\d*)?[eE][+-]?\d+")  # YAML 1.1 reads 5e-3 as text


def parse_run_config(cls: type, data: dict[str, Any], overrides: list[str], where: str) -> Any:
    """`cls` built by TRL's argument parser from a run config's values and `key=value` overrides (each
    value read as YAML, as in the file); an unknown or renamed key fails naming the file or override."""
    from transformers import HfArgumentParser

    parser = HfArgumentParser(cast("Any", cls), exit_on_error=False)
    known = [f.name for f in dataclasses.fields(cls) if f.init]
    import yaml

    named = [(key, where) for key in data]
    data = dict(data)
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"override {item!r}: expected key=value")
        parsed = yaml.safe_load(value)  # as the run config's YAML would read it: `epochs=3` an int
        data[key] = float(parsed) if isinstance(parsed, str) and _EXPONENT.fullmatch(parsed) else parsed
        named.append((key, f"override {item!r}"))
    for key, origin in named:
        if key in RENAMED:
            raise ConfigError(f"{origin}: key {key!r} is now TRL's {RENAMED[key]!r}")
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{origin}: unknown config key {key!r} for {cls.__name__}{hint}")
    # every argument a boolean has (`--x` and `--no_x`) takes the value, so none is left at TRL's default
    parser.set_defaults(**{**data, "use_cpu": _no_gpu()})
    try:
        (cfg,) = parser.parse_args_into_dataclasses(args=[])
    except (argparse.ArgumentError, ValueError, TypeError) as exc:
        raise ConfigError(f"{where}: {cls.__name__}: {exc}") from None
    return cfg


def _no_gpu() -> bool:
    """TRL's use_cpu, set from the machine: a CPU-only run (several processes too) trains on gloo."""
    import torch

    return not torch.cuda.is_available()


def read_run_config(path: str | Path | None) -> dict[str, Any]:
    """The values of a YAML or JSON run config (none without a file)."""
    import yaml

    if not path:
        return {}
    text = Path(path).read_text()
    data = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a run config is a mapping of keys to values")
    return data


def run_hash(cfg: Any) -> str:
    """Short stable hash of a run config's every value, recorded with the checkpoint it produced."""
    values = {k: v for k, v in cfg.to_dict().items() if k not in _VOLATILE}
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:16]


def changed_fields(cfg: Any) -> dict[str, Any]:
    """The values that differ from the class's defaults, for the line a run starts with."""
    values = cfg.to_dict()
    changed = {}
    for f in dataclasses.fields(cfg):
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        if f.init and f.name in values and values[f.name] != getattr(default, "value", default):
            changed[f.name] = values[f.name]
    return changed


def run_dir(cfg: Any) -> Path:
    """The run's folder (TRL's output_dir): the model, its curve and the Trainer's checkpoints go under it."""
    if not cfg.output_dir:
        raise ConfigError("output_dir: the run needs a folder to write to")
    return Path(cfg.output_dir)


def reuse_if_finished(cfg: Any, pipes: Any, trust_remote_code: bool = False) -> dict[str, Any] | None:
    """The finished checkpoint of this exact config and data, re-checked; None means train."""
    model_dir = run_dir(cfg) / "model"
    reused = reuse_finished(model_dir, run_hash(cfg), cfg.smoke_prompt, trust_remote_code)
    if reused is not None:
        log(pipes, f"{model_dir} was trained with this exact config and data: reusing it")
    return reused


def trainer_args(cfg: Any, trainer_dir: Path, **pipeline_set: Any) -> Any:
    """The config handed to the Trainer: the run's own, writing its checkpoints to `trainer_dir`,
    with the values the pipeline sets itself (progress lines are ours, so no progress bars)."""
    import torch

    torch.set_num_threads(cfg.threads)
    args = copy.copy(cfg)
    for key, value in {"output_dir": str(trainer_dir), "disable_tqdm": True, **pipeline_set}.items():
        setattr(args, key, value)
    return args


CURVE_DIR = "curve"  # beside the final model: curve/step-N, the policy after N optimizer steps
CURVE_KEYS = ("save_strategy", "save_steps", "save_only_model", "save_total_limit")


def curve_args(curve_every: int) -> dict[str, Any]:
    """TRL's save settings that keep the policy every `curve_every` optimizer steps (weights and
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
        card = {**cfg.lineage, **lineage, "run_config_hash": run_hash(cfg), **(tracked or {})}
        out = run_dir(cfg)
        if getattr(cfg, "curve_every", 0) and trainer.is_world_process_zero():
            metrics["curve_steps"] = keep_curve(Path(trainer.args.output_dir), out)
        saved = save_checkpoint(trainer, tokenizer, out, card, metrics, cfg.smoke_prompt, trust_remote_code)
        log_result(tracked, saved)
    return saved
