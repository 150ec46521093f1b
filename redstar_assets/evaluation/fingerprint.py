"""What an evaluation's result depends on, so a re-run is skipped when nothing changed. `eval_inputs` is
read from the instance alone (checkpoint data versions, benchmark specs and files, verifier version,
sampling), so the nightly schedule can tell without loading a model whether re-scoring would change
anything; `eval_key` adds the exact held-out items after overlap removal, and equal keys mean the stored
scores are reused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg

from redstar_assets.config.asset_keys import STAGE_CHECKPOINTS
from redstar_assets.config.base_models import TINY_KINDS
from redstar_assets.config.sections import Experiment, Profile
from redstar_assets.evaluation.heldout import benchmark_fingerprint
from redstar_assets.lineage.records import DATA_VERSION_TAG, latest_materialization, tags
from redstar_training.files.run_config import config_hash
from redstar_training.verify import VERIFIER_VERSION

STAGE_ASSETS = STAGE_CHECKPOINTS

SCORES_VERSION = "scores-v6"  # the evaluation stage's code version: bumped when its columns change


def recorded_data_version(instance: dg.DagsterInstance, asset: str, partition: str | None) -> str | None:
    """The data version of an asset partition's latest materialization, as the instance recorded it."""
    record = latest_materialization(instance, asset, partition)
    return tags(record).get(DATA_VERSION_TAG) if record is not None else None


def curve_stage(stage: str, step: int) -> str:
    """The stage name of a point on an RL curve: `rl@16`, the rl run's policy after 16 steps."""
    return f"{stage}@{step}"


def split_stage(stage: str) -> tuple[str, int | None]:
    """(the trained stage, the curve step or None): `rl@16` -> ("rl", 16), `sft` -> ("sft", None)."""
    name, _, step = stage.partition("@")
    return name, int(step) if step else None


def curve_points(checkpoint_folder: Path) -> list[tuple[int, Path]]:
    """(step, folder) of the policies an RL run kept along the way (its recipe's `curve_every`)."""
    found = [(int(p.name.split("-", 1)[1]), p) for p in (checkpoint_folder / "curve").glob("step-*")]
    return sorted(found)


def stage_models(store, profile: Profile, exp: Experiment) -> list[dict]:
    """The model folder (or tiny spec to build it from) behind each stage an experiment scores."""
    from redstar_assets.training.base_models import base_model_ref

    models = []
    base = profile.base_models[exp.base_model]
    remote = {"trust_remote_code": True} if getattr(base, "trust_remote_code", False) else {}  # its checkpoints too
    for stage in exp.stages:
        if stage == "base":
            path, tiny = base_model_ref(store, exp.base_model, base)
            models.append({"stage": "base", "path": path, "tiny_spec": tiny, **remote})
        else:
            folder = store.folder(STAGE_ASSETS[stage], profile.stage_partition(exp, stage))
            models.append({"stage": stage, "path": str(folder / "model"), **remote})
            models += [
                {"stage": curve_stage(stage, n), "path": str(path), **remote} for n, path in curve_points(folder)
            ]
    return models


def stage_model_ids(instance: dg.DagsterInstance, profile: Profile, exp: Experiment, models: list[dict]) -> dict:
    """Per stage: the checkpoint's data version as recorded (its folder hash when the instance has
    none); the base model by its spec-hashed folder name (tiny models are built deterministically)
    or its id."""
    from redstar_training.trainers.checkpoints import folder_hash

    ids: dict[str, Any] = {}
    for model in models:
        stage, path = model["stage"], model["path"]
        if stage == "base":
            tiny = profile.base_models[exp.base_model].kind in TINY_KINDS
            ids["base"] = Path(path).name if tiny else path
        elif split_stage(stage)[1] is not None:  # a point on an RL curve: its folder's content
            ids[stage] = folder_hash(Path(path))
        else:
            partition = profile.stage_partition(exp, stage)
            ids[stage] = recorded_data_version(instance, STAGE_ASSETS[stage], partition) or folder_hash(Path(path))
    return ids


def eval_inputs(models: dict[str, Any], profile: Profile, exp: Experiment) -> dict[str, Any]:
    benchmarks = {b.name: benchmark_fingerprint(b) for b in profile.benchmarks_for(exp)}
    return {
        "models": models,
        "benchmarks": benchmarks,
        "settings": profile.evaluation.settings(),
        "verifier": VERIFIER_VERSION,
        "scores": SCORES_VERSION,  # scores of another shape are not reused
    }


def eval_key(inputs: dict[str, Any], heldout_versions: dict[str, str], threads: int) -> str:
    """The reuse key: the inputs plus the exact held-out items and the generation threads."""
    return config_hash({**inputs, "heldout": heldout_versions, "threads": threads})
