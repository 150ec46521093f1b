"""The base model a run starts from: a tiny model built here from its spec on first use, or a hub id or
folder passed through unchanged."""

from __future__ import annotations

from pathlib import Path

from redstar_training.models.tiny_lm import TinyQwen2Spec, build_tiny_qwen2
from redstar_training.models.tiny_vlm import TinyVLMSpec, build_tiny_vlm


def ensure_base_model(path: str, tiny_spec: dict | None) -> str:
    """Builds the tiny base model at `path` on first use; hub ids and existing folders pass through."""
    if tiny_spec and not (Path(path) / "config.json").exists():
        if tiny_spec.get("kind") == "tiny_vlm":
            build_tiny_vlm(TinyVLMSpec(**{k: v for k, v in tiny_spec.items() if k != "kind"}), Path(path))
        else:
            build_tiny_qwen2(TinyQwen2Spec(**tiny_spec), Path(path))
    return path
