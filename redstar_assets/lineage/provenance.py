"""Provenance of use: which source partitions a subset, an RL stage or a score was *trained on*, as
opposed to everything it read (a subset reads the whole pool to choose from it). `redstar lineage
--downstream` follows these edges only, so "what is tainted if source X is bad?" names only what learned
from X. Training materializations record `trained_on` ({upstream asset: {partition: data version}}) and,
where rows are counted per source, `trained_on_rows` ({source: rows})."""

from __future__ import annotations

from typing import Any

import dagster as dg
import polars as pl

from redstar_assets.config.asset_keys import VERIFIED_TRACES

# Where a training stage's rows come from: the verified traces of each source.
TRAINED_FROM = VERIFIED_TRACES


def scan_by_source(store, sources: list[str], columns: list[str] | None = None) -> pl.LazyFrame:
    """The verified traces of `sources` as one lazy table with a `source` column (its partition)."""
    frames = []
    for source in sources:
        scan = pl.scan_parquet(store.path(TRAINED_FROM, source))
        frames.append((scan.select(columns) if columns else scan).with_columns(pl.lit(source).alias("source")))
    return pl.concat(frames, how="diagonal_relaxed")


def rows_by_source(frame: pl.DataFrame) -> dict[str, int]:
    """Row counts per `source` of the rows a stage chose, sources with no row left out."""
    if frame.height == 0:
        return {}
    return {r["source"]: r["len"] for r in frame.group_by("source").len().sort("source").to_dicts()}


def problems_by_source(chosen_ids: pl.Series, sourced: pl.LazyFrame) -> dict[str, int]:
    """Of the problem ids a stage chose (DPO pairs, GRPO problems), how many each source holds."""
    rows = (
        sourced.select("problem_id", "source")
        .unique()
        .filter(pl.col("problem_id").is_in(chosen_ids.implode()))
        .collect()
    )
    return rows_by_source(rows)


def trained_on_metadata(inputs: dict[str, dict[str, Any]], rows: dict[str, int] | None = None) -> dict[str, Any]:
    """The `trained_on` (and `trained_on_rows`) metadata entries of one materialization."""
    meta: dict[str, Any] = {"trained_on": dg.MetadataValue.json(inputs)}
    if rows is not None:
        meta["trained_on_rows"] = dg.MetadataValue.json(rows)
    return meta


def source_versions(store, rows: dict[str, int]) -> dict[str, str | None]:
    """{source: its verified traces' data version} for the sources that contributed rows."""
    return {source: store.version(TRAINED_FROM, source) for source in sorted(rows)}
