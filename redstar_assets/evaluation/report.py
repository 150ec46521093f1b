"""The ablation table and scaling plot, assembled from the experiments' recorded lineage."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import polars as pl

from redstar_assets.config.sections import Profile
from redstar_assets.evaluation.plots import Plot, figure, save_png
from redstar_assets.lineage.metadata import cell_text
from redstar_assets.lineage.records import latest_materialization
from redstar_assets.lineage.walk import walk
from redstar_assets.storage import Store


def _subset_from_lineage(instance: dg.DagsterInstance, experiment: str) -> tuple[dict, str | None]:
    """The recipe and content hash of the subset behind a score, as recorded in the instance."""
    stack = [walk(instance, "benchmark_scores", experiment)]
    while stack:
        node = stack.pop()
        if node.asset == "sft_subsets" and not node.missing:
            return node.config, node.data_version
        stack.extend(node.upstream)
    return {}, None


def ablation_table(instance: dg.DagsterInstance, store: Store, profile: Profile) -> pl.DataFrame:
    """One row per (experiment, stage, benchmark): the experiment's axes (subset scale, difficulty
    strategy, domain mix, target format, base model) read from lineage, and the score with n and stderr."""
    rows = []
    for exp in profile.experiments:
        record = latest_materialization(instance, "benchmark_scores", exp.name)
        if record is None or not store.exists("benchmark_scores", exp.name):
            continue
        recipe, subset_hash = _subset_from_lineage(instance, exp.name) if exp.subset else ({}, None)
        for s in store.read("benchmark_scores", exp.name).iter_rows(named=True):
            trained = s["stage"] != "base" and bool(recipe)
            mix = recipe.get("mix") if trained else None
            rows.append(
                {
                    "experiment": exp.name,
                    "arm": exp.arm,
                    "training_seed": exp.seed,
                    "stage": s["stage"],
                    "base_model": exp.base_model,
                    "scale": recipe.get("scale", 0) if trained else 0,
                    "strategy": recipe.get("strategy", "none") if trained else "none",
                    "mix": ", ".join(f"{d} {v:g}" for d, v in sorted(mix.items()))
                    if mix
                    else ("all" if trained else "none"),
                    "target_format": recipe.get("target_format", "none") if trained else "none",
                    "benchmark": s["benchmark"],
                    "pass_at_1": s["pass_at_1"],
                    "avg_at_n": s["avg_at_n"],
                    "n": s["n"],
                    "stderr": s["stderr"],
                    "stderr_items": s.get("stderr_items"),
                    "num_problems": s["num_problems"],
                    "subset_hash": subset_hash if trained else None,
                    "scored_run_id": record.run_id,
                    "scored_at": record.timestamp,
                }
            )
    return pl.DataFrame(rows, infer_schema_length=None)


ARM_AXES = ["arm", "stage", "base_model", "scale", "strategy", "mix", "target_format", "benchmark"]


def arm_summary(table: pl.DataFrame) -> pl.DataFrame:
    """One row per (arm, stage, benchmark): the mean over its training seeds of greedy pass@1 and of
    avg@n, with their standard errors across seeds (null with one seed) beside the mean standard error
    across items within a run: the two sources of noise shown apart."""
    if table.height == 0:
        return table
    items = pl.col("stderr_items") if "stderr_items" in table.columns else pl.lit(None, dtype=pl.Float64)
    return (
        table.with_columns(items.alias("_items"))
        .group_by(ARM_AXES, maintain_order=True)
        .agg(
            pl.len().alias("seeds"),
            pl.col("pass_at_1").mean(),
            (pl.col("pass_at_1").std() / pl.len().sqrt()).alias("pass_at_1_se_seeds"),
            pl.col("avg_at_n").mean(),
            (pl.col("avg_at_n").std() / pl.len().sqrt()).alias("avg_at_n_se_seeds"),
            pl.col("_items").mean().alias("avg_at_n_se_items"),
            pl.col("n").first(),
        )
    )


def benchmark_matrix(arms: pl.DataFrame, benchmarks: list[str]) -> pl.DataFrame:
    """Each (arm, stage) as one row and each benchmark as a column, in the profile's order ("pass@1 /
    avg@n (standard error across seeds)", means over seeds; "-" where it was not scored): with several
    domains, the off-diagonal cells are the transfer beside the mixed arm's."""
    columns = ("pass_at_1", "avg_at_n", "avg_at_n_se_seeds")
    rows = arms.with_columns(
        pl.format(
            "{} / {} ({})",
            *[pl.col(c).map_elements(cell_text, return_dtype=pl.String).fill_null("n/a") for c in columns],
        ).alias("cell")
    )
    index = ["arm", "stage", "mix", "target_format"]
    wide = rows.pivot(on="benchmark", index=index, values="cell")
    return wide.select(*index, *[b for b in benchmarks if b in wide.columns]).fill_null("-")


def plot_scaling(table: pl.DataFrame, path: Path) -> Plot:
    """Score against subset scale per benchmark, each arm's mean over its training seeds with the
    standard error across seeds as error bars: the random long-CoT ladder as a line, other arms as points."""
    import matplotlib.ticker

    plt = figure()

    benchmarks = table["benchmark"].unique(maintain_order=True).to_list() if table.height else []
    scales = sorted(s for s in table["scale"].unique().to_list() if s > 0) if table.height else []
    fig, axes = plt.subplots(1, max(1, len(benchmarks)), figsize=(5 * max(1, len(benchmarks)), 3.8), squeeze=False)
    for ax, bench in zip(axes[0], benchmarks, strict=False):
        rows = table.filter(pl.col("benchmark") == bench)
        ladder = rows.filter(
            (pl.col("stage") == "sft") & (pl.col("strategy") == "random") & (pl.col("target_format") == "long_cot")
        ).sort("scale")
        ax.errorbar(ladder["scale"], ladder["pass_at_1"], yerr=_seed_errors(ladder), fmt="o-", capsize=3,
                    label="SFT long-CoT, random")  # fmt: skip
        for label, cond, marker, color in [
            ("SFT long-CoT, hard-first", (pl.col("stage") == "sft") & (pl.col("strategy") == "hard_first"), "s", "C3"),
            ("SFT answer-only", (pl.col("stage") == "sft") & (pl.col("target_format") == "answer_only"), "x", "C1"),
            ("SFT + DPO", pl.col("stage") == "rl", "^", "C2"),
        ]:
            arm = rows.filter(cond)
            if arm.height:
                ax.errorbar(arm["scale"], arm["pass_at_1"], yerr=_seed_errors(arm), fmt=marker, markersize=7,
                            capsize=3, label=label, color=color, zorder=3)  # fmt: skip
        for base in rows.filter(pl.col("stage") == "base").iter_rows(named=True):
            ax.axhline(base["pass_at_1"], ls="--", color="grey", label=f"untrained ({base['arm']})")
        ax.set_xscale("log")
        ax.set_xticks(scales, [f"{x // 1000}k" if x >= 1000 and x % 1000 == 0 else str(x) for x in scales])
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("subset scale (training traces)")
        ax.set_ylabel("pass@1 (greedy), mean over seeds")
        ax.set_title(bench)
        ax.grid(alpha=0.3)
    if benchmarks:
        axes[0][0].legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return save_png(fig, path, "score vs scale")


def _seed_errors(rows: pl.DataFrame) -> list[float]:
    """Each arm's standard error of greedy pass@1 across its seeds; 0 where it has one seed."""
    return [e or 0.0 for e in rows["pass_at_1_se_seeds"].to_list()]


def plot_strategies(table: pl.DataFrame, path: Path) -> Plot:
    """Trained arms side by side per benchmark (strategy, format and stage at their scale), their mean
    over seeds with the standard error across seeds as error bars: the strategy comparison."""
    plt = figure()
    arms = table.filter(pl.col("stage") != "base") if table.height else table
    benchmarks = arms["benchmark"].unique(maintain_order=True).to_list() if arms.height else []
    fig, axes = plt.subplots(1, max(1, len(benchmarks)), figsize=(5 * max(1, len(benchmarks)), 3.8), squeeze=False)
    for ax, bench in zip(axes[0], benchmarks, strict=False):
        rows = arms.filter(pl.col("benchmark") == bench).sort(["scale", "strategy", "stage"])
        labels = [
            f"{r['strategy']}/{r['target_format']}\n{r['stage']} {r['scale']}" for r in rows.iter_rows(named=True)
        ]
        errors = _seed_errors(rows)
        ax.bar(range(rows.height), rows["pass_at_1"].to_list(), yerr=errors, color="C0", capsize=3)
        ax.set_xticks(range(rows.height), labels, fontsize=6, rotation=45, ha="right")
        ax.set_ylim(0, 1.02)
        ax.set_ylabel("pass@1 (greedy)")
        ax.set_title(bench)
    fig.tight_layout()
    return save_png(fig, path, "strategy comparison")
