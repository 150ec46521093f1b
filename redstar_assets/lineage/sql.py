"""`redstar query "SQL"`: DuckDB over the `lineage` table and the stage tables, read from their Parquet
files under the data root; it imports neither Dagster nor the pipeline, so it answers quickly. The
connection cannot write anywhere: each view is an Arrow dataset registered in memory, then file system
access is switched off and the configuration locked, so `COPY ... TO`, `ATTACH`,
`read_parquet('elsewhere')` and `INSTALL` all fail with DuckDB's permission error."""

from __future__ import annotations

import csv
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path


class QueryError(Exception):
    """Bad SQL, an unknown view or column, or a bad --plot spec: DuckDB's message, the views listed."""


@dataclass(frozen=True)
class View:
    name: str
    asset: str
    file: str  # the table's name (a glob) in each partition folder ("data", "ids", "eval/outputs")
    partition: str | None  # the column the partition folder becomes, when the table lacks it
    about: str


VIEWS = (
    View("lineage", "lineage", "data", None, "one row per (experiment, stage, benchmark) per scores materialization"),
    View("scores", "benchmark_scores", "data", None, "the latest scores of each experiment"),
    View("eval_outputs", "benchmark_scores", "eval/outputs", "experiment", "every generated output with its verdict"),
    View(
        "heldout", "benchmark_scores", "benchmark-*", "experiment", "the held-out items each experiment was scored on"
    ),
    View("arms", "ablation_report", "arms", None, "each arm's scores: means over its training seeds, errors"),
    View("comparisons", "ablation_report", "comparisons", None, "arms differing in one factor: paired test, verdict"),
    View("problems", "problems", "data", "source", "curated problems, one partition per source"),
    View("quarantine", "raw_problems", "quarantine", "source", "rows quarantined at ingestion (file, line, reason)"),
    View("traces", "verified_traces", "data", "source", "teacher traces with their verdicts and quality flags"),
    View("difficulty", "difficulty_scores", "data", "source", "per problem: pass rate, length, bucket"),
    View("subset_ids", "sft_subsets", "ids", "subset", "each subset's trace ids, problem ids and sources"),
)


class _WithoutPandas:
    """An import hook that makes `import pandas` fail: `pyarrow.dataset` imports pandas when it loads
    only to see whether it is there, which costs most of a short query's time, and no query needs it."""

    def find_spec(self, name, path=None, target=None):
        if name == "pandas" or name.startswith("pandas."):
            raise ImportError("pandas is not loaded by redstar query")
        return None


def _arrow_dataset():
    """`pyarrow.dataset`, loaded without pandas unless something in this process loaded it already."""
    if "pyarrow.dataset" not in sys.modules and "pandas" not in sys.modules:
        hook = _WithoutPandas()
        sys.meta_path.insert(0, hook)
        try:
            import pyarrow.dataset
        finally:
            sys.meta_path.remove(hook)
    import pyarrow.dataset

    return pyarrow.dataset


def _dataset(root: Path, view: View):
    """The view's Parquet files as one Arrow dataset (schemas unified, the folder as a column), or None."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    ds = _arrow_dataset()

    base = root / view.asset
    files = sorted(str(p) for p in base.glob(f"*/{view.file}.parquet")) if base.is_dir() else []
    if not files:
        return None
    schema = pa.unify_schemas([pq.read_schema(f) for f in files], promote_options="permissive")
    partitioning = None
    if view.partition and view.partition not in schema.names:
        schema = schema.append(pa.field(view.partition, pa.string()))
        partitioning = ds.DirectoryPartitioning(pa.schema([(view.partition, pa.string())]))
    return ds.dataset(files, schema=schema, format="parquet", partitioning=partitioning, partition_base_dir=str(base))


def connect(root: str | Path, sql: str | None = None):
    """A read-only DuckDB connection with a view per table that exists (only those `sql` names, when
    given: a query over `lineage` does not open every trace file); returns (connection, names)."""
    import duckdb

    con = duckdb.connect(":memory:")
    present = []
    words = set(re.findall(r"[a-z_]+", sql.lower())) if sql else None
    for view in VIEWS:
        if words is not None and view.name not in words:
            continue
        dataset = _dataset(Path(root), view)
        if dataset is not None:
            con.register(view.name, dataset)
            present.append(view.name)
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con, present


def views_text(con, present: list[str]) -> str:
    lines = ["views:"]
    for view in VIEWS:
        if view.name in present:
            columns = [r[0] for r in con.execute(f"DESCRIBE {view.name}").fetchall()]
            lines.append(f"  {view.name:<13} {view.about}\n  {'':<13} columns: {', '.join(columns)}")
        else:
            lines.append(f"  {view.name:<13} (not written yet) {view.about}")
    return "\n".join(lines)


def run_query(root: str | Path, sql: str) -> tuple[list[str], list[tuple]]:
    """(column names, rows) of `sql`; QueryError carries DuckDB's message and the views."""
    import duckdb

    con, _ = connect(root, sql)
    try:
        cursor = con.execute(sql)
        if cursor.description is None:
            return [], []
        return [d[0] for d in cursor.description], cursor.fetchall()
    except duckdb.Error as exc:
        every, present = connect(root)
        raise QueryError(f"{exc}\n\n{views_text(every, present)}") from None


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def aligned(columns: list[str], rows: list[tuple]) -> str:
    """A plain-text table: numbers right-aligned, text left, a rule under the header."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    numeric = [all(isinstance(r[i], (int, float)) or r[i] is None for r in rows) and rows for i in range(len(columns))]

    def line(values):
        return "  ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True))

    out = [line(columns), "  ".join("-" * w for w in widths)] + [line(r) for r in cells]
    return "\n".join(s.rstrip() for s in out) + f"\n({len(rows)} row{'s' if len(rows) != 1 else ''})"


def plot(columns: list[str], rows: list[tuple], spec: str, out: Path) -> Path:
    """`x=COL y=COL [by=COL]`: one line of y against x per value of `by`, written as a PNG."""
    from redstar_assets.evaluation.plots import figure, save_png

    parts = dict(p.split("=", 1) for p in spec.replace(",", " ").split() if "=" in p)
    unknown = [v for k, v in parts.items() if k in ("x", "y", "by") and v not in columns]
    if "x" not in parts or "y" not in parts or unknown or set(parts) - {"x", "y", "by"}:
        raise QueryError(f"--plot wants x=COL y=COL [by=COL] over the result's columns {columns}; got {spec!r}")
    x, y = columns.index(parts["x"]), columns.index(parts["y"])
    by = columns.index(parts["by"]) if "by" in parts else None
    groups: dict = {}
    for row in rows:
        groups.setdefault(row[by] if by is not None else parts["y"], []).append((row[x], row[y]))
    fig, ax = figure().subplots(figsize=(6, 4))
    for label, points in sorted(groups.items(), key=lambda kv: str(kv[0])):
        points = sorted((p for p in points if p[0] is not None and p[1] is not None), key=lambda p: p[0])
        ax.plot([p[0] for p in points], [p[1] for p in points], "o-", label=str(label))
    ax.set_xlabel(parts["x"])
    ax.set_ylabel(parts["y"])
    if by is not None:
        ax.legend(title=parts["by"], fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return save_png(fig, out, "query plot").path


def main(root: str | Path, sql: str | None, fmt: str, plot_spec: str | None, out: str, list_views: bool) -> int:
    """The command: prints the result (or writes the plot); exit 2 with the message on bad input."""
    try:
        if list_views or not sql:
            con, present = connect(root)
            print(f"data root {Path(root).resolve()}\n{views_text(con, present)}")
            return 0 if list_views else 2
        columns, rows = run_query(root, sql)
        if plot_spec:
            print(f"wrote {plot(columns, rows, plot_spec, Path(out))}")
        elif fmt == "csv":
            writer = csv.writer(sys.stdout)
            writer.writerow(columns)
            writer.writerows(rows)
        elif fmt == "json":
            print(json.dumps([dict(zip(columns, r, strict=True)) for r in rows], indent=1, default=str))
        else:
            print(aligned(columns, rows))
    except QueryError as exc:
        print(f"redstar query: {exc}", file=sys.stderr)
        return 2
    return 0
