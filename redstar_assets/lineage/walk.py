"""Walking lineage upstream through Dagster's public instance API: from a materialization, its
`input_data_versions` metadata names the upstream assets and partitions it read (a version string
means the same partition; a mapping means those partitions), so `redstar lineage` can answer "which
subset, teacher and config produced this score?" from the instance, not from file names."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from redstar_assets.config.asset_keys import PIPELINE as ASSETS
from redstar_assets.config.asset_keys import SCORE_CHAIN as CHAIN
from redstar_assets.config.asset_keys import TRAINED_ASSETS
from redstar_assets.evaluation.stamps import parse, stamp_differences, summary
from redstar_assets.lineage.records import (
    CODE_VERSION_TAG,
    DATA_VERSION_TAG,
    History,
    latest_materialization,
    meta,
    metadata_value,
    tags,
)

# What to show of each asset's recorded config, so the chain reads as an answer.
HIGHLIGHTS = {
    "raw_problems": ("kind", "path", "dataset", "count"),
    "teacher_traces": ("backend", "model", "samples_per_problem", "prompt_template", "sampling"),
    "sft_subsets": ("scale", "strategy", "target_format", "verified_only", "mix", "seed"),
    "sft_checkpoints": ("learning_rate", "num_train_epochs", "per_device_train_batch_size", "seed"),
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
    scores: list[dict] = field(default_factory=list)  # a score materialization's rows, each with its stamp
    upstream: list[Node] = field(default_factory=list)
    missing: bool = False
    repeated: bool = False  # already shown higher up the chain
    not_trained_on: bool = False  # read by the node below, which took no row from it

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
            "scores": [{**s, "environment": parse(s.get("environment"))} for s in self.scores],
            "missing": self.missing,
            "not_trained_on": self.not_trained_on,
            "upstream": [u.as_dict() for u in self.upstream],
        }


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


def walk(instance: dg.DagsterInstance, asset: str, partition: str | None, _seen: set | None = None) -> Node:
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
    node.data_version = (mat.tags or {}).get(DATA_VERSION_TAG)
    node.config_hash = metadata_value(meta.get("config_hash"))
    node.code_commit = metadata_value(meta.get("code_commit"))
    node.config = metadata_value(meta.get("config")) or {}
    node.inputs = metadata_value(meta.get("input_data_versions")) or {}
    node.scores = metadata_value(meta.get("score_rows")) or []
    node.materialized_at = event.timestamp
    node.run_id = event.run_id
    key = (asset, partition)
    if key in seen:
        node.repeated = True
        return node
    seen.add(key)
    trained = metadata_value(meta.get("trained_on"))
    for up_asset, up_partition in _upstream_of(node.inputs, partition):
        up = walk(instance, up_asset, up_partition, seen)
        up.not_trained_on = isinstance(trained, dict) and up_asset in trained and up_partition not in trained[up_asset]
        node.upstream.append(up)
    return node


def render(node: Node, depth: int = 0) -> list[str]:
    """An indented text tree: asset[partition], data version, config hash, time, highlights."""
    import datetime

    pad = "  " * depth
    label = f"{node.asset}[{node.partition}]" if node.partition else node.asset
    if node.missing or node.materialized_at is None or node.run_id is None:
        return [f"{pad}{label}: not materialized"]
    when = datetime.datetime.fromtimestamp(node.materialized_at, datetime.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    if node.not_trained_on:
        label += "  (read, not trained on: no row came from it)"
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
    lines += render_scores(node.scores, pad + "  ")
    for up in node.upstream:
        lines += render(up, depth + 1)
    return lines


def render_scores(scores: list[dict], pad: str) -> list[str]:
    """Each score with its environment stamp, and the stamp fields in which it differs from the first
    stage scored on the same benchmark (what makes comparing the two suspect)."""
    lines: list[str] = []
    first: dict[Any, tuple[Any, dict]] = {}
    for s in scores:
        stamp = parse(s.get("environment"))
        avg = f", avg@{s.get('n')} {s['avg_at_n']:.3f}" if s.get("avg_at_n") is not None else ""
        pass1 = f"pass@1 {s['pass_at_1']:.3f}" if s.get("pass_at_1") is not None else "pass@1 -"
        lines.append(f"{pad}{s.get('stage')} {s.get('benchmark')}: {pass1}{avg}")
        lines.append(f"{pad}  environment: {summary(stamp)}")
        base = first.setdefault(s.get("benchmark"), (s.get("stage"), stamp))
        differs = stamp_differences(base[1], stamp) if base[1] is not stamp else []
        if differs:
            lines.append(f"{pad}  differs from {base[0]} on {', '.join(differs)}: comparing them is suspect")
    return lines


# Assets that are trained on something, in the order "trained on" flows; a downstream query follows
# their `trained_on` metadata (what a stage learned from), never what it only read.
READ_ONLY_INPUTS = ("base_model", "problems", "difficulty_scores")


@dataclass
class Dependent:
    """One materialization downstream of the target by "trained on", with why it is stale, if it is."""

    asset: str
    partition: str | None
    data_version: str | None
    run_id: str
    materialized_at: float
    code_version: str | None
    trained_on: dict
    stale: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "is_stale": bool(self.stale)}


def _trained_on(record) -> dict[str, dict]:
    """{asset: {partition: version}} this materialization learned from; for one made before
    `trained_on` was recorded, its recorded inputs less those it only read."""
    recorded = meta(record, "trained_on")
    if recorded is not None:
        return recorded
    inputs = meta(record, "input_data_versions", {})
    return {a: v for a, v in inputs.items() if a not in READ_ONLY_INPUTS and isinstance(v, dict)}


def downstream(
    instance: dg.DagsterInstance, asset: str, partition: str | None, code_versions: dict[str, str] | None = None
) -> list[Dependent]:
    """Every current subset, checkpoint and score whose trained-on inputs include `asset[partition]`,
    transitively. A source partition of any data asset (raw_problems ... difficulty_scores) stands for
    that source's rows. With `code_versions` (the definitions' current ones), each is marked stale
    when its code version changed, an input it trained on has a newer data version, or an upstream
    dependent is stale."""
    from redstar_assets.config.asset_keys import SOURCE_ASSETS
    from redstar_assets.lineage.provenance import TRAINED_FROM

    history = History(instance, CHAIN)
    reached = {(TRAINED_FROM if asset in SOURCE_ASSETS else asset, partition)}
    found: dict[tuple[str, str | None], Dependent] = {}
    for stage in TRAINED_ASSETS:
        for (name, part), records in sorted(history.by_key.items(), key=lambda kv: str(kv[0])):
            if name != stage or not records:
                continue
            record = records[0]
            edges = _trained_on(record)
            hits = [(a, p) for a, parts in edges.items() for p in parts if (a, p) in reached]
            if not hits:
                continue
            reached.add((name, part))
            dep = Dependent(
                name,
                part,
                tags(record).get(DATA_VERSION_TAG),
                record.run_id,
                record.timestamp,
                tags(record).get(CODE_VERSION_TAG),
                edges,
            )
            if code_versions is not None:
                dep.stale = _why_stale(history, dep, code_versions.get(name), found)
            found[(name, part)] = dep
    return list(found.values())


def _why_stale(history, dep: Dependent, current_code: str | None, found: dict) -> list[str]:
    why = []
    if current_code is not None and dep.code_version != current_code:
        why.append(f"code version {dep.code_version} -> {current_code}")
    for up_asset, parts in dep.trained_on.items():
        for up_partition, version in parts.items():
            latest = history.latest(up_asset, up_partition)
            now = tags(latest).get(DATA_VERSION_TAG) if latest is not None else None
            if now is not None and version is not None and now != version:
                why.append(f"{up_asset}[{up_partition}] is now {now} (trained on {version})")
            upstream = found.get((up_asset, up_partition))
            if upstream is not None and upstream.stale:
                why.append(f"upstream {up_asset}[{up_partition}] is stale")
    return why


def render_downstream(target: str, deps: list[Dependent], with_stale: bool) -> list[str]:
    """One line per dependent, grouped by asset in the order training flows."""
    import datetime

    if not deps:
        return [f"nothing materialized was trained on {target}"]
    lines = [f"trained on {target}: {len(deps)} materialization(s)"]
    for d in deps:
        when = datetime.datetime.fromtimestamp(d.materialized_at, datetime.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        label = f"{d.asset}[{d.partition}]" if d.partition else d.asset
        mark = ("  STALE: " + "; ".join(d.stale) if d.stale else "  current") if with_stale else ""
        lines.append(f"  {label:<40} data_version={d.data_version}  at {when}  run {d.run_id[:8]}{mark}")
    return lines
