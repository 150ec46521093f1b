"""The `kubernetes` deployment's part of the profile (`launch.kubernetes`): the image, the volume and
the pod shape of each stage and base model, validated at load."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from redstar_assets.config.errors import ProfileError, check_keys

STAGE_KEYS = ("gpus", "nodes", "cpu", "memory", "node_selector", "tolerations")
BLOCK_KEYS = ("image", "namespace", "service_account", "data_volume_claim", "data_root", "shm_size", "data",
              "teacher", "training", "evaluation", "models")  # fmt: skip


@dataclass(frozen=True)
class PodShape:
    """What one stage's pods ask for."""

    gpus: int = 0
    nodes: int = 1
    cpu: str = ""
    memory: str = ""
    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class KubeSettings:
    image: str
    namespace: str = "default"
    service_account: str = ""
    data_volume_claim: str = ""
    data_root: str = "/data"
    shm_size: str = "16Gi"
    stages: dict[str, PodShape] = field(default_factory=dict)  # data, teacher, training, evaluation
    models: dict[str, PodShape] = field(default_factory=dict)  # training shape per base model

    def shape(self, stage: str, base_model: str | None = None) -> PodShape:
        if stage == "training" and base_model in self.models:
            return self.models[base_model]
        return self.stages.get(stage, PodShape())


def _shape(where: str, entry: str, raw: dict, base: PodShape | None = None) -> PodShape:
    check_keys(where, entry, raw, STAGE_KEYS)
    merged = {**(base.__dict__ if base else {}), **raw}
    for key in ("gpus", "nodes"):
        value = merged.get(key, PodShape.__dataclass_fields__[key].default)
        if not isinstance(value, int) or isinstance(value, bool) or value < (1 if key == "nodes" else 0):
            raise ProfileError(f"{where}: {entry}.{key} must be a {'positive' if key == 'nodes' else 'whole'} number")
    return PodShape(**{k: merged[k] for k in STAGE_KEYS if k in merged})


def resolve_kubernetes(block: dict | None, where: str = "profile") -> KubeSettings | None:
    """The validated `launch.kubernetes` block, or None when the profile has none."""
    if not block:
        return None
    check_keys(where, "launch.kubernetes", block, BLOCK_KEYS)
    if not block.get("image"):
        raise ProfileError(f"{where}: launch.kubernetes.image is required (the image every step pod runs)")
    stages = {
        s: _shape(where, f"launch.kubernetes.{s}", block.get(s) or {})
        for s in ("data", "teacher", "training", "evaluation")
    }
    models = {
        name: _shape(where, f"launch.kubernetes.models.{name}", raw or {}, stages["training"])
        for name, raw in (block.get("models") or {}).items()
    }
    settings = {
        k: block[k]
        for k in ("image", "namespace", "service_account", "data_volume_claim", "data_root", "shm_size")
        if k in block
    }
    return KubeSettings(**settings, stages=stages, models=models)
