"""Where an experiment's base model comes from: a tiny model built here, a local folder or a hub id."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from redstar_assets.config.base_models import HubModel, LocalModel
from redstar_assets.storage import Store
from redstar_training.files.run_config import config_hash


def base_model_ref(store: Store, name: str, entry: Any) -> tuple[str, dict[str, Any]]:
    """(path or id the trainer loads, tiny spec to build it from when it does not exist yet). A tiny
    model's folder is named by the hash of its spec as written, so a default that changes later does
    not silently reuse an old build."""
    if isinstance(entry, LocalModel):
        path = Path(entry.path)
        if not path.exists():
            raise FileNotFoundError(f"base model {name!r}: folder {path} does not exist")
        return str(path), {}
    if isinstance(entry, HubModel):
        return entry.id, {}
    written = entry.model_dump(exclude_unset=True)
    if entry.kind == "tiny_qwen2":
        tiny = {k: v for k, v in written.items() if k != "kind"}
        return str(store.root / "base_models" / f"{name}-{config_hash(tiny)}"), tiny
    return str(store.root / "base_models" / f"{name}-{config_hash(written)}"), written  # the builder reads its kind
