"""The ablation's claims as paired comparisons: the arms that differ in one factor (a scale step,
hard-first against random, a mix against each of its domains, long-CoT against answer-only, an RL
method against its start and against its family's control, long-CoT against the untrained model),
each tested per item over the same held-out items with every training seed and sample pooled, with
an interval and a verdict."""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import pairwise

import polars as pl

from redstar_assets.config.sections import Experiment, Profile
from redstar_assets.evaluation.paired_test import ComparisonRefused, paired_comparison
from redstar_assets.evaluation.stamps import stamp_differences
from redstar_assets.storage import Store

LEVEL = 0.05
COMPARISON_COLUMNS = {
    "comparison": pl.String,
    "a": pl.String,
    "b": pl.String,
    "benchmark": pl.String,
    "metric": pl.String,
    "seeds_a": pl.Int64,
    "seeds_b": pl.Int64,
    "items": pl.Int64,
    "mean_a": pl.Float64,
    "mean_b": pl.Float64,
    "difference": pl.Float64,
    "item_difference": pl.Float64,
    "ci_low": pl.Float64,
    "ci_high": pl.Float64,
    "p_value": pl.Float64,
    "verdict": pl.String,
    "level": pl.Float64,
    "method": pl.String,
    "differs_in": pl.String,
    "note": pl.String,
}


@dataclass(frozen=True)
class Side:
    """One side of a comparison: an arm (all its seeds' runs) at one stage."""

    arm: str
    stage: str

    @property
    def label(self) -> str:
        return f"{self.arm} ({self.stage})"


@dataclass(frozen=True)
class Planned:
    kind: str
    a: Side
    b: Side


def _arms(profile: Profile) -> dict[str, list[Experiment]]:
    """Each written experiment with its seeds' runs, in the profile's order."""
    arms: dict[str, list[Experiment]] = {}
    for exp in profile.experiments:
        arms.setdefault(exp.arm, []).append(exp)
    return arms


def _design(profile: Profile, exp: Experiment) -> dict | None:
    """The factors an SFT arm is made of, or None for an arm that trains no SFT of its own."""
    if "sft" not in exp.stages or exp.subset is None:
        return None
    recipe = profile.subset_recipes[exp.subset]
    return {
        "base_model": exp.base_model,
        "training": exp.training,
        "scale": recipe.scale,
        "strategy": recipe.strategy,
        "target_format": recipe.target_format,
        "mix": json.dumps(recipe.mix, sort_keys=True) if recipe.mix else None,
        "sources": recipe.sources,
    }


def _same_but(designs: dict[str, dict], factor: str) -> list[list[str]]:
    """Groups of arms whose designs agree on every factor except `factor`."""
    groups: dict[str, list[str]] = {}
    for arm, design in designs.items():
        key = json.dumps({k: v for k, v in design.items() if k != factor}, sort_keys=True, default=str)
        groups.setdefault(key, []).append(arm)
    return [g for g in groups.values() if len(g) > 1]


def planned_comparisons(profile: Profile) -> list[Planned]:
    """The comparisons the profile's arms allow, each (a, b) read as "a against b"."""
    arms = _arms(profile)
    designs = {a: d for a, runs in arms.items() if (d := _design(profile, runs[0])) is not None}
    out: list[Planned] = []
    for group in _same_but(designs, "scale"):
        ladder = sorted(group, key=lambda a: designs[a]["scale"])
        out += [Planned("scale step", Side(hi, "sft"), Side(lo, "sft")) for lo, hi in pairwise(ladder)]
    for group in _same_but(designs, "strategy"):
        for hard in (a for a in group if designs[a]["strategy"] == "hard_first"):
            out += [
                Planned("hard-first vs random", Side(hard, "sft"), Side(r, "sft"))
                for r in group
                if designs[r]["strategy"] == "random"
            ]
    for group in _same_but(designs, "mix"):
        for mixed in (a for a in group if len(json.loads(designs[a]["mix"] or "{}")) > 1):
            domains = json.loads(designs[mixed]["mix"])
            out += [
                Planned("mix vs one domain", Side(mixed, "sft"), Side(single, "sft"))
                for single in group
                if designs[single]["mix"] and set(json.loads(designs[single]["mix"])) <= set(domains)
                and len(json.loads(designs[single]["mix"])) == 1
            ]  # fmt: skip
    for group in _same_but(designs, "target_format"):
        for cot in (a for a in group if designs[a]["target_format"] == "long_cot"):
            out += [
                Planned("long-CoT vs answer-only", Side(cot, "sft"), Side(other, "sft"))
                for other in group
                if designs[other]["target_format"] != "long_cot"
            ]
    for arm, runs in arms.items():
        exp = runs[0]
        if "rl" in exp.stages:
            start = profile.experiment(exp.sft_from).arm if exp.sft_from else arm
            out.append(Planned("RL vs its start", Side(arm, "rl"), Side(start, "sft")))
    out += _against_controls(profile, arms)
    out += _against_untrained(profile, arms, designs)
    return out


def _rl_design(profile: Profile, exp: Experiment) -> str | None:
    """What an RL arm is besides its control: its start and its recipe without the `control` key."""
    if "rl" not in exp.stages or exp.rl is None:
        return None
    recipe = profile.rl_recipes[exp.rl]
    written = {k: v for k, v in recipe.written().items() if k != "control"}
    start = profile.stage_partition(exp, "sft")
    return json.dumps({"method": recipe.method, "start": start, "recipe": written}, sort_keys=True, default=str)


def _against_controls(profile: Profile, arms: dict[str, list[Experiment]]) -> list[Planned]:
    """Each RL method against its family's control: the arm whose recipe differs only in `control`,
    from the same start (shuffled rewards for the online methods, swapped pairs for DPO)."""
    out: list[Planned] = []
    for control, runs in arms.items():
        exp = runs[0]
        design = _rl_design(profile, exp)
        if design is None or profile.rl_recipes[exp.rl or ""].control is None:
            continue
        for arm, others in arms.items():
            same = arm != control and _rl_design(profile, others[0]) == design
            if same and profile.rl_recipes[others[0].rl or ""].control is None:
                out.append(Planned("RL vs its control", Side(arm, "rl"), Side(control, "rl")))
    return out


def _against_untrained(profile: Profile, arms: dict[str, list[Experiment]], designs: dict[str, dict]):
    """The largest arm of each random long-CoT ladder against the untrained model of its base."""
    untrained = {runs[0].base_model: arm for arm, runs in arms.items() if runs[0].stages == ("base",)}
    tops: dict[str, str] = {}
    for arm, design in designs.items():
        if (
            design["target_format"] != "long_cot"
            or design["strategy"] != "random"
            or design["base_model"] not in untrained
        ):
            continue
        key = json.dumps({k: v for k, v in design.items() if k != "scale"}, sort_keys=True, default=str)
        if key not in tops or designs[tops[key]]["scale"] < design["scale"]:
            tops[key] = arm
    return [
        Planned("long-CoT vs untrained", Side(arm, "sft"), Side(untrained[designs[arm]["base_model"]], "base"))
        for arm in tops.values()
    ]


@dataclass
class ArmOutputs:
    """One side's verdicts on one benchmark: item -> training seed -> sample verdicts, and the stamps."""

    verdicts: dict[str, dict[int | str, list[bool]]]
    stamps: list[dict]
    sampled: bool


def side_outputs(
    store: Store, runs: list[Experiment], stage: str, benchmark: str, greedy: bool = False
) -> ArmOutputs | None:
    """The sampled verdicts of every seed's run of an arm (its greedy ones when it has no samples, or
    when `greedy`), or None when a run has no outputs for this stage and benchmark yet."""
    per_seed: dict[int | str, pl.DataFrame] = {}
    stamps: list[dict] = []
    for exp in runs:
        path = store.folder("benchmark_scores", exp.name) / "eval" / "outputs.parquet"
        if not path.exists() or not store.exists("benchmark_scores", exp.name):
            return None
        rows = pl.read_parquet(path, columns=["stage", "benchmark", "problem_id", "run", "status"]).filter(
            (pl.col("stage") == stage) & (pl.col("benchmark") == benchmark)
        )
        if rows.height == 0:
            return None
        per_seed[exp.seed if exp.seed is not None else exp.name] = rows
        scores = store.read("benchmark_scores", exp.name)
        if "environment" in scores.columns:
            row = scores.filter((pl.col("stage") == stage) & (pl.col("benchmark") == benchmark))
            stamps += [json.loads(e) for e in row["environment"].to_list() if e]
    sampled = not greedy and all((rows["run"] != "greedy").any() for rows in per_seed.values())
    verdicts: dict[str, dict[int | str, list[bool]]] = {}
    for seed, rows in per_seed.items():
        chosen = rows.filter((pl.col("run") != "greedy") if sampled else (pl.col("run") == "greedy"))
        for item, status in zip(chosen["problem_id"].to_list(), chosen["status"].to_list(), strict=True):
            verdicts.setdefault(item, {}).setdefault(seed, []).append(status == "correct")
    return ArmOutputs(verdicts, stamps, sampled)


def _differences(a: ArmOutputs, b: ArmOutputs) -> str:
    found = sorted({d for sa in a.stamps for sb in b.stamps for d in stamp_differences(sa, sb)})
    return ", ".join(found)


def comparison_table(store: Store, profile: Profile, level: float = LEVEL) -> pl.DataFrame:
    """One row per (planned comparison, benchmark both sides were scored on): the mean difference
    across seeds, the paired per-item test, its interval and verdict, and what differs in the two
    sides' environment stamps. Sides scored on different items are refused, with both named."""
    arms = _arms(profile)
    read: dict[tuple[str, str, str, bool], ArmOutputs | None] = {}

    def outputs(arm: str, stage: str, bench: str, greedy: bool = False) -> ArmOutputs | None:
        """An arm's outputs, read once however many comparisons it is a side of."""
        key = (arm, stage, bench, greedy)
        if key not in read:
            read[key] = side_outputs(store, arms[arm], stage, bench, greedy)
        return read[key]

    rows = []
    for plan in planned_comparisons(profile):
        runs_a, runs_b = arms[plan.a.arm], arms[plan.b.arm]
        shared = [
            b.name
            for b in profile.benchmarks_for(runs_a[0])
            if b.name in {x.name for x in profile.benchmarks_for(runs_b[0])}
        ]
        for bench in shared:
            a, b = outputs(plan.a.arm, plan.a.stage, bench), outputs(plan.b.arm, plan.b.stage, bench)
            if a is None or b is None:
                continue
            if a.sampled != b.sampled:  # one side sampled, the other greedy only: both greedy
                a = outputs(plan.a.arm, plan.a.stage, bench, greedy=True)
                b = outputs(plan.b.arm, plan.b.stage, bench, greedy=True)
                assert a is not None and b is not None
            row = {
                "comparison": plan.kind,
                "a": plan.a.label,
                "b": plan.b.label,
                "benchmark": bench,
                "metric": "avg@n (sampled)" if a.sampled else "pass@1 (greedy)",
                "seeds_a": len(runs_a),
                "seeds_b": len(runs_b),
                "level": level,
                "differs_in": _differences(a, b),
            }
            try:
                result = paired_comparison(a.verdicts, b.verdicts, label_a=plan.a.label, label_b=plan.b.label,
                                           level=level)  # fmt: skip
            except ComparisonRefused as exc:
                rows.append({**row, "verdict": "refused", "note": str(exc)})
                continue
            rows.append(
                {
                    **row,
                    "items": result.items,
                    "mean_a": result.mean_a,
                    "mean_b": result.mean_b,
                    "difference": result.seed_diff,
                    "item_difference": result.mean_diff,
                    "ci_low": result.ci_low,
                    "ci_high": result.ci_high,
                    "p_value": result.p_value,
                    "verdict": result.verdict,
                    "method": result.method,
                }
            )
    return pl.DataFrame(rows, schema=COMPARISON_COLUMNS) if rows else pl.DataFrame(schema=COMPARISON_COLUMNS)


VERDICT_NOTE = f"verdict at level {LEVEL}: a paired sign-flip test over items, every seed and sample pooled"


def verdict_view(compared: pl.DataFrame) -> pl.DataFrame:
    """The comparisons as the report prints them: sides, seeds, difference with its interval, verdict."""
    return compared.select(
        "comparison",
        "a",
        "b",
        "benchmark",
        pl.format("{} / {}", "seeds_a", "seeds_b").alias("seeds"),
        "items",
        pl.col("difference").round(4),
        pl.format("[{}, {}]", pl.col("ci_low").round(3), pl.col("ci_high").round(3)).alias(f"{1 - LEVEL:.0%} interval"),
        pl.col("p_value").round(4),
        "verdict",
        "differs_in",
    )
