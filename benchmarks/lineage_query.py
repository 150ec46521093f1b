"""`redstar query` wall time over a 5,000-row lineage table, start-up included, against the bare
start-up of Python with DuckDB measured in the same run (the floor any query command pays).

    python benchmarks/lineage_query.py [--rows 5000] [--repeats 5]

The table has the `lineage` asset's schema (`LINEAGE_SCHEMA`), filled with generated experiments:
5 strategies x 10 scales x 2 stages x 5 benchmarks x 10 re-materializations. The queries are the
README's scale curve (a filter, sort and projection) and a group-by over all rows. Writes
benchmarks/results/lineage_query.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUERIES = {
    "scale_curve": "SELECT base_model, strategy, benchmark, scale, pass_at_1, stderr FROM lineage "
    "WHERE latest AND stage = 'sft' ORDER BY base_model, strategy, benchmark, scale",
    "group_by": "SELECT strategy, stage, count(*) AS n, avg(pass_at_1) AS mean FROM lineage GROUP BY ALL ORDER BY ALL",
}


def lineage_table(rows: int, seed: int = 0):
    import polars as pl

    from redstar_assets.lineage.table import CHAIN, LINEAGE_SCHEMA

    rng = random.Random(seed)
    strategies = ["random", "hard_first", "band", "stratified", "random-mix"]
    scales = [1000 * 2**i for i in range(10)]
    out, when = [], datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    for i in range(rows):
        strategy, scale = strategies[i % 5], scales[(i // 5) % 10]
        stage, benchmark, round_ = ("sft", "rl")[(i // 50) % 2], f"bench-{(i // 100) % 5}", i // 500
        out.append(
            {
                "experiment": f"{strategy}-{scale}",
                "stage": stage,
                "benchmark": benchmark,
                "pass_at_1": rng.random(),
                "avg_at_n": rng.random(),
                "n": 4,
                "stderr": rng.random() / 10,
                "num_problems": 500,
                "checkpoint_hash": f"{rng.getrandbits(64):016x}",
                "base_model": "qwen2.5-7b",
                "strategy": strategy,
                "scale": scale,
                "target_format": "long_cot",
                "subset_hash": f"{rng.getrandbits(64):016x}",
                "trained_on": [{"source": "numina", "rows": scale, "data_version": "abc"}],
                "teacher_model": "Qwen/QwQ-32B-Preview",
                "code_versions": dict.fromkeys(CHAIN, "v1"),
                "scored_at": when + datetime.timedelta(hours=round_),
                "latest": round_ == rows // 500 - 1,
            }
        )
    return pl.DataFrame(out, schema=LINEAGE_SCHEMA)


def timed(argv: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory() as tmp:
        table = lineage_table(args.rows)
        (Path(tmp) / "lineage" / "_").mkdir(parents=True)
        table.write_parquet(Path(tmp) / "lineage" / "_" / "data.parquet")
        env = {**os.environ, "REDSTAR_HOME": tmp}
        redstar = [sys.executable, "-m", "redstar_assets.cli.main", "query"]
        floor = [sys.executable, "-c", "import duckdb"]
        results = {}
        for name, sql in QUERIES.items():
            query_s, floor_s = [], []
            for _ in range(args.repeats):  # alternated, so both see the same machine
                query_s.append(timed([*redstar, sql], env))
                floor_s.append(timed(floor, env))
            results[name] = {
                "query_s_median": round(statistics.median(query_s), 3),
                "query_s_max": round(max(query_s), 3),
                "python_duckdb_start_s_median": round(statistics.median(floor_s), 3),
                "ratio_to_start": round(statistics.median(query_s) / statistics.median(floor_s), 2),
            }
            print(f"{name}: {results[name]}")
    out = ROOT / "benchmarks" / "results" / "lineage_query.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"rows": args.rows, "repeats": args.repeats, "queries": results}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
