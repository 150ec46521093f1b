"""Writing a subset from trace files too large for memory (the paper's 1M traces): the chosen traces'
text is read from the verified files a batch at a time and written through the store's table writer
as it comes, so memory stays flat whatever the subset's size. Rows keep the files' order; the
student's loader puts them in trace id order."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from redstar_assets.curation.subsets import answer_only
from redstar_assets.storage import TableWriter


def write_subset(
    traces: str | Path | list,
    trace_ids: list[str],
    writer: TableWriter,
    target_format: str = "long_cot",
    batch_rows: int = 10_000,
    images: pl.DataFrame | None = None,
) -> int:
    """Writes the chosen traces, in the trace files' order, as chat `messages` (what
    `datasets.load_dataset("parquet")` and TRL read) through `writer`, which the caller closes; returns
    the row count. The prompt is the trace's `problem`; the assistant turn is the trace for long_cot,
    else `answer_only` of the verifier's extracted answer. With `images` (problem_id, image), each row
    of an image problem carries its figure for a vision student."""
    from redstar_assets.traces.verification import read_chosen

    files = [Path(t) for t in (traces if isinstance(traces, list) else [traces])]
    if target_format == "long_cot":
        assistant = pl.col("text")
    else:
        assistant = answer_only(pl.col("domain"), pl.col("extracted"))
    messages = pl.concat_list(
        pl.struct(role=pl.lit("user"), content=pl.col("problem")),
        pl.struct(role=pl.lit("assistant"), content=assistant),
    ).alias("messages")
    columns = ["trace_id", "problem_id", "problem", "text", "extracted", "domain"]
    chosen = pl.Series(trace_ids, dtype=pl.String)
    figures = images.filter(pl.col("image").is_not_null()) if images is not None else None
    figures = figures if figures is not None and figures.height else None
    empty = pl.DataFrame(schema={c: pl.String for c in columns}).select("trace_id", "problem_id", messages)
    if figures is not None:
        empty = empty.with_columns(pl.lit(None, dtype=pl.Binary).alias("image"))
    writer.write(empty)  # the schema, for a subset with no rows
    rows = 0
    for path in files:
        for batch in read_chosen(path, chosen, columns, batch_rows):
            part = batch.cast({c: pl.String for c in columns}).select("trace_id", "problem_id", messages)
            if figures is not None:
                part = part.join(figures, on="problem_id", how="left", maintain_order="left")
            writer.write(part)
            rows += part.height
    return rows
