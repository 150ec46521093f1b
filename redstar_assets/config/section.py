"""The base of every typed profile section: building one is its validation, so an unknown key, a
wrong type or a bad value fails at load with the file, the entry and the key named."""

from __future__ import annotations

import dataclasses
import re
import typing
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

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

    def written(self) -> dict[str, Any]:
        """The keys the profile set, with their values: what lineage records and hashes."""
        return self.model_dump(exclude_unset=True)


def section_of(
    name: str, source: type, doc: str, base: type[S], leave_out: tuple[str, ...] = (), **fields: Any
) -> type[S]:
    """A section with the init fields of dataclass `source` (less `leave_out`, which the caller sets)
    plus `fields`: the profile accepts exactly what the reader takes, so the two cannot drift. A field's
    `metadata={"description": ...}` becomes its description in the schema."""
    hints = typing.get_type_hints(source)
    own: dict[str, Any] = {}
    for f in dataclasses.fields(source):
        if not f.init or f.name in leave_out:
            continue
        has_default = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        default = f.default if f.default is not dataclasses.MISSING else ...
        if f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        description = f.metadata.get("description")
        own[f.name] = (hints[f.name], Field(default if has_default else ..., description=description))
    return create_model(name, __base__=base, __doc__=doc, **own, **fields)  # type: ignore[call-overload,no-any-return]


_ENTRY_MODELS: dict[str, type[Section]] = {}


def build_entry(key: str, annotation: Any, data: Any, where: str) -> Any:
    """One block of a union type (a source, a teacher), built and checked as a profile's `key` would
    be: for code that writes its own block instead of a profile."""
    if key not in _ENTRY_MODELS:
        _ENTRY_MODELS[key] = create_model(f"One_{key}", __base__=Section, **{key: (annotation, ...)})  # type: ignore[call-overload]
    return getattr(build(_ENTRY_MODELS[key], {key: data}, where, ""), key)


def build(cls: type[S], data: Any, where: str, entry: str) -> S:
    """`cls` built from a YAML block (absent means the defaults), or a ProfileError naming the key."""
    try:
        return cls.model_validate({} if data is None else data)
    except ValidationError as exc:
        # of a union's alternatives, the one that got furthest says what is wrong
        error = max(exc.errors(), key=lambda e: len(_walk(cls, e["loc"])[0]))
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


def _tag(model: type[BaseModel]) -> Any:
    """The `kind` (or teacher `backend`) a model of a discriminated union answers to, if it has one."""
    for key in ("kind", "backend"):
        field = model.model_fields.get(key)
        args = typing.get_args(field.annotation) if field is not None else ()
        if len(args) == 1:
            return args[0]
    return None


def _walk(cls: type[BaseModel], loc: tuple) -> tuple[tuple, list[str]]:
    """An error's place in the profile's own terms (pydantic's steps into a union's alternative or a
    validator dropped) and the keys a section allows there."""
    candidates: list[type[BaseModel]] = [cls]
    plain: list[Any] = []
    for part in loc:
        current = candidates[0] if len(candidates) == 1 else None
        if isinstance(part, int):
            plain.append(part)
        elif current is not None and part in current.model_fields:
            plain.append(part)
            candidates = _models_in(current.model_fields[part].annotation)
        elif chosen := [m for m in candidates if part in (m.__name__, _tag(m))]:
            candidates = chosen[:1]
        elif not part.startswith(("function-", "literal[", "constrained-", "lax-or-strict", "union[", "json-or-")):
            plain.append(part)  # a key of a mapping whose values are sections
    known = list(candidates[0].model_fields) if len(candidates) == 1 else []
    return tuple(plain), known


def _path(entry: str, loc: tuple, data: Any = None) -> str:
    """`launch.training.threads`, `experiments[2] (cot-1k).stages`: a list entry with a name shows it;
    a whole profile's own keys stand alone."""
    path = entry
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
        inside = isinstance(data, dict) and part in data or isinstance(data, list) and isinstance(part, int)
        data = data[part] if inside and (not isinstance(data, list) or part < len(data)) else None
        if isinstance(part, int) and isinstance(data, dict) and isinstance(data.get("name"), str):
            path += f" ({data['name']})"
    return path.lstrip(".") or "profile"


def describe(cls: type[BaseModel], error: Any, where: str, entry: str, data: Any = None) -> str:
    """One pydantic error in the profile's words."""
    loc, _ = _walk(cls, error["loc"])
    path, kind, value = _path(entry, loc, data), error["type"], error.get("input")
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden":
        _, known = _walk(cls, error["loc"][:-1])
        key = str(loc[-1])
        listed = f"; known keys: {sorted(known)}" if len(known) <= 30 else ""
        return f"{where}: {_path(entry, loc[:-1], data)}: unknown key {key!r}{did_you_mean(key, known)}{listed}"
    if kind in ("missing", "union_tag_not_found"):
        return (
            f"{where}: {path}{'.' + ctx['discriminator'].strip(chr(39)) if 'discriminator' in ctx else ''} is required"
        )
    if kind == "union_tag_invalid":
        discriminator = ctx.get("discriminator", "").strip("'").removesuffix("()")  # a callable's name
        return f"{where}: {path}.{discriminator} {ctx.get('tag')!r} is not one of {ctx.get('expected_tags')}"
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
