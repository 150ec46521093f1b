"""Typed run configs read from YAML or JSON plus `key=value` overrides, shared by every entry point."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import yaml

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")


class ConfigError(ValueError):
    """A run config names a key its entry point does not read, or an override is malformed."""


class RunInputError(ValueError):
    """A run's inputs cannot be used (no rows to train on, no model folder, an impossible batch): the
    library raises it, and the entry point turns it into a one-line exit."""


def _coerce(value: str, current: Any) -> Any:
    """Parses an override the way YAML would, so `epochs=3` is an int and `lora=true` a bool."""
    parsed = yaml.safe_load(value)
    if isinstance(current, float) and isinstance(parsed, (int, str)):
        return float(parsed)  # YAML 1.1 reads "5e-3" as a string
    return parsed


def load_config(cls: type[T], path: str | Path | None, overrides: list[str]) -> T:
    """Builds `cls` from a file and overrides; an unknown key fails before any work starts. A class
    with its own `from_run_config` (a trainer's, parsed by TRL's parser) reads them itself."""
    reader = getattr(cls, "from_run_config", None)
    if reader is not None:
        return reader(path, overrides)
    data: dict[str, Any] = {}
    if path:
        text = Path(path).read_text()
        data = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text) or {}
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{path}: unknown config key(s) {unknown}; known keys: {sorted(names)}")
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or key not in names:
            raise ConfigError(f"override {item!r}: expected key=value with key one of {sorted(names)}")
        default = next(f for f in dataclasses.fields(cls) if f.name == key).default
        data[key] = _coerce(value, data.get(key, default))
    return cls(**data)


def config_hash(config: Any) -> str:
    """Short stable hash of a config (dataclass or dict), recorded with everything it produced."""
    data = dataclasses.asdict(cast("DataclassInstance", config)) if dataclasses.is_dataclass(config) else config
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]
