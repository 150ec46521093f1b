"""Writes redstar_assets/config/trl_fields.json: each recipe method's run config fields (TRL's and the
pipeline's) with type, default and allowed values, so a profile is checked at load without importing
TRL. Run it after a TRL upgrade: `python -m redstar_training.trainers.trl_fields`.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import sys
import types
import typing
from pathlib import Path
from typing import Any

import trl

from redstar_training.trainers import dpo, grpo, sft, trainer_run

TARGET = Path(__file__).resolve().parents[2] / "redstar_assets" / "config" / "trl_fields.json"
_SCALARS = {bool: "bool", int: "int", float: "float", str: "str", type(None): "none"}


def _kinds(hint: Any) -> tuple[list[str], list[Any] | None]:
    """The value kinds a field accepts (bool, int, float, str, none, list, dict; any when it cannot
    tell) and its allowed values when it has a closed set."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        kinds: list[str] = []
        choices: list[Any] | None = None
        for arg in typing.get_args(hint):
            sub, sub_choices = _kinds(arg)
            kinds += [k for k in sub if k not in kinds]
            choices = sub_choices if sub_choices is not None else choices
        return kinds, choices
    if origin is typing.Literal:
        values = list(typing.get_args(hint))
        return sorted({_SCALARS.get(type(v), "any") for v in values}), values
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return ["str"], [m.value for m in hint]
    if hint in _SCALARS:
        return [_SCALARS[hint]], None
    if origin in (list, tuple) or hint in (list, tuple):
        return ["list"], None
    if origin is dict or hint is dict:
        return ["dict"], None
    return ["any"], None


def _plain(value: Any) -> Any:
    """A default as JSON holds it."""
    if isinstance(value, enum.Enum):
        return value.value
    try:
        json.dumps(value)
        return value
    except TypeError:
        return str(value)


def describe_class(cls: type, pipeline_set: tuple[str, ...], method_set: dict[str, Any]) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    own = set(trainer_run.own_fields(cls))
    fields = {}
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        kinds, choices = _kinds(hints[f.name])
        choices = f.metadata.get("choices", choices)
        entry = {"type": kinds, "default": _plain(default)}
        if choices is not None:
            entry["choices"] = [_plain(c) for c in choices]
        if f.name in own:
            entry["pipeline"] = True
        fields[f.name] = entry
    trl_base = next(b for b in cls.__mro__[1:] if b.__module__.startswith("trl."))
    return {
        "class": trl_base.__name__,
        "set_by_trainer": sorted({*pipeline_set, *method_set}),
        "fields": fields,
    }


def build() -> dict[str, Any]:
    """The file's content, from the installed TRL and the trainers' run config classes."""
    methods = {
        "sft": describe_class(sft.SFTRunConfig, sft.PIPELINE_SET, {}),
        "dpo": describe_class(dpo.DPORunConfig, dpo.PIPELINE_SET, {}),
    }
    for name, (cls, method_set) in grpo.ALGORITHMS.items():
        methods[name] = describe_class(cls, grpo.PIPELINE_SET + ("algorithm",), method_set)
    return {"trl_version": trl.__version__, "renamed": trainer_run.RENAMED, "methods": methods}


def render() -> str:
    return json.dumps(build(), indent=1, sort_keys=True) + "\n"


def main() -> None:
    TARGET.write_text(render())
    sys.stdout.write(f"wrote {TARGET}\n")


if __name__ == "__main__":
    main()
