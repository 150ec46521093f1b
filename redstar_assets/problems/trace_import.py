"""Traces somebody already paid for (RedStar's released data, OpenThoughts, s1K, OpenR1-Math) rewritten at
import to the pipeline's one format, `<think>\\n{reasoning}\\n</think>\\n\\n{response}`, so the verifier, the
rewards and the students see the same text whatever tags the dataset used. A source maps the parts as two
fields (`reasoning:`, `response:`) or as one (`trace:`) cut by a split rule (a regex or a built-in rule's
name); unclosed reasoning is kept and marked unfinished, and an untagged output is kept as written."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import polars as pl

from redstar_assets.config.field_mapping import field_value
from redstar_assets.config.sources import split_pattern

TRACE_SCHEMA = {
    "trace": pl.String,  # normalized: <think>\n...\n</think>\n\n...
    "trace_original": pl.String,  # as the dataset had it, for audit
    "trace_finished": pl.Boolean,  # False when the reasoning never closed
    "sample": pl.Int64,  # the dataset's own sample index, when it has several traces per problem
}


@dataclass(frozen=True)
class TraceRule:
    """How one source's traces split into reasoning and response: a compiled `trace_split` rule,
    or None to keep each trace as the dataset wrote it."""

    split: re.Pattern | None = None

    @classmethod
    def of(cls, split: str | None) -> TraceRule:
        return cls(split_pattern(split) if split is not None else None)


def think_format(reasoning: str, response: str | None) -> str:
    """The pipeline's trace text; an unfinished reasoning stays open, as a cut-off generation does."""
    if response is None:
        return f"<think>\n{reasoning.strip()}"
    return f"<think>\n{reasoning.strip()}\n</think>\n\n{response.strip()}"


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def normalized_trace(rec: dict, mapping: dict[str, str], rule: TraceRule) -> tuple[dict | None, str, str]:
    """(trace columns, "", "") or (None, field, reason) for a record that holds no usable trace."""
    sample = field_value(rec, mapping["sample"]) if "sample" in mapping else None
    if sample is not None:
        if isinstance(sample, bool) or not (isinstance(sample, int) or str(sample).strip().isdigit()):
            return None, mapping["sample"], f"sample {sample!r} is not an integer"
        sample = int(sample)
    if "reasoning" in mapping:
        reasoning = _text(field_value(rec, mapping["reasoning"]))
        if not reasoning or not reasoning.strip():
            return None, mapping["reasoning"], "missing or empty reasoning (text expected)"
        response = _text(field_value(rec, mapping["response"])) if "response" in mapping else None
        if "response" in mapping and response is None:
            return None, mapping["response"], "missing response (text expected)"
        original = json.dumps({"reasoning": reasoning, "response": response}, ensure_ascii=False)
        text, finished = think_format(reasoning, response or ""), True
    else:
        field = mapping.get("trace", "trace")
        trace = _text(field_value(rec, field))
        if not trace or not trace.strip():
            return None, field, "missing or empty trace (text expected)"
        original = trace
        found = rule.split.search(original) if rule.split is not None else None
        # no rule, or an output the rule does not fit: kept as written, so its verdict is the raw output's
        # and the quality filter flags it `no_think`
        if found is None or not found["reasoning"].strip():
            text, finished = original, "<think>" not in original or "</think>" in original
        else:
            response = found.groupdict().get("response")
            text, finished = think_format(found["reasoning"], response), response is not None
    return {"trace": text, "trace_original": original, "trace_finished": finished, "sample": sample}, "", ""
