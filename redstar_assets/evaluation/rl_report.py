"""How the RL arms moved from their SFT start along the way: held-out accuracy against RL steps, from
the curve points the benchmark evaluator scored, beside each arm's training reward (the report's
comparisons test where they ended)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from redstar_assets.config.sections import Profile
from redstar_assets.evaluation.fingerprint import split_stage
from redstar_assets.evaluation.plots import Plot, figure, save_png


def _arms(profile: Profile) -> dict[str, tuple[str, str]]:
    """RL experiment -> (its method, "control" added for a control arm, so it gets a colour of its own;
    the experiment whose SFT checkpoint it started from)."""
    out = {}
    for e in profile.experiments:
        if "rl" in e.stages and e.rl:
            recipe = profile.rl_recipes[e.rl]
            out[e.name] = (recipe.method + (" control" if recipe.control else ""), profile.stage_partition(e, "sft"))
    return out


def training_rewards(store, profile: Profile) -> dict[str, list[tuple[int, float]]]:
    """Each trained RL experiment's training reward against step, from its checkpoint's metrics: the
    mean reward of the online methods' samples, DPO's reward accuracy (chosen ranked above rejected)."""
    out: dict[str, list[tuple[int, float]]] = {}
    for exp in _arms(profile):
        metrics = store.folder("rl_checkpoints", exp) / "model" / "redstar_metrics.json"
        if metrics.exists():
            curve = json.loads(metrics.read_text()).get("reward_curve", [])
            out[exp] = [(int(step), float(value)) for step, value in curve]
    return out


def _start(table: pl.DataFrame, start: str, bench: str) -> dict | None:
    rows = table.filter((pl.col("experiment") == start) & (pl.col("stage") == "sft") & (pl.col("benchmark") == bench))
    return rows.row(0, named=True) if rows.height else None


def plot_rl_curves(
    table: pl.DataFrame, profile: Profile, path: Path, rewards: dict[str, list[tuple[int, float]]] | None = None
) -> Plot | None:
    """Held-out pass@1 against RL steps, one line per arm from its SFT start (step 0) through the
    policies kept along the way (stages `rl@N`), and below it each arm's training reward against
    step; None when no arm kept a curve."""
    arms = _arms(profile)
    curve = table.filter(pl.col("stage").str.starts_with("rl@") & pl.col("experiment").is_in(list(arms)))
    if curve.height == 0:
        return None
    plt = figure()
    benchmarks = curve["benchmark"].unique(maintain_order=True).to_list()
    rows = 2 if rewards else 1
    fig, axes = plt.subplots(rows, len(benchmarks), figsize=(5.5 * len(benchmarks), 3.8 * rows), squeeze=False)
    methods = sorted({m for m, _ in arms.values()})
    if rewards:
        _plot_rewards(axes[1][0], rewards, arms, methods)
        for ax in axes[1][1:]:
            ax.set_visible(False)
    for ax, bench in zip(axes[0], benchmarks, strict=True):
        drawn: dict[str, int] = {}  # arms of a method drawn so far: one colour a method, a line style a seed
        for exp, (method, start_name) in sorted(arms.items()):
            points = curve.filter((pl.col("experiment") == exp) & (pl.col("benchmark") == bench))
            if points.height == 0:
                continue
            steps = [split_stage(s)[1] or 0 for s in points["stage"]]
            xy = sorted(zip(steps, points["pass_at_1"].to_list(), strict=True))
            start = _start(table, start_name, bench)
            if start is not None:
                xy = [(0, start["pass_at_1"]), *xy]
            style = ("-", "--", ":", "-.")[drawn.get(method, 0) % 4]
            drawn[method] = drawn.get(method, 0) + 1
            ax.plot([x for x, _ in xy], [y for _, y in xy], marker="o", ls=style, color=f"C{methods.index(method)}",
                    alpha=0.8, label=f"{method} ({exp})")  # fmt: skip
        ax.set_xlabel("RL optimizer steps")
        ax.set_ylabel("pass@1 (greedy)")
        ax.set_title(bench)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return save_png(fig, path, "held-out accuracy against RL steps")


def _plot_rewards(ax, rewards: dict[str, list[tuple[int, float]]], arms: dict[str, tuple[str, str]], methods) -> None:
    """Training reward against step, one line per arm in its method's colour."""
    for exp, points in sorted(rewards.items()):
        if points and exp in arms:
            method = arms[exp][0]
            ax.plot(*zip(*points, strict=True), marker=".", color=f"C{methods.index(method)}", alpha=0.8,
                    label=f"{method} ({exp})")  # fmt: skip
    ax.set_xlabel("RL optimizer steps")
    ax.set_ylabel("training reward (DPO: reward accuracy)")
    ax.set_title("training reward")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
