"""The one way model work is started: a Python entry point in its own process, through Dagster Pipes,
with the run config written beside its outputs so the step can be repeated by hand. The process is
wrapped by `redstar_training.supervise`, so a cancelled run or a killed run worker takes the whole
process group down with it."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import dagster as dg
import yaml

from redstar_assets.config.launch import StageLaunch


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


def reported(invocation) -> dict[str, Any]:
    """The result an entry point sent back as its Pipes custom message (distillation, evaluation)."""
    messages = invocation.get_custom_messages()
    if not messages:
        raise RuntimeError("the entry point finished without reporting its results through Pipes")
    return messages[-1]


def launcher_resource(launch: dict[str, StageLaunch]) -> ModelLauncher:
    """The resource for a profile's resolved per-stage launch settings."""
    return ModelLauncher(teacher=launch["teacher"], training=launch["training"], evaluation=launch["evaluation"])
