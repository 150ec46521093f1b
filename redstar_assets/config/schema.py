"""The JSON Schema of a profile file as written, built from the typed sections, so an editor that reads
it (`# yaml-language-server: $schema=...`) completes keys and flags a typo before anything runs."""

from __future__ import annotations

from typing import Any

from redstar_assets.config.sections import ProfileFile

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _inlined(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            return _inlined(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
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


def profile_schema() -> dict[str, Any]:
    """The schema `redstar profile schema` prints."""
    schema = ProfileFile.model_json_schema()
    defs = schema.pop("$defs", {})
    out = _merge_friendly(_inlined(schema, defs))
    return {"$schema": SCHEMA_DIALECT, **out, "title": "RedStar profile"}
