"""`build_definitions(profile)`: the whole pipeline for one typed, validated profile. Nothing is
global, so two profiles build side by side in one process; the code location builds the one
REDSTAR_PROFILE names, and `redstar run` and the tests call this directly."""

from __future__ import annotations

import os

import dagster as dg

from redstar_assets.config.automation import automation_sensor, condition
from redstar_assets.config.sections import Profile
from redstar_assets.curation.assets import build_curation_assets
from redstar_assets.deploy.celery_queue import queue_executor
from redstar_assets.deploy.k8s_specs import k8s_executor
from redstar_assets.evaluation.assets import build_evaluation_assets
from redstar_assets.evaluation.schedules import build_schedules
from redstar_assets.launcher import launcher_resource
from redstar_assets.problems.assets import build_problem_assets
from redstar_assets.problems.sensors import DATA_ASSETS, build_source_sensor
from redstar_assets.resources import RedstarHome, cache_layout
from redstar_assets.traces.assets import build_trace_assets
from redstar_assets.training.assets import build_training_assets


def build_definitions(profile: Profile, home: str | None = None) -> dg.Definitions:
    """One `Definitions` for `profile`; `home` is the data root (default REDSTAR_HOME, else ./data)."""
    automation = profile.automation
    policy = automation.policies
    data = condition(policy["data"])
    raw_problems, problems = build_problem_assets(profile, data)
    teacher_traces, verified_traces = build_trace_assets(profile, data, problems)
    difficulty_scores, sft_subsets = build_curation_assets(profile, data, condition(policy["subsets"]), verified_traces)
    sft_checkpoints, rl_checkpoints = build_training_assets(
        profile,
        condition(policy["training"]),
        condition(policy["training"], ignore=("verified_traces",)),
        sft_subsets,
        verified_traces,
    )
    benchmark_scores, ablation_report, lineage = build_evaluation_assets(
        profile,
        condition(policy["evaluation"], ignore=("problems",)),
        condition(policy["report"]),
        problems,
        sft_checkpoints,
        rl_checkpoints,
    )
    launch = profile.launch
    redstar = RedstarHome(home=home or os.environ.get("REDSTAR_HOME", "data"), cache_layout=cache_layout())
    if launch.executor == "k8s" and launch.kubernetes is not None:
        executor = k8s_executor(launch.kubernetes)
    elif launch.executor == "celery":
        executor = queue_executor(launch.celery)
    else:
        executor = {"in_process": dg.in_process_executor, "multiprocess": dg.multiprocess_executor}[launch.executor]
    return dg.Definitions(
        assets=[
            raw_problems,
            problems,
            teacher_traces,
            verified_traces,
            difficulty_scores,
            sft_subsets,
            sft_checkpoints,
            rl_checkpoints,
            benchmark_scores,
            ablation_report,
            lineage,
        ],
        resources={
            "redstar": redstar,
            "launcher": launcher_resource(launch.stages()),
            "pipes_subprocess_client": dg.PipesSubprocessClient(),
        },
        jobs=[
            dg.define_asset_job(
                "curate_source",
                selection=dg.AssetSelection.assets(*DATA_ASSETS),
                description="Ingest, distill, verify and score one problem source (one partition per source).",
            )
        ],
        sensors=[build_source_sensor(profile, automation.tick_seconds), automation_sensor(automation)],
        schedules=build_schedules(profile, automation, redstar),
        executor=executor,
    )
