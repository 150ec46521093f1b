"""The one way model work is started: a Python entry point in its own process, through Dagster Pipes.

Teacher sampling with a local model, the difficulty scorer, the trainers and the evaluation all go
through `ModelLauncher.run`: the run config is written beside the outputs (so the step can be
repeated by hand), the command comes from the profile's `launch:` block (plain `python`,
`accelerate launch` or `torchrun`), logs stream into the Dagster run, and the process is wrapped by
`redstar_training.supervise`, so a cancelled run or a killed run worker takes the whole process
group down with it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import dagster as dg
import yaml

LAUNCHERS = ("python", "accelerate", "torchrun")
STAGES = ("teacher", "training", "evaluation")
SETTING_KEYS = ("launcher", "config_file", "processes", "threads")


class StageLaunch(dg.Config):
    """How one stage's entry points start: the profile's `launch:` settings for it, validated at load."""

    launcher: str = "python"  # python | accelerate | torchrun
    config_file: str = ""  # accelerate's --config_file (relative paths are under configs/)
    processes: int = 1  # accelerate --num_processes / torchrun --nproc_per_node
    threads: int = max(1, min(2, os.cpu_count() or 1))  # torch / OpenMP threads per process


def _command(python: str, settings: StageLaunch, module: str, config_path: str) -> list[str]:
    tail = ["-m", module, "--config", config_path]
    if settings.launcher == "accelerate":
        extra = ["--config_file", settings.config_file] if settings.config_file else []
        procs = ["--num_processes", str(settings.processes)] if settings.processes > 1 or not extra else []
        if settings.processes > 1 and not extra:
            # without a config file, accelerate starts one process per GPU it sees (one on a CPU
            # machine); --multi_gpu starts `processes` of them (gloo on CPU, NCCL on GPUs)
            procs = ["--multi_gpu", *procs]
        return [python, "-m", "accelerate.commands.launch", *extra, *procs, *tail]
    if settings.launcher == "torchrun":
        return [python, "-m", "torch.distributed.run", "--nproc_per_node", str(settings.processes), *tail]
    return [python, *tail]


class ModelLauncher(dg.ConfigurableResource):
    """Starts model entry points (teacher, scorer, trainers, evaluation) as the profile's `launch:`
    block says, each in its own supervised process reporting back through Pipes."""

    python: str = sys.executable
    teacher: StageLaunch = StageLaunch()
    training: StageLaunch = StageLaunch()
    evaluation: StageLaunch = StageLaunch()
    grace_s: float = 20.0

    def settings(self, stage: str) -> StageLaunch:
        return getattr(self, stage)

    def command(self, stage: str, module: str, config_path: str) -> list[str]:
        """The command line the stage's entry point runs with (what `--dry-run` prints)."""
        return _command(self.python, self.settings(stage), module, config_path)

    def run(
        self,
        context: dg.AssetExecutionContext,
        pipes: dg.PipesSubprocessClient,
        stage: str,
        module: str,
        run_config: dict[str, Any],
        out_dir: Path,
    ):
        """Writes the run config beside its outputs, runs the entry point and returns the Pipes invocation."""
        settings = self.settings(stage)
        out_dir.mkdir(parents=True, exist_ok=True)
        config_path = out_dir / "run_config.yaml"
        config_path.write_text(yaml.safe_dump({**run_config, "threads": settings.threads}, sort_keys=True))
        command = self.command(stage, module, str(config_path))
        context.log.info(f"launching {' '.join(command)}")
        supervised = [self.python, "-m", "redstar_training.supervise", "--grace-s", str(self.grace_s), "--", *command]
        env = {
            "TOKENIZERS_PARALLELISM": "false",
            "PYTHONUNBUFFERED": "1",
            "OMP_NUM_THREADS": str(settings.threads),
            "REDSTAR_SUPERVISOR_PARENT": str(os.getpid()),
        }
        return pipes.run(context=context, command=supervised, env=env)


# k8s: one Kubernetes Job per step (dagster-k8s); celery: one Celery task per step on a Redis broker
EXECUTORS = ("in_process", "multiprocess", "k8s", "celery")


def _setting(where: str, entry: str, key: str, value: Any) -> Any:
    from redstar_assets.config.profile import ProfileError, configs_dir

    if key == "launcher" and value not in LAUNCHERS:
        raise ProfileError(f"{where}: {entry}.launcher {value!r} is not one of {LAUNCHERS}")
    if key in ("processes", "threads") and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        raise ProfileError(f"{where}: {entry}.{key} must be a positive integer, got {value!r}")
    if key == "config_file" and value:
        path = Path(value) if Path(value).is_absolute() else configs_dir() / value
        if not path.exists():
            raise ProfileError(f"{where}: {entry}.config_file {value!r}: no file {path}")
        return str(path)
    return value


def resolve_launch(block: dict[str, Any], where: str = "profile") -> dict[str, StageLaunch]:
    """Each stage's launch settings: the block's top-level settings, then the stage's own section."""
    from redstar_assets.config.checks import check_keys
    from redstar_assets.config.profile import ProfileError
    from redstar_assets.deploy.celery_queue import resolve_queue
    from redstar_assets.deploy.k8s_specs import resolve_kubernetes

    check_keys(where, "launch", block, (*SETTING_KEYS, *STAGES, "executor", "kubernetes", "celery", "parallel"))
    side_by_side(block, where)
    executor = block.get("executor", "in_process")
    if executor not in EXECUTORS:
        raise ProfileError(f"{where}: launch.executor {executor!r} is not one of {EXECUTORS}")
    if resolve_kubernetes(block.get("kubernetes"), where) is None and executor == "k8s":
        raise ProfileError(f"{where}: launch.executor k8s needs a launch.kubernetes block (image, namespace, ...)")
    resolve_queue(block.get("celery"), where)
    shared = {k: _setting(where, "launch", k, block[k]) for k in SETTING_KEYS if k in block}
    resolved = {}
    for stage in STAGES:
        own = block.get(stage) or {}
        check_keys(where, f"launch.{stage}", own, SETTING_KEYS)
        settings = {**shared, **{k: _setting(where, f"launch.{stage}", k, v) for k, v in own.items()}}
        resolved[stage] = StageLaunch(**settings)
    return resolved


def side_by_side(block: dict[str, Any], where: str = "profile") -> int:
    """How many runs of one plan group `redstar run` starts at a time (`launch.parallel`, default 1).
    On a 2-core machine two SFT processes of one thread each measured 1.55x the throughput of one
    with two threads (by hand, on the entry point; small models do not scale over threads, and a
    step's start-up is one thread)."""
    from redstar_assets.config.profile import ProfileError

    value = block.get("parallel", 1)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ProfileError(f"{where}: launch.parallel must be a positive integer, got {value!r}")
    return value


def reported(invocation) -> dict[str, Any]:
    """The result an entry point sent back as its Pipes custom message (distillation, evaluation)."""
    messages = invocation.get_custom_messages()
    if not messages:
        raise RuntimeError("the entry point finished without reporting its results through Pipes")
    return messages[-1]


def launcher_resource(launch: dict[str, StageLaunch]) -> ModelLauncher:
    """The resource for a profile's resolved per-stage launch settings."""
    return ModelLauncher(teacher=launch["teacher"], training=launch["training"], evaluation=launch["evaluation"])
