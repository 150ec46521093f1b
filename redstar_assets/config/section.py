"""The base of every typed profile section: building one is its validation, so an unknown key, a
wrong type or a bad value fails at load with the file, the entry and the key named."""

from __future__ import annotations

import re
import typing
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from redstar_assets.config.errors import ProfileError, did_you_mean

S = TypeVar("S", bound="Section")
_EXPONENT = re.compile(r"[+-]?\d+(\.\d*)?[eE][+-]?\d+")
_KINDS = {
    "int_type": "an integer",
    "float_type": "a number",
    "string_type": "text",
    "bool_type": "true or false",
    "dict_type": "a mapping of keys to values",
    "model_type": "a mapping of keys to values",
    "model_attributes_type": "a mapping of keys to values",
    "list_type": "a list",
    "tuple_type": "a list",
}


class Section(BaseModel):
    """A profile block as written: strict types (YAML's own), no unknown keys, read-only once built."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def build(cls: type[S], data: Any, where: str, entry: str) -> S:
    """`cls` built from a YAML block (absent means the defaults), or a ProfileError naming the key."""
    try:
        return cls.model_validate({} if data is None else data)
    except ValidationError as exc:
        # of a union's alternatives, the one that got furthest says what is wrong
        error = max(exc.errors(), key=lambda e: len(_plain_loc(e["loc"])))
        raise ProfileError(describe(cls, error, where, entry, data)) from None


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The section classes an annotation holds (through Optional, unions, lists and dict values)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = typing.get_origin(annotation)
    if origin is None:
        return []
    args = typing.get_args(annotation)
    if origin is dict:
        args = args[1:]
    return [m for arg in args for m in _models_in(arg)]


def known_keys(cls: type[BaseModel], loc: tuple) -> list[str]:
    """The keys allowed where `loc` points, walking the section's fields (list indices and mapping
    keys are stepped over)."""
    current: type[BaseModel] = cls
    for part in loc:
        if isinstance(part, str) and part in current.model_fields:
            inner = _models_in(current.model_fields[part].annotation)
            if not inner:
                return []
            current = inner[0]
    return list(current.model_fields)


def _section_names(cls: type = BaseModel) -> set[str]:
    """Every model class's name: pydantic puts the chosen alternative of a union into an error's place."""
    subclasses: list[type] = cls.__subclasses__()
    return {sub.__name__ for sub in subclasses} | {n for sub in subclasses for n in _section_names(sub)}


def _plain_loc(loc: tuple) -> tuple:
    """The error's location without pydantic's own steps (union alternatives, validator wrappers)."""
    tags = _section_names()
    return tuple(
        p
        for p in loc
        if isinstance(p, int)
        or not (p in tags or p.startswith(("function-", "literal[", "constrained-", "lax-or-strict", "union[")))
    )


def _path(entry: str, loc: tuple, data: Any = None) -> str:
    """`launch.training.threads`, `experiments[2] (cot-1k).stages`: a list entry with a name shows it;
    a whole profile's own keys stand alone."""
    path = entry
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}"
        data = (
            data[part]
            if isinstance(data, list | dict) and part in (range(len(data)) if isinstance(data, list) else data)
            else None
        )
        if isinstance(part, int) and isinstance(data, dict) and isinstance(data.get("name"), str):
            path += f" ({data['name']})"
    return path.lstrip(".") or "profile"


def describe(cls: type[BaseModel], error: Any, where: str, entry: str, data: Any = None) -> str:
    """One pydantic error in the profile's words."""
    loc = _plain_loc(error["loc"])
    path, kind, value = _path(entry, loc, data), error["type"], error.get("input")
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden":
        known = known_keys(cls, loc[:-1])
        key = str(loc[-1])
        listed = f"; known keys: {sorted(known)}" if len(known) <= 30 else ""
        return f"{where}: {_path(entry, loc[:-1], data)}: unknown key {key!r}{did_you_mean(key, known)}{listed}"
    if kind == "missing":
        return f"{where}: {path} is required"
    if kind == "literal_error":
        return f"{where}: {path} {value!r} is not one of {ctx.get('expected')}"
    if kind in ("value_error", "assertion_error"):
        text = str(ctx.get("error", error["msg"]))
        return f"{where}: {path}: {text}"
    if kind in ("greater_than", "greater_than_equal") and isinstance(value, int) and not isinstance(value, bool):
        floor = ctx.get("gt", ctx.get("ge"))
        what = "a positive integer" if ctx.get("gt") == 0 else f"at least {floor}"
        return f"{where}: {path} must be {what}, got {value!r}"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        bound = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}[kind]
        limit = next(iter(ctx.values()), "")
        return f"{where}: {path} must be {bound} {limit}, got {value!r}"
    note = " (YAML reads 1e-5 as text: write 1.0e-5)" if isinstance(value, str) and _EXPONENT.fullmatch(value) else ""
    return f"{where}: {path} must be {_KINDS.get(kind, error['msg'].lower())}, got {value!r}{note}"
