"""Writing a subset from trace files too large for memory (the paper's 1M traces): the selection is made
on one small row per trace, and the chosen traces' text is read from the verified files a batch at a
time and written as it comes, so memory stays flat whatever the subset's size (docs/results.md compares
the alternatives). Rows keep the files' order (the teacher writes problems in order); the student's
loader puts them in trace id order."""

from __future__ import annotations

from pathlib import Path

import polars as pl


def write_subset(
    traces: str | Path | list,
    trace_ids: list[str],
    out: str | Path,
    target_format: str = "long_cot",
    batch_rows: int = 10_000,
    images: pl.DataFrame | None = None,
) -> int:
    """Writes the chosen traces, in the trace files' order, as chat `messages` Parquet (what
    `datasets.load_dataset("parquet")` and TRL read); returns the row count. The prompt is the trace
    file's `problem`; the assistant turn is the trace for long_cot and, for answer_only, the
    verifier's extracted answer: `\\boxed{answer}`, or a code trace's program fenced, as
    `subsets.target_text` makes it. With `images` (problem_id, image), each row of an image problem
    carries its figure, which a vision student is shown beside the prompt."""
    import pyarrow.parquet as pq

    from redstar_assets.traces.verification import read_chosen

    files = [Path(t) for t in (traces if isinstance(traces, list) else [traces])]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".parquet.tmp")
    if target_format == "long_cot":
        assistant = pl.col("text")
    else:  # the answer alone: a math answer boxed, a code answer as its fenced program
        boxed = pl.lit("\\boxed{") + pl.col("extracted").fill_null("") + pl.lit("}")
        fenced = pl.lit("```python\n") + pl.col("extracted").fill_null("") + pl.lit("\n```")
        assistant = pl.when(pl.col("domain") == "code").then(fenced).otherwise(boxed)
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
    writer, rows = pq.ParquetWriter(tmp, empty.to_arrow().schema, compression="zstd"), 0
    try:
        for path in files:
            for batch in read_chosen(path, chosen, columns, batch_rows):
                part = batch.cast({c: pl.String for c in columns}).select("trace_id", "problem_id", messages)
                if figures is not None:
                    part = part.join(figures, on="problem_id", how="left", maintain_order="left")
                writer.write_table(part.to_arrow(), row_group_size=10_000)
                rows += part.height
    finally:
        writer.close()
    tmp.replace(out)
    return rows
