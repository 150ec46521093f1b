"""Walking lineage upstream through Dagster's public instance API: from a materialization, its
`input_data_versions` metadata names the upstream assets and partitions it read (a version string
means the same partition; a mapping means those partitions), so `redstar lineage` can answer "which
subset, teacher and config produced this score?" from the instance, not from file names."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dagster import DagsterInstance

from redstar_assets.evaluation.report import latest_materialization

ASSETS = (
    "raw_problems",
    "problems",
    "teacher_traces",
    "verified_traces",
    "difficulty_scores",
    "sft_subsets",
    "sft_checkpoints",
    "rl_checkpoints",
    "benchmark_scores",
    "ablation_report",
)
# What to show of each asset's recorded config, so the chain reads as an answer.
HIGHLIGHTS = {
    "raw_problems": ("kind", "path", "dataset", "count"),
    "teacher_traces": ("backend", "model", "samples_per_problem", "prompt_template", "sampling"),
    "sft_subsets": ("scale", "strategy", "target_format", "verified_only", "mix", "seed"),
    "sft_checkpoints": ("learning_rate", "epochs", "batch_size", "seed"),
    "rl_checkpoints": ("beta", "learning_rate", "max_pairs"),
    "benchmark_scores": ("samples", "temperature", "max_new_tokens", "verifier_version"),
}


@dataclass
class Node:
    asset: str
    partition: str | None
    data_version: str | None = None
    config_hash: str | None = None
    code_commit: str | None = None
    materialized_at: float | None = None
    run_id: str | None = None
    config: dict = field(default_factory=dict)
    inputs: dict = field(default_factory=dict)
    upstream: list[Node] = field(default_factory=list)
    missing: bool = False
    repeated: bool = False  # already shown higher up the chain

    def as_dict(self) -> dict[str, Any]:
        return {
            "asset": self.asset,
            "partition": self.partition,
            "data_version": self.data_version,
            "config_hash": self.config_hash,
            "code_commit": self.code_commit,
            "materialized_at": self.materialized_at,
            "run_id": self.run_id,
            "config": self.config,
            "missing": self.missing,
            "upstream": [u.as_dict() for u in self.upstream],
        }


def _value(entry) -> Any:
    return getattr(entry, "value", entry) if entry is not None else None


def _upstream_of(inputs: dict, partition: str | None) -> list[tuple[str, str | None]]:
    out = []
    for name, version in inputs.items():
        if name not in ASSETS or version is None:
            continue
        if isinstance(version, dict):
            out += [(name, p) for p in sorted(version)]
        else:
            out.append((name, partition))
    return out


def walk(instance: DagsterInstance, asset: str, partition: str | None, _seen: set | None = None) -> Node:
    """The materialization of `asset[partition]` and, recursively, those it read."""
    seen = _seen if _seen is not None else set()
    node = Node(asset, partition)
    record = latest_materialization(instance, asset, partition)
    if record is None:
        node.missing = True
        return node
    event = record.event_log_entry
    mat = record.asset_materialization
    meta = mat.metadata
    node.data_version = (mat.tags or {}).get("dagster/data_version")
    node.config_hash = _value(meta.get("config_hash"))
    node.code_commit = _value(meta.get("code_commit"))
    node.config = _value(meta.get("config")) or {}
    node.inputs = _value(meta.get("input_data_versions")) or {}
    node.materialized_at = event.timestamp
    node.run_id = event.run_id
    key = (asset, partition)
    if key in seen:
        node.repeated = True
        return node
    seen.add(key)
    for up_asset, up_partition in _upstream_of(node.inputs, partition):
        node.upstream.append(walk(instance, up_asset, up_partition, seen))
    return node


def render(node: Node, depth: int = 0) -> list[str]:
    """An indented text tree: asset[partition], data version, config hash, time, highlights."""
    import datetime

    pad = "  " * depth
    label = f"{node.asset}[{node.partition}]" if node.partition else node.asset
    if node.missing:
        return [f"{pad}{label}: not materialized"]
    when = datetime.datetime.fromtimestamp(node.materialized_at, datetime.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    if node.repeated:
        return [f"{pad}{label}  data_version={node.data_version}  (shown above)"]
    head = f"{pad}{label}  data_version={node.data_version}  config_hash={node.config_hash}"
    code = (
        f"  code {node.code_commit[:12]}{'-dirty' if node.code_commit.endswith('-dirty') else ''}"
        if node.code_commit
        else ""
    )
    lines = [f"{head}  at {when}  run {node.run_id[:8]}{code}"]
    shown = {k: node.config[k] for k in HIGHLIGHTS.get(node.asset, ()) if k in node.config}
    if node.asset == "sft_checkpoints":
        shown["subset_hash"] = next(iter((node.inputs.get("sft_subsets") or {}).values()), None)
    if node.asset == "rl_checkpoints":
        shown["sft_checkpoint_hash"] = next(iter((node.inputs.get("sft_checkpoints") or {}).values()), None)
    if node.asset == "benchmark_scores" and node.inputs.get("base_model"):
        shown["base_model_hash"] = node.inputs["base_model"]
    if shown:
        lines.append(f"{pad}  " + ", ".join(f"{k}={v}" for k, v in shown.items()))
    for up in node.upstream:
        lines += render(up, depth + 1)
    return lines
