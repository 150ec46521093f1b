"""Curation at the paper's scale: 1M synthetic traces (~8 KB each, 250k problems) with defects
planted at known rates, through the whole curation path, on this machine.

    python benchmarks/curation_1m.py generate [--problems 250000] [--out DIR]   # once; ~2.5 GB
    /usr/bin/time -v python benchmarks/curation_1m.py curate [--out DIR]        # timed, peak RSS
    python benchmarks/curation_1m.py pandas [--out DIR] [--sample 100000]       # plain pandas, same steps

Planted: exact duplicates (case/whitespace), near duplicates (a number changed, a word changed,
LaTeX spacing), contaminants (real problems from ../shared/data/benchmarks with small edits),
truncated, repetitive and language-mixed traces. `curate` runs: exact + MinHash near-duplicate
removal, decontamination (13-gram + fuzzy), quality flags streamed in batches, difficulty join,
and a 1000k/220k/21k/4k subset ladder written as chat-messages Parquet through DuckDB; then it
scores the removals against the planted labels (recall, false removals of clean rows).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import time
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "benchmarks"
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "curation_1m"
SAMPLES = 4


def _vocabulary(rng: random.Random, n: int = 20_000) -> list[str]:
    syllables = [c + v for c in "bcdfghjklmnprstvwz" for v in "aeiou"] + ["th", "qu", "st", "ch"]
    words = set()
    while len(words) < n:
        words.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def _problem(rng: random.Random, vocab: list[str]) -> tuple[str, str]:
    a, b, x = rng.randint(2, 99), rng.randint(1, 999), rng.randint(1, 99)
    words = " ".join(rng.choice(vocab) for _ in range(rng.randint(35, 60)))
    return f"{words.capitalize()}. If ${a}x + {b} = {a * x + b}$, what is $x$?", str(x)


def _edit(text: str, rng: random.Random, vocab: list[str]) -> tuple[str, str]:
    kind = rng.choice(["number", "word", "spacing"])
    if kind == "number":
        digits = [i for i, c in enumerate(text) if c.isdigit()]
        i = rng.choice(digits) if digits else 0
        return text[:i] + str((int(text[i]) + 1) % 10 if text[i : i + 1].isdigit() else 7) + text[i + 1 :], kind
    if kind == "word":
        words = text.split(" ")
        words[rng.randrange(len(words))] = rng.choice(vocab)
        return " ".join(words), kind
    return text.replace(" ", "  ").replace("$", "$\\, ", 1), kind


def generate(out: Path, n_problems: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    vocab = _vocabulary(rng)
    n_base = int(n_problems * 0.96)
    problems, labels = [], []
    for i in range(n_base):
        text, answer = _problem(rng, vocab)
        problems.append({"problem_id": f"p{i:07d}", "problem": text, "answer": answer})
        labels.append({"problem_id": f"p{i:07d}", "defect": "clean", "detail": ""})
    bench = [
        json.loads(line)[k]
        for f, k in (
            ("math500.jsonl", "problem"),
            ("aime2024.jsonl", "problem"),
            ("aime2025.jsonl", "problem"),
            ("amc2023.jsonl", "problem"),
            ("olympiadbench.jsonl", "question"),
            ("gsm8k.jsonl", "question"),
        )
        for line in (SHARED / f).open()
    ]
    for j in range(n_problems - n_base):
        pid = f"d{j:07d}"
        roll = j % 4
        if roll == 0:  # exact duplicate up to case and whitespace
            src = problems[rng.randrange(n_base)]
            text, defect, detail = "  " + src["problem"].upper() + " ", "exact_duplicate", src["problem_id"]
        elif roll == 1 or roll == 2:  # near duplicate
            src = problems[rng.randrange(n_base)]
            text, kind = _edit(src["problem"], rng, vocab)
            defect, detail = "near_duplicate", f"{src['problem_id']} ({kind})"
        else:  # contaminant: a real benchmark problem with a small edit
            text, kind = _edit(rng.choice(bench), rng, vocab)
            defect, detail = "contaminated", kind
        problems.append({"problem_id": pid, "problem": text, "answer": "1"})
        labels.append({"problem_id": pid, "defect": defect, "detail": detail})
    out.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(problems).write_parquet(out / "problems.parquet")
    pl.DataFrame(labels).write_parquet(out / "problem_labels.parquet")

    paragraphs = [" ".join(rng.choice(vocab) for _ in range(160)) + "." for _ in range(3000)]
    loop = "Wait, let me recompute that step once more to be sure it is right. "
    cjk = "我们需要仔细计算这个方程的解然后检查答案是否正确" * 20
    schema = pa.schema(
        [
            ("trace_id", pa.string()),
            ("problem_id", pa.string()),
            ("sample_index", pa.int64()),
            ("text", pa.string()),
            ("finish_reason", pa.string()),
            ("status", pa.string()),
            ("defect", pa.string()),
        ]
    )
    writer = pq.ParquetWriter(out / "traces.parquet", schema, compression="zstd")
    batch: dict[str, list] = {name: [] for name in schema.names}
    n = 0
    for p in problems:
        for k in range(SAMPLES):
            roll = rng.random()
            body = "\n".join(rng.choice(paragraphs) for _ in range(7))
            answer = p["answer"] if rng.random() < 0.7 else str(int(p["answer"]) + 1)
            status, finish, defect = ("correct" if answer == p["answer"] else "wrong"), "stop", "clean"
            text = f"<think>\n{body}\n</think>\nSo $x = {answer}$.\n\\boxed{{{answer}}}"
            if roll < 0.02:
                text, finish, status, defect = f"<think>\n{body}", "length", "no_answer", "truncated"
            elif roll < 0.04:
                text, defect = f"<think>\n{loop * 120}\n</think>\n\\boxed{{{answer}}}", "repetitive"
            elif roll < 0.045:
                text, defect = f"<think>\n{body[:3000]}\n{cjk}\n</think>\n\\boxed{{{answer}}}", "language_mixed"
            for name, value in zip(
                schema.names, (f"t{n:08d}", p["problem_id"], k, text, finish, status, defect), strict=True
            ):
                batch[name].append(value)
            n += 1
            if len(batch["trace_id"]) == 10_000:
                writer.write_table(pa.table(batch, schema=schema))
                batch = {name: [] for name in schema.names}
    if batch["trace_id"]:
        writer.write_table(pa.table(batch, schema=schema))
    writer.close()


def curate(out: Path) -> dict:
    from redstar_assets.curation.at_scale import trace_flags, write_subset
    from redstar_assets.curation.decontaminate import ContaminationIndex, decontaminate
    from redstar_assets.curation.dedupe import near_duplicates
    from redstar_assets.curation.difficulty import score_difficulty
    from redstar_assets.curation.subsets import select_traces
    from redstar_assets.problems.normalize import normalize_text
    from redstar_assets.problems.registry import load_benchmark
    from redstar_assets.profile import SubsetRecipe
    from redstar_assets.traces.quality import QualitySpec

    timings: dict[str, float] = {}
    peaks: dict[str, int] = {}

    def peak(step: str) -> None:
        peaks[step] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024  # MB so far, to find the step

    t0 = time.perf_counter()
    problems = pl.read_parquet(out / "problems.parquet")
    problems = problems.with_columns(pl.col("problem").map_elements(normalize_text, return_dtype=pl.String))
    exact = problems.with_row_index().filter(pl.col("problem").is_first_distinct().not_())
    problems = problems.filter(pl.col("problem").is_first_distinct())
    near = near_duplicates(problems["problem_id"].to_list(), problems["problem"].to_list(), threshold=0.8)
    problems = problems.filter(~pl.col("problem_id").is_in(list(near)))
    timings["dedupe_s"] = time.perf_counter() - t0
    peak("dedupe")

    t = time.perf_counter()
    names = ["math500", "aime2024", "aime2025", "amc2023", "olympiadbench", "gsm8k"]
    index = ContaminationIndex(pl.concat([load_benchmark(n, SHARED) for n in names]))
    problems, contaminated = decontaminate(problems, index)
    timings["decontaminate_s"] = time.perf_counter() - t
    peak("decontaminate")

    t = time.perf_counter()
    flags = trace_flags(out / "traces.parquet", QualitySpec())
    flags = flags.filter(pl.col("problem_id").is_in(problems["problem_id"].implode()))
    timings["quality_flags_s"] = time.perf_counter() - t
    peak("quality_flags")

    t = time.perf_counter()
    verified = flags.join(problems.select("problem_id", pl.lit(None, pl.Int64).alias("level")), on="problem_id")
    verified = verified.with_columns(
        pl.lit("").alias("text"), pl.lit(0).alias("completion_tokens"), pl.lit("math").alias("domain")
    )
    difficulty = score_difficulty(verified.with_columns(pl.col("status")), {"easy": 0.75, "medium": 0.4})
    timings["difficulty_s"] = time.perf_counter() - t
    peak("difficulty")

    f = flags.height / 1_000_000 if flags.height < 900_000 else 1.0  # smaller trial runs cut a scaled ladder
    ladder = {
        "1000k": SubsetRecipe(
            name="1000k", scale=int(1_000_000 * f), verified_only=False, max_per_problem=SAMPLES, cap=True
        ),
        "220k": SubsetRecipe(name="220k", scale=int(220_000 * f), strategy="random", max_per_problem=1),
        "21k": SubsetRecipe(name="21k", scale=int(21_000 * f), strategy="hard_first", max_per_problem=1),
        "4k": SubsetRecipe(name="4k", scale=max(1, int(4_000 * f)), strategy="stratified", max_per_problem=1),
    }
    rungs = {}
    for name, recipe in ladder.items():
        t = time.perf_counter()
        picked = select_traces(verified, difficulty, recipe)
        rows = write_subset(
            out / "traces.parquet", picked["trace_id"].to_list(), out / "subsets" / f"{name}.parquet", problems=problems
        )
        rungs[name] = {"rows": rows, "seconds": round(time.perf_counter() - t, 1)}
        peak(f"subset_{name}")
    timings["total_s"] = time.perf_counter() - t0

    labels = pl.read_parquet(out / "problem_labels.parquet")
    removed = set(exact["problem_id"]) | set(near) | set(contaminated["problem_id"])
    defect_ids = set(labels.filter(pl.col("defect") != "clean")["problem_id"])
    clean_ids = set(labels.filter(pl.col("defect") == "clean")["problem_id"])
    trace_truth = pl.read_parquet(out / "traces.parquet", columns=["trace_id", "defect"])
    judged = flags.join(trace_truth, on="trace_id")
    bad = judged.filter(pl.col("defect") != "clean")
    clean = judged.filter(pl.col("defect") == "clean")
    by_kind = {
        k: round(float(v), 4)
        for k, v in labels.filter(pl.col("defect") != "clean")
        .with_columns(pl.col("problem_id").is_in(list(removed)).alias("caught"))
        .group_by("defect")
        .agg(pl.col("caught").mean())
        .rows()
    }
    result = {
        "problems": labels.height,
        "traces": trace_truth.height,
        "timings_s": {k: round(v, 1) for k, v in timings.items()},
        "peak_rss_mb_after": peaks,
        "rungs": rungs,
        "problem_defects": len(defect_ids),
        "problem_defect_recall": round(len(defect_ids & removed) / len(defect_ids), 4),
        "problem_recall_by_kind": by_kind,
        "clean_problems_removed": round(len(clean_ids & removed) / len(clean_ids), 5),
        "trace_defects": bad.height,
        "trace_defect_recall": round(float((~bad["quality_ok"]).mean()), 4),
        "clean_traces_flagged": round(float((~clean["quality_ok"]).mean()), 5),
    }
    (out / "curate_result.json").write_text(json.dumps(result, indent=2))
    return result


def pandas_curate(out: Path, sample: int) -> dict:
    """The same steps in plain pandas (row-wise apply, pandas joins, pandas to_parquet) on a sample."""
    import pandas as pd

    from redstar_assets.curation.decontaminate import ContaminationIndex
    from redstar_assets.curation.dedupe import near_duplicates
    from redstar_assets.problems.registry import load_benchmark
    from redstar_assets.traces.quality import QualitySpec, quality_flags

    t0 = time.perf_counter()
    traces = pd.read_parquet(out / "traces.parquet").head(sample)
    problems = pd.read_parquet(out / "problems.parquet")
    problems = problems[problems["problem_id"].isin(set(traces["problem_id"]))]
    problems["norm"] = problems["problem"].apply(lambda s: " ".join(s.split()))
    problems = problems.drop_duplicates("norm")
    near = near_duplicates(problems["problem_id"].tolist(), problems["norm"].tolist(), threshold=0.8)
    problems = problems[~problems["problem_id"].isin(near)]
    names = ["math500", "aime2024", "aime2025", "amc2023", "olympiadbench", "gsm8k"]
    index = ContaminationIndex(pl.concat([load_benchmark(n, SHARED) for n in names]))
    problems = problems[problems["problem"].apply(lambda s: index.match(s) is None)]
    traces = traces[traces["problem_id"].isin(set(problems["problem_id"]))]
    spec = QualitySpec()
    traces["flags"] = traces.apply(
        lambda r: quality_flags(r["text"], "", r["finish_reason"], r["status"], spec), axis=1
    )
    traces["ok"] = traces["flags"].apply(len) == 0
    rate = traces.groupby("problem_id")["status"].apply(lambda s: (s == "correct").mean()).rename("rate")
    pool = traces[traces["ok"] & (traces["status"] == "correct")].merge(rate, on="problem_id")
    pool = pool.merge(problems[["problem_id", "problem"]], on="problem_id")
    pool = pool.sort_values(["problem_id", "sample_index"]).groupby("problem_id").head(1)
    sub = pool.sample(min(len(pool), 22_000), random_state=0)
    sub["messages"] = sub.apply(
        lambda r: [{"role": "user", "content": r["problem"]}, {"role": "assistant", "content": r["text"]}], axis=1
    )
    sub[["trace_id", "problem_id", "messages"]].to_parquet(out / "pandas_subset.parquet")
    return {"pandas_seconds": round(time.perf_counter() - t0, 1), "rows": len(traces)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=["generate", "curate", "pandas", "polars-sample"])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--problems", type=int, default=250_000)
    parser.add_argument("--sample", type=int, default=100_000)
    ns = parser.parse_args()
    if not SHARED.exists():
        print(f"curation_1m: {SHARED} is needed for the contaminants and the benchmark index", file=sys.stderr)
        return 2
    started = time.perf_counter()
    if ns.step == "generate":
        generate(ns.out, ns.problems)
        print(
            json.dumps(
                {
                    "generated_s": round(time.perf_counter() - started, 1),
                    "traces_mb": round((ns.out / "traces.parquet").stat().st_size / 2**20),
                }
            )
        )
    elif ns.step == "curate":
        print(json.dumps(curate(ns.out), indent=2))
    elif ns.step == "pandas":
        print(json.dumps(pandas_curate(ns.out, ns.sample)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
