"""How model steps start: the profile's `launch:` block (launcher, processes and threads per stage,
the executor, how many runs go side by side), validated at load."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dagster as dg

from redstar_assets.config.errors import ProfileError, check_keys
from redstar_assets.config.locations import configs_dir

LAUNCHERS = ("python", "accelerate", "torchrun")
LAUNCH_STAGES = ("teacher", "training", "evaluation")
SETTING_KEYS = ("launcher", "config_file", "processes", "threads")


class StageLaunch(dg.Config):
    """How one stage's entry points start: the profile's `launch:` settings for it, validated at load."""

    launcher: str = "python"  # python | accelerate | torchrun
    config_file: str = ""  # accelerate's --config_file (relative paths are under configs/)
    processes: int = 1  # accelerate --num_processes / torchrun --nproc_per_node
    threads: int = max(1, min(2, os.cpu_count() or 1))  # torch / OpenMP threads per process


# k8s: one Kubernetes Job per step (dagster-k8s); celery: one Celery task per step on a Redis broker
EXECUTORS = ("in_process", "multiprocess", "k8s", "celery")


def _setting(where: str, entry: str, key: str, value: Any) -> Any:
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
    from redstar_assets.config.celery import resolve_queue
    from redstar_assets.config.errors import ProfileError
    from redstar_assets.config.kubernetes import resolve_kubernetes

    check_keys(where, "launch", block, (*SETTING_KEYS, *LAUNCH_STAGES, "executor", "kubernetes", "celery", "parallel"))
    side_by_side(block, where)
    executor = block.get("executor", "in_process")
    if executor not in EXECUTORS:
        raise ProfileError(f"{where}: launch.executor {executor!r} is not one of {EXECUTORS}")
    if resolve_kubernetes(block.get("kubernetes"), where) is None and executor == "k8s":
        raise ProfileError(f"{where}: launch.executor k8s needs a launch.kubernetes block (image, namespace, ...)")
    resolve_queue(block.get("celery"), where)
    shared = {k: _setting(where, "launch", k, block[k]) for k in SETTING_KEYS if k in block}
    resolved = {}
    for stage in LAUNCH_STAGES:
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
    value = block.get("parallel", 1)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ProfileError(f"{where}: launch.parallel must be a positive integer, got {value!r}")
    return value
