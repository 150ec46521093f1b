"""How model steps start: the profile's `launch:` block (launcher, processes and threads per stage,
the executor, how many runs go side by side), validated at load."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import dagster as dg
from pydantic import Field, PositiveInt, field_validator, model_validator

from redstar_assets.config.celery import CelerySpec
from redstar_assets.config.kubernetes import KubeSettings
from redstar_assets.config.locations import configs_dir, find_config
from redstar_assets.config.section import Section

LAUNCH_STAGES = ("teacher", "training", "evaluation")
Launcher = Literal["python", "accelerate", "torchrun"]
# k8s: one Kubernetes Job per step (dagster-k8s); celery: one Celery task per step on a Redis broker
Executor = Literal["in_process", "multiprocess", "k8s", "celery"]


class StageLaunch(dg.Config):
    """How one stage's entry points start, resolved from the profile's `launch:` block."""

    launcher: str = "python"  # python | accelerate | torchrun
    config_file: str = ""  # accelerate's --config_file, as an absolute path
    processes: int = 1  # accelerate --num_processes / torchrun --nproc_per_node
    threads: int = max(1, min(2, os.cpu_count() or 1))  # torch / OpenMP threads per process


class StageSettings(Section):
    """Launch settings as written: at the top of `launch:` for every stage, or under one stage."""

    launcher: Launcher | None = Field(default=None, description="What starts the entry points; python when unset.")
    config_file: str | None = Field(
        default=None, description="accelerate's --config_file; a relative path is looked up under configs/."
    )
    processes: PositiveInt | None = Field(
        default=None, description="Processes per step (accelerate --num_processes, torchrun --nproc_per_node)."
    )
    threads: PositiveInt | None = Field(default=None, description="Torch and OpenMP threads per process.")

    @field_validator("config_file")
    @classmethod
    def _config_file_exists(cls, value: str | None) -> str | None:
        if value and not _config_path(value).exists():
            raise ValueError(f"{value!r}: no file {_config_path(value)}")
        return value


def _config_path(value: str) -> Path:
    """An absolute path as given; a relative one along the configuration search path."""
    return Path(value) if Path(value).is_absolute() else find_config(value) or configs_dir() / value


class LaunchSpec(StageSettings):
    """`launch:`: shared settings, each stage's own, the executor, the side-by-side count of
    `redstar run` and the deployments' blocks."""

    teacher: StageSettings = StageSettings()
    training: StageSettings = StageSettings()
    evaluation: StageSettings = StageSettings()
    executor: Executor = Field(
        default="in_process",
        description="Where steps run: in this process, one process each, a Kubernetes Job each (k8s) or a "
        "Celery task each.",
    )
    parallel: PositiveInt = Field(
        default=1, description="Model steps of one plan group that `redstar run` starts at a time."
    )
    celery: CelerySpec = CelerySpec()
    kubernetes: KubeSettings | None = None

    @model_validator(mode="after")
    def _k8s_has_its_block(self) -> LaunchSpec:
        if self.executor == "k8s" and self.kubernetes is None:
            raise ValueError("executor k8s needs a launch.kubernetes block (image, namespace, ...)")
        return self

    def stage(self, name: str) -> StageLaunch:
        """One stage's settings: its own over the block's shared ones over the defaults."""
        fields = StageSettings.model_fields
        shared = {k: getattr(self, k) for k in fields if getattr(self, k) is not None}
        own = {k: getattr(getattr(self, name), k) for k in fields if getattr(getattr(self, name), k) is not None}
        merged = {**shared, **own}
        if merged.get("config_file"):
            merged["config_file"] = str(_config_path(merged["config_file"]))
        return StageLaunch(**merged)

    def stages(self) -> dict[str, StageLaunch]:
        return {name: self.stage(name) for name in LAUNCH_STAGES}
