"""Preference pairs for DPO: a verified-correct and a wrong trace of the same problem.

The pairs are chosen on one small row per trace (no text); the two texts of each pair are then read
from the verified files a batch at a time and written as they complete, so a million traces are
never in memory together."""

from __future__ import annotations

from pathlib import Path

import polars as pl

PAIR_SCHEMA = {
    "problem_id": pl.String,
    "prompt": pl.String,
    "chosen": pl.String,
    "chosen_id": pl.String,
    "rejected": pl.String,
    "rejected_id": pl.String,
}


def pair_ids(verified: pl.DataFrame | pl.LazyFrame, max_pairs: int | None = None) -> pl.DataFrame:
    """One pair per problem that has both verdicts, its first correct and first wrong sample, as
    (problem_id, chosen_id, rejected_id) sorted by problem id; reads only the verdict columns."""
    usable = (
        verified.lazy()
        .select("problem_id", "trace_id", "status", "sample_index")
        .filter(pl.col("status").is_in(["correct", "wrong"]))
    )
    first = usable.sort("sample_index").group_by(["problem_id", "status"], maintain_order=True).first()
    chosen = first.filter(pl.col("status") == "correct").select("problem_id", pl.col("trace_id").alias("chosen_id"))
    rejected = first.filter(pl.col("status") == "wrong").select("problem_id", pl.col("trace_id").alias("rejected_id"))
    pairs = chosen.join(rejected, on="problem_id").sort("problem_id")
    return (pairs.head(max_pairs) if max_pairs else pairs).collect()


def online_rl_problems(verified: pl.LazyFrame, max_problems: int | None) -> pl.DataFrame:
    """The problems an online RL method trains on: those DPO pairs are drawn from first (a correct
    and a wrong trace: the teacher's answers differ, so sampled rewards can too), then the rest, each
    group by problem id, without problems lacking a reference answer. With `max_problems` equal to
    DPO's `max_pairs`, every RL arm trains on the same problem ids."""
    paired = pair_ids(verified).select("problem_id", pl.lit(0).alias("rank"))
    problems = (
        verified.select("problem_id", "problem", "answer")
        .filter(pl.col("answer").is_not_null())  # an imported problem with no reference has no reward
        .unique(subset="problem_id", keep="first")
        .join(paired.lazy(), on="problem_id", how="left")
        .with_columns(pl.col("rank").fill_null(1))
        .sort("rank", "problem_id")
        .drop("rank")
    )
    return (problems.head(max_problems) if max_problems else problems).collect()


def write_pairs(files: list[Path], ids: pl.DataFrame, writer, batch_rows: int = 10_000) -> int:
    """Writes the pairs `ids` names with their texts, read from the verified `files` a batch at a
    time; a pair is written as soon as both of its traces have been read (in the files' order, which
    keeps a problem's samples together). Returns the number of pairs written."""
    from redstar_assets.traces.verification import read_chosen

    role = dict(zip(ids["chosen_id"], ["chosen"] * ids.height, strict=True))
    role |= dict(zip(ids["rejected_id"], ["rejected"] * ids.height, strict=True))
    wanted = pl.Series(list(role), dtype=pl.String)
    open_pairs: dict[str, dict] = {}
    written = 0
    for path in files:
        for batch in read_chosen(path, wanted, ["trace_id", "problem_id", "problem", "text"], batch_rows):
            done = []
            for trace_id, problem_id, problem, text in batch.iter_rows():
                pair = open_pairs.setdefault(problem_id, {"problem_id": problem_id, "prompt": problem})
                pair[role[trace_id]], pair[f"{role[trace_id]}_id"] = text, trace_id
                if "chosen" in pair and "rejected" in pair:
                    done.append(open_pairs.pop(problem_id))
            if done:
                writer.write(pl.DataFrame(done, schema=PAIR_SCHEMA))
                written += len(done)
    if written == 0:
        writer.write(pl.DataFrame(schema=PAIR_SCHEMA))
    return written
