"""Where an experiment's base model comes from: a tiny model built here, a local folder or a hub id."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from redstar_assets.storage import Store
from redstar_training.files.run_config import config_hash


def base_model_ref(store: Store, name: str, spec: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(path or id the trainer loads, tiny spec to build it from when it does not exist yet)."""
    kind = spec.get("kind")
    if kind == "tiny_qwen2":
        tiny = {k: v for k, v in spec.items() if k != "kind"}
        return str(store.root / "base_models" / f"{name}-{config_hash(tiny)}"), tiny
    if kind == "tiny_vlm":  # its spec keeps the kind: the builder dispatches on it
        return str(store.root / "base_models" / f"{name}-{config_hash(spec)}"), dict(spec)
    if spec.get("trust_remote_code") and kind not in ("local", "hub"):
        raise ValueError(f"base model {name!r}: trust_remote_code is for local or hub models only")
    if kind == "local":
        path = Path(spec["path"])
        if not path.exists():
            raise FileNotFoundError(f"base model {name!r}: folder {path} does not exist")
        return str(path), {}
    if kind == "hub":
        return spec["id"], {}
    raise ValueError(f"base model {name!r}: unknown kind {kind!r}; known: tiny_qwen2, tiny_vlm, local, hub")
