"""Curation over trace files too large for memory (the paper's 1M traces): the trace text is only
ever read in row batches (quality flags) or streamed by DuckDB (writing a subset), and everything
kept in memory is one small row per trace.

Measured here on 1M traces of ~8 KB (issue notes): Polars eager reads of such a file take ~10 GB;
DuckDB COPY with a memory limit and `preserve_insertion_order=false` stays near 1 GB."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from redstar_assets.traces.quality import QualitySpec, with_quality_flags

FLAG_COLUMNS = [
    "trace_id",
    "problem_id",
    "sample_index",
    "status",
    "finish_reason",
    "chars",
    "quality_flags",
    "quality_ok",
]


def trace_flags(traces: str | Path, spec: QualitySpec, batch_rows: int = 20_000) -> pl.DataFrame:
    """One row per trace (no text): its verdict, length and quality flags, computed batch by batch
    (Polars reads only the row groups of each slice; nothing of a batch's text outlives it)."""
    meta = pq.ParquetFile(traces)
    names, total = meta.schema_arrow.names, meta.metadata.num_rows
    columns = [
        c
        for c in ("trace_id", "problem_id", "sample_index", "status", "finish_reason", "text", "problem")
        if c in names
    ]
    lazy = pl.scan_parquet(traces).select(columns)
    parts = []
    for offset in range(0, total, batch_rows):
        frame = lazy.slice(offset, batch_rows).collect()
        if "problem" not in frame.columns:
            frame = frame.with_columns(pl.lit("").alias("problem"))
        flagged = with_quality_flags(frame, spec).with_columns(pl.col("text").str.len_chars().alias("chars"))
        parts.append(flagged.select(FLAG_COLUMNS).rechunk())
        del frame, flagged
    return pl.concat(parts) if parts else pl.DataFrame(schema={c: pl.String for c in FLAG_COLUMNS})


def write_subset(
    traces: str | Path | list,
    trace_ids: list[str],
    out: str | Path,
    target_format: str = "long_cot",
    problems: pl.DataFrame | None = None,
    memory_limit: str = "2GB",
) -> int:
    """Writes the chosen traces, in trace id order, as chat `messages` Parquet (what
    `datasets.load_dataset("parquet")` and TRL read), streaming the text through DuckDB; returns the
    row count. The prompt is the trace file's `problem` (or `problems`' when given); the assistant
    turn is the trace for long_cot and `\\boxed{answer}` (the verifier's extracted answer) for
    answer_only, as `subsets.target_text` makes it."""
    import duckdb

    files = [Path(t).as_posix() for t in (traces if isinstance(traces, list) else [traces])]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".parquet.tmp")
    con = duckdb.connect()
    con.execute(f"SET memory_limit='{memory_limit}'")
    con.execute(f"SET temp_directory='{(out.parent / '.duckdb-spill').as_posix()}'")  # the sort spills here
    con.execute("SET preserve_insertion_order=false")
    con.execute("SET threads=2")
    con.register("chosen", pl.DataFrame({"trace_id": sorted(trace_ids)}, schema={"trace_id": pl.String}).to_arrow())
    assistant = "t.text" if target_format == "long_cot" else "'\\boxed{' || coalesce(t.extracted, '') || '}'"
    prompt, join = "t.problem", ""
    if problems is not None:
        con.register("prompts", problems.select("problem_id", "problem").to_arrow())
        prompt, join = "p.problem", "JOIN prompts p USING (problem_id)"
    source = "read_parquet([" + ", ".join(f"'{f}'" for f in files) + "], union_by_name = true)"
    con.execute(
        f"""COPY (
            SELECT t.trace_id, t.problem_id,
                   [{{'role': 'user', 'content': {prompt}}}, {{'role': 'assistant', 'content': {assistant}}}]
                       AS messages
            FROM {source} t
            JOIN chosen USING (trace_id)
            {join}
            ORDER BY t.trace_id
        ) TO '{tmp.as_posix()}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 10000)"""
    )
    rows = con.execute(f"SELECT count(*) FROM read_parquet('{tmp.as_posix()}')").fetchone()[0]
    con.close()
    tmp.replace(out)
    shutil.rmtree(out.parent / ".duckdb-spill", ignore_errors=True)
    return rows
