"""Checks a training or RL recipe against its trainer's run config (TRL's own config plus the
pipeline's fields) without importing TRL: the fields come from trl_fields.json, which
`python -m redstar_training.trainers.trl_fields` writes from the installed TRL."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from redstar_assets.config.errors import ProfileError, did_you_mean

FIELDS_FILE = Path(__file__).with_name("trl_fields.json")


@functools.cache
def trl_fields() -> dict[str, Any]:
    return json.loads(FIELDS_FILE.read_text())


def _kind_ok(value: Any, kind: str) -> bool:
    if kind == "any":
        return True
    if kind == "none":
        return value is None
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, {"str": str, "list": list, "dict": dict}[kind])


def check_recipe(where: str, entry: str, recipe: dict[str, Any], method: str, set_by_asset=(), extra=()) -> None:
    """Each key of `recipe` must be a field of `method`'s run config (or one of `extra`, read by the
    asset), not one the asset or trainer sets, not a renamed one, with a value its field accepts."""
    spec = trl_fields()
    fields = spec["methods"][method]["fields"]
    pipeline_set = {*set_by_asset, *spec["methods"][method]["set_by_trainer"]}
    settable = sorted(set(fields) - pipeline_set)
    for key, value in recipe.items():
        if key in extra:
            if key != "method" and not (_kind_ok(value, "int") and value > 0):
                raise ProfileError(f"{where}: {entry}.{key}: expected a positive integer, got {value!r}")
            continue
        if key in spec["renamed"]:
            raise ProfileError(f"{where}: {entry}: key {key!r} is now {spec['renamed'][key]!r} (TRL's name)")
        if key in pipeline_set:
            raise ProfileError(f"{where}: {entry}: key {key!r} is set by the pipeline and cannot be given here")
        if key not in fields:
            trl_class = spec["methods"][method]["class"]
            raise ProfileError(f"{where}: {entry}: unknown key {key!r} for {trl_class}{did_you_mean(key, settable)}")
        field = fields[key]
        if not any(_kind_ok(value, kind) for kind in field["type"]):
            note = " (YAML reads 1e-5 as text: write 1.0e-5)" if isinstance(value, str) and "e" in value else ""
            raise ProfileError(f"{where}: {entry}.{key}: expected {' or '.join(field['type'])}, got {value!r}{note}")
        default = field.get("default")
        number = _kind_ok(value, "float") and _kind_ok(default, "float")
        if number and default >= 0 and value < 0:  # counts, rates and sizes: TRL's default says which
            raise ProfileError(f"{where}: {entry}.{key}: must not be negative, got {value!r}")
        if "choices" in field and value is not None and value not in field["choices"]:
            raise ProfileError(f"{where}: {entry}.{key}: {value!r} is not one of {field['choices']}")
