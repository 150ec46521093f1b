"""Where a model step runs: the op tags that place it, from the profile's `launch:` block. One
function, so every model asset (teacher, scorer, trainers, evaluation) is placed the same way on
every deployment: its pod's shape for `kubernetes`, its Celery queue for `queue`, nothing locally."""

from __future__ import annotations

import json

from redstar_assets.deploy.celery_queue import queue_tags
from redstar_assets.deploy.k8s_specs import step_config


def model_op_tags(profile, stage: str) -> dict[str, str]:
    """The op tags of a model asset of `stage` (teacher, training, evaluation)."""
    kube = profile.launch.kubernetes
    return {**({"dagster-k8s/config": json.dumps(step_config(kube, stage))} if kube else {}), **queue_tags(profile)}


def model_placement(profile, stage: str, loads_model: bool = True) -> dict:
    """The asset arguments that place a step: a model step of `stage` takes a slot of the `gpu` pool
    and its op tags; a step that loads no model (a procedural teacher, no scorer) neither."""
    return {"pool": "gpu", "op_tags": model_op_tags(profile, stage)} if loads_model else {"pool": None, "op_tags": {}}
