"""Reading one field of a source or benchmark row through a mapping: a field name, a dotted path
into nested fields (`metadata.task`), an index into a list (`code[0]`, `outputs[-1].text`), or a
template over several fields (`"{Body} {Question}"`).
Problem sources and the benchmark registry both map rows this way."""

from __future__ import annotations

import re
from typing import Any

MAX_FIELD_CHARS = 1_000_000  # a competition problem is a few KB; a megabyte of text is not one problem
TEMPLATE_FIELD = re.compile(r"\{([^{}]+)\}")
_STEP = re.compile(r"^([^\[\]]*)((?:\[-?\d+\])*)$")


def field_value(rec: dict, spec: str) -> Any:
    """The value `spec` names in `rec`; None when a named field is missing."""
    if "{" in spec:
        parts = {name: field_value(rec, name) for name in TEMPLATE_FIELD.findall(spec)}
        if any(v is None for v in parts.values()):
            return None
        return TEMPLATE_FIELD.sub(lambda m: str(parts[m[1]]), spec)
    if spec in rec or ("." not in spec and "[" not in spec):
        return rec.get(spec)
    value: Any = rec
    for step in spec.split("."):
        parsed = _STEP.match(step)
        if parsed is None:
            return None
        name, indexes = parsed.groups()
        if name:
            if not isinstance(value, dict) or name not in value:
                return None
            value = value[name]
        for index in re.findall(r"-?\d+", indexes):
            if not isinstance(value, (list, tuple)) or not -len(value) <= int(index) < len(value):
                return None
            value = value[int(index)]
    return value
