"""The `lineage` asset's table: one row per (experiment, stage, benchmark) for every `benchmark_scores`
materialization, with the whole chain behind it as typed columns (metrics, checkpoint, recipes, subset
hash, sources trained on with their data versions, teacher, specs, code versions, commit, runs, times).
It reads the event log through public APIs only and finds each upstream step by the data version it
produced, not by "the latest", so a score from last week is described by what made it last week."""

from __future__ import annotations

import json
from typing import Any

import dagster as dg
import polars as pl

from redstar_assets.config.asset_keys import SCORE_CHAIN
from redstar_assets.evaluation.fingerprint import split_stage
from redstar_assets.lineage.records import CODE_VERSION_TAG, DATA_VERSION_TAG, History, meta, tags

CHAIN = SCORE_CHAIN
CODE_VERSION_FIELDS = {a: pl.String for a in CHAIN}
SOURCE_FIELDS = {"source": pl.String, "rows": pl.Int64, "data_version": pl.String}
LINEAGE_SCHEMA: dict[str, Any] = {
    "experiment": pl.String,
    "arm": pl.String,
    "stage": pl.String,
    "benchmark": pl.String,
    "pass_at_1": pl.Float64,
    "avg_at_n": pl.Float64,
    "n": pl.Int64,
    "stderr": pl.Float64,
    "stderr_items": pl.Float64,
    "maj_at_n": pl.Float64,
    "pass_at_n": pl.Float64,
    "pass_at_k": pl.String,
    "maj_at_k": pl.String,
    "environment": pl.String,
    "num_problems": pl.Int64,
    "checkpoint_hash": pl.String,
    "base_model": pl.String,
    "training_recipe": pl.String,
    "learning_rate": pl.Float64,
    "epochs": pl.Float64,
    "batch_size": pl.Int64,
    "training_seed": pl.Int64,
    "rl_method": pl.String,
    "rl_recipe": pl.String,
    "subset": pl.String,
    "subset_hash": pl.String,
    "scale": pl.Int64,
    "strategy": pl.String,
    "band": pl.List(pl.Float64),
    "mix": pl.String,
    "target_format": pl.String,
    "subset_seed": pl.Int64,
    "subset_sources": pl.List(pl.String),
    "trained_on": pl.List(pl.Struct(SOURCE_FIELDS)),
    "teacher_backend": pl.String,
    "teacher_model": pl.String,
    "teacher_revision": pl.String,
    "prompt_template": pl.String,
    "teacher_sampling": pl.String,
    "difficulty_spec": pl.String,
    "quality_spec": pl.String,
    "code_versions": pl.Struct(CODE_VERSION_FIELDS),
    "git_commit": pl.String,
    "scores_version": pl.String,
    "scores_run_id": pl.String,
    "scored_at": pl.Datetime("us", "UTC"),
    "training_run_id": pl.String,
    "trained_at": pl.Datetime("us", "UTC"),
    "latest": pl.Boolean,
}


def _only(mapping: dict | None) -> tuple[str | None, str | None]:
    """The single (partition, version) of a {partition: version} input, or (None, None)."""
    return next(iter((mapping or {}).items()), (None, None))


def _joined(values) -> str | None:
    """One value, or several distinct ones joined (sources distilled by different teachers)."""
    distinct = sorted({str(v) for v in values if v is not None})
    return ", ".join(distinct) if distinct else None


def _json(value) -> str | None:
    return json.dumps(value, sort_keys=True, default=str) if value not in (None, {}, []) else None


def _when(record):
    import datetime

    return datetime.datetime.fromtimestamp(record.timestamp, datetime.UTC) if record is not None else None


def _source_columns(history: History, subset) -> dict[str, Any]:
    """Sources trained on (rows, data version) and the teacher, difficulty and quality behind them."""
    trained = meta(subset, "trained_on", {}).get("verified_traces", {})
    rows = meta(subset, "trained_on_rows", {})
    read_difficulty = meta(subset, "input_data_versions", {}).get("difficulty_scores", {})
    verified = {s: history.with_version("verified_traces", s, v) for s, v in sorted(trained.items())}
    teacher_records = [
        history.with_version("teacher_traces", s, meta(r, "input_data_versions", {}).get("teacher_traces"))
        for s, r in verified.items()
    ]
    difficulty_records = [history.with_version("difficulty_scores", s, read_difficulty.get(s)) for s in verified]
    # the ids the traces name (a procedural teacher's, a server's model) over the configured model
    teachers = [
        {**meta(r, "config", {}), "id": meta(r, "teacher"), "prompt": meta(r, "prompt_version")}
        for r in teacher_records
    ]
    return {
        "trained_on": [{"source": s, "rows": rows.get(s), "data_version": v} for s, v in sorted(trained.items())],
        "teacher_backend": _joined(t.get("backend") for t in teachers),
        "teacher_model": _joined(t.get("id") or t.get("model") or t.get("imported_from") for t in teachers),
        "teacher_revision": _joined(t.get("revision") for t in teachers),
        "prompt_template": _joined(t.get("prompt") or t.get("prompt_template") for t in teachers),
        "teacher_sampling": _joined(_json(t.get("sampling")) for t in teachers),
        "difficulty_spec": _joined(_json(meta(r, "config")) for r in difficulty_records),
        "quality_spec": _joined(_json(meta(r, "config", {}).get("quality")) for r in verified.values()),
        "_code": {
            asset: _joined(tags(r).get(CODE_VERSION_TAG) for r in records if r is not None)
            for asset, records in (
                ("verified_traces", verified.values()),
                ("teacher_traces", teacher_records),
                ("difficulty_scores", difficulty_records),
            )
        },
    }


def _chain(history: History, experiment: str, stage: str, inputs: dict) -> dict[str, Any]:
    """The checkpoint, training and RL recipes, subset and sources behind one stage's score."""
    rl = sft = None
    if stage == "rl":
        rl = history.with_version("rl_checkpoints", experiment, (inputs.get("rl_checkpoints") or {}).get(experiment))
        # the SFT checkpoint the RL stage started from: its own experiment's or, for an arm, another's
        sft_partition, sft_version = _only(meta(rl, "trained_on", {}).get("sft_checkpoints"))
        sft = history.with_version("sft_checkpoints", sft_partition, sft_version) if sft_partition else None
    elif stage == "sft":
        sft_partition, sft_version = _only(inputs.get("sft_checkpoints"))
        sft = history.with_version("sft_checkpoints", sft_partition, sft_version) if sft_partition else None
    if sft is None:
        return {}
    subset_name, subset_version = _only(meta(sft, "input_data_versions", {}).get("sft_subsets"))
    subset = history.with_version("sft_subsets", subset_name, subset_version)
    recipe, training = meta(subset, "config", {}), meta(sft, "config", {})
    sources = _source_columns(history, subset) if subset is not None else {}
    source_code = sources.pop("_code", {})
    return {
        "training_recipe": meta(sft, "training_recipe"),
        "learning_rate": training.get("learning_rate"),
        # TRL's names; a checkpoint recorded before the recipes took them has the old ones
        "epochs": training.get("num_train_epochs", training.get("epochs")),
        "batch_size": training.get("per_device_train_batch_size", training.get("batch_size")),
        "training_seed": training.get("seed"),
        "rl_method": meta(rl, "rl_method"),
        "rl_recipe": meta(rl, "rl_recipe"),
        "subset": subset_name,
        "subset_hash": subset_version,
        "scale": recipe.get("scale"),
        "strategy": recipe.get("strategy"),
        "band": recipe.get("band"),
        "mix": _json(recipe.get("mix")),
        "target_format": recipe.get("target_format"),
        "subset_seed": recipe.get("seed"),
        "subset_sources": recipe.get("sources"),
        **sources,
        "_code": {
            "rl_checkpoints": tags(rl).get(CODE_VERSION_TAG) if rl is not None else None,
            "sft_checkpoints": tags(sft).get(CODE_VERSION_TAG),
            "sft_subsets": tags(subset).get(CODE_VERSION_TAG) if subset is not None else None,
            **source_code,
        },
        "training_run_id": (rl or sft).run_id,
        "trained_at": _when(rl or sft),
    }


def _score_rows(record, store) -> list[dict]:
    """A score materialization's rows: its typed metadata, or, for a materialization without it, the
    per-version copy of its scores file."""
    rows = meta(record, "score_rows")
    if rows is not None:
        return rows
    version = tags(record).get(DATA_VERSION_TAG)
    name = f"history/scores-{version}"
    if store is not None and store.exists("benchmark_scores", record.partition_key, name):
        return store.read("benchmark_scores", record.partition_key, name).to_dicts()
    return []


def lineage_rows(instance: dg.DagsterInstance, store=None) -> pl.DataFrame:
    """The whole table, newest scores first within each experiment."""
    history = History(instance, CHAIN)
    rows = []
    for record in history.records("benchmark_scores"):
        experiment = record.partition_key
        inputs = meta(record, "input_data_versions", {})
        latest = history.latest("benchmark_scores", experiment) is record
        config = meta(record, "config", {})
        for score in _score_rows(record, store):
            chain = _chain(history, experiment, split_stage(score["stage"])[0], inputs)  # rl@16: the rl run's
            code = chain.pop("_code", {})
            rows.append(
                {
                    "experiment": experiment,
                    "arm": score.get("arm") or experiment.split("@")[0],
                    "stage": score["stage"],
                    "benchmark": score["benchmark"],
                    "pass_at_1": score.get("pass_at_1"),
                    "avg_at_n": score.get("avg_at_n"),
                    "n": score.get("n"),
                    "stderr": score.get("stderr"),
                    "stderr_items": score.get("stderr_items"),
                    "maj_at_n": score.get("maj_at_n"),
                    "pass_at_n": score.get("pass_at_n"),
                    "pass_at_k": score.get("pass_at_k"),
                    "maj_at_k": score.get("maj_at_k"),
                    "environment": score.get("environment"),
                    "num_problems": score.get("num_problems"),
                    "checkpoint_hash": score.get("model_version"),
                    "base_model": config.get("base_model"),
                    **chain,
                    # an arm's seed (its RL run's too); else the SFT recipe's seed the chain recorded
                    "training_seed": next(
                        (v for v in (score.get("training_seed"), chain.get("training_seed")) if v is not None), None
                    ),
                    "code_versions": {
                        **dict.fromkeys(CHAIN),
                        **code,
                        "benchmark_scores": tags(record).get(CODE_VERSION_TAG),
                    },
                    "git_commit": meta(record, "code_commit"),
                    "scores_version": tags(record).get(DATA_VERSION_TAG),
                    "scores_run_id": record.run_id,
                    "scored_at": _when(record),
                    "latest": latest,
                }
            )
    frame = pl.DataFrame(rows, schema=LINEAGE_SCHEMA) if rows else pl.DataFrame(schema=LINEAGE_SCHEMA)
    return frame.sort(["experiment", "scored_at", "stage", "benchmark"], descending=[False, True, False, False])
