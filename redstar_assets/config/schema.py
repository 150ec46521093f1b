"""The JSON Schema of a profile file as written, built from the typed sections, so an editor that reads
it (`# yaml-language-server: $schema=...`) completes keys and flags a typo before anything runs."""

from __future__ import annotations

from typing import Any

from redstar_assets.config.sections import ProfileFile
from redstar_assets.config.trl_recipes import (
    ASSET_KEYS,
    CONTROLS,
    DEFAULT_MAX_PROBLEMS,
    RL_METHODS,
    SAMPLE_SOURCES,
    SET_BY_ASSET,
    trl_fields,
)

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _inlined(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:  # a field's own description beside the reference wins over the class docstring
            inlined = _inlined(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
            return {**inlined, "description": node["description"]} if "description" in node else inlined
        return {k: _inlined(v, defs) for k, v in node.items()}
    if isinstance(node, list):
        return [_inlined(v, defs) for v in node]
    return node


def _merge_friendly(node: Any, in_list: bool = False) -> Any:
    """Drops `required` outside list entries (and so lets a partial entry match several alternatives of
    a union): a child profile's mapping merges key by key into its parent's, so a partial entry is
    complete once merged; a list entry replaces the parent's whole."""
    if isinstance(node, list):
        return [_merge_friendly(v, in_list) for v in node]
    if not isinstance(node, dict):
        return node
    out = {
        ("anyOf" if k == "oneOf" and not in_list else k): _merge_friendly(v, in_list or k in ("items", "prefixItems"))
        for k, v in node.items()
        if not (k == "required" and not in_list) and k != "discriminator"
    }
    return out


# What the RL recipe keys the assets read (ASSET_KEYS) mean.
_ASSET_KEY_HELP = {
    "method": "The RL method, which picks the trainer.",
    "max_pairs": "DPO: most preference pairs trained on; every pair when unset.",
    "max_problems": f"Online methods: most problems trained on; {DEFAULT_MAX_PROBLEMS} when unset.",
    "samples": "Whose samples choose the problems: the teacher's verdicts (default), or the student's own "
    "pass rate (kept when strictly between 0 and 1; for DPO, pairs of its own correct and incorrect samples).",
    "pass_rate_samples": "samples: student: samples per candidate problem for the pass rate (default 8).",
    "candidates": "samples: student: candidate problems sampled, outside the SFT subset first (default 256).",
    "control": "The method family's control at the same budget: shuffled_rewards (online methods) or "
    "swapped_pairs (DPO).",
}
_JSON_TYPES = {"float": "number", "int": "integer", "bool": "boolean", "str": "string", "list": "array"}
_JSON_TYPES |= {"dict": "object", "none": "null"}


def _recipe(methods: tuple[str, ...], set_by_asset: set[str], extra: dict[str, Any]) -> dict[str, Any]:
    """A recipe entry: the fields of its trainer's TRL config (from trl_fields.json) that a recipe may set."""
    properties: dict[str, Any] = dict(extra)
    for method in methods:
        spec = trl_fields()["methods"][method]
        for name, field in spec["fields"].items():
            if name in set_by_asset or name in spec["set_by_trainer"]:
                continue
            kinds = [_JSON_TYPES[k] for k in field["type"] if k in _JSON_TYPES]
            entry: dict[str, Any] = {"type": kinds} if kinds and "any" not in field["type"] else {}
            if "choices" in field:
                entry["enum"] = field["choices"]
            properties.setdefault(name, entry)
    return {"type": "object", "properties": properties, "additionalProperties": False}


def _described(node: dict[str, Any], key: str) -> dict[str, Any]:
    help_text = _ASSET_KEY_HELP.get(key)
    return {**node, "description": help_text} if help_text else node


def profile_schema() -> dict[str, Any]:
    """The schema `redstar profile schema` prints; recipe entries take their trainers' TRL fields."""
    schema = ProfileFile.model_json_schema()
    defs = schema.pop("$defs", {})
    out = _merge_friendly(_inlined(schema, defs))
    counts = {"type": "integer", "exclusiveMinimum": 0}
    rl_extra = {  # sorted: a set's order changes from run to run
        "method": _described({"enum": list(RL_METHODS)}, "method"),
        **{
            key: _described(counts, key)
            for key in sorted(ASSET_KEYS["dpo"] | ASSET_KEYS["online_rl"])
            if key != "method"
        },
        "samples": _described({"enum": list(SAMPLE_SOURCES)}, "samples"),
        "pass_rate_samples": _described({"type": "integer", "minimum": 2}, "pass_rate_samples"),
        "candidates": _described(counts, "candidates"),
        "control": _described({"enum": sorted(set(CONTROLS.values()))}, "control"),
    }
    out["properties"]["training_recipes"]["additionalProperties"] = _recipe(("sft",), SET_BY_ASSET["sft"], {})
    out["properties"]["rl_recipes"]["additionalProperties"] = _recipe(
        tuple(m for m in RL_METHODS), SET_BY_ASSET["dpo"] | SET_BY_ASSET["online_rl"], rl_extra
    )
    return {"$schema": SCHEMA_DIALECT, **out, "title": "RedStar profile"}
