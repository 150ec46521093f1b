"""The RL stage's data chosen by the student (`samples: student`): its SFT checkpoint samples each
candidate problem k times through the evaluation entry point, at the evaluation's temperature and
top_p, with the evaluation's sample cache (so arms and seeds from one start sample once), and the
pass rates cut the problems, or pair its own correct and incorrect answers for DPO."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl

from redstar_assets.config.evaluation_suite import DEFAULT_SAMPLING
from redstar_assets.config.sections import Experiment, Profile
from redstar_assets.launcher import reported
from redstar_assets.training.student_problems import (
    TooFewProblems,
    candidate_problems,
    cut_by_pass_rate,
    on_policy_pairs,
    pass_rates,
)

CANDIDATES_BENCHMARK = "rl-candidates"


def _sampled_as(profile: Profile, exp: Experiment, recipe) -> dict[str, float]:
    """The temperature and top_p RL samples at: the experiment's first benchmark's (the registry's
    default when it has none), each overridden by the recipe's own."""
    benchmarks = profile.benchmarks_for(exp)
    sampling = {**DEFAULT_SAMPLING, **(benchmarks[0].sampling if benchmarks else {})}
    return {k: float(recipe.trl.get(k, sampling[k])) for k in ("temperature", "top_p")}


def evaluation_sampling(profile: Profile, exp: Experiment, recipe) -> dict[str, Any]:
    """An online method samples as the evaluation does, unless its recipe sets its own (then TRL
    reads the recipe's and nothing is added)."""
    if not recipe.online:
        return {}
    return {k: v for k, v in _sampled_as(profile, exp, recipe).items() if k not in recipe.trl}


def _sampling(profile: Profile, exp: Experiment, recipe) -> dict[str, Any]:
    """The candidates' sampling: as training samples, k samples, and the completion length training
    allows (the benchmark's for DPO)."""
    benchmarks = profile.benchmarks_for(exp)
    max_tokens = recipe.trl.get("max_completion_length") or (benchmarks[0].max_tokens if benchmarks else None)
    return {
        "n": recipe.pass_rate_samples,
        **_sampled_as(profile, exp, recipe),
        **({"max_tokens": int(max_tokens)} if max_tokens else {}),
    }


def student_choice(context, redstar, launcher, pipes, profile: Profile, exp: Experiment, start, verified):
    """{"data": the problems (or pairs) to train on, plus metadata on the cut}; `start` is the SFT
    checkpoint's (folder, hash)."""
    sft_dir, sft_hash = start
    store = redstar.store()
    recipe = profile.rl_recipes[exp.rl or ""]
    wanted = recipe.max_problems if recipe.online else (recipe.max_pairs or recipe.max_problems)
    start_exp = profile.experiment(profile.stage_partition(exp, "sft"))
    subset_ids = (
        store.read("sft_subsets", start_exp.subset, columns=["problem_id"])["problem_id"]
        if start_exp.subset
        else pl.Series("problem_id", [], dtype=pl.String)
    )
    candidates = candidate_problems(verified, subset_ids, recipe.candidates)
    store.write(candidates.drop("in_sft_subset"), "rl_checkpoints", exp.name, name=CANDIDATES_BENCHMARK)
    out_dir = store.folder("rl_checkpoints", exp.name) / "student_samples"
    file = str(store.path("rl_checkpoints", exp.name, CANDIDATES_BENCHMARK))
    bench = {"name": CANDIDATES_BENCHMARK, "file": file, "mode": "strict"}
    run_config = {
        **profile.evaluation.settings(),
        "models": [{"stage": "sft", "path": str(sft_dir), "version": sft_hash}],
        "benchmarks": [{**bench, **_sampling(profile, exp, recipe)}],
        "output_dir": str(out_dir),
        "cache_file": redstar.eval_sample_cache_path(),
        "code_verdict_cache": redstar.code_verdict_cache_path(),
    }
    entry = "redstar_training.generation.evaluate"
    result = reported(launcher.run(context, pipes, "evaluation", entry, run_config, out_dir))
    outputs = pl.read_parquet(result["outputs_file"])
    rates = pass_rates(outputs)
    store.write(rates, "rl_checkpoints", exp.name, name="pass_rates")
    kept = cut_by_pass_rate(candidates, rates, wanted, exp.name)
    data = kept.drop("samples", "correct") if recipe.online else on_policy_pairs(outputs, kept)
    if not recipe.online and data.height < wanted:
        raise TooFewProblems(
            f"experiment {exp.name!r}: {data.height} of the student's {kept.height} problems have both a correct "
            f"and an incorrect sample, but the recipe asks for {wanted} pairs"
        )
    rated = candidates.join(rates, on="problem_id")
    return {
        "data": data,
        "candidates": candidates.height,
        "candidates_from_sft_subset": int(candidates["in_sft_subset"].sum()),
        "never_solved": rated.filter(pl.col("pass_rate") == 0).height,
        "always_solved": rated.filter(pl.col("pass_rate") == 1).height,
        "kept_problems": kept.height,
        "kept_mean_pass_rate": round(float(kept.select(pl.col("pass_rate").mean()).item() or 0.0), 4),
        "student_samples": dg.MetadataValue.path(str(Path(result["outputs_file"]))),
        "student_samples_generated": int(result.get("generated", 0)),
        "student_samples_from_cache": int(result.get("from_cache", 0)),
    }
