"""The Dagster code location: every stage's assets, the shared resources, and the jobs users run.

Light on purpose: nothing here imports torch, transformers, trl or vllm; model work happens in
entry points that the assets launch as their own processes.
"""

from __future__ import annotations

import os

from dagster import AssetSelection, Definitions, PipesSubprocessClient, define_asset_job

from redstar_assets.curation.assets import difficulty_scores, sft_subsets
from redstar_assets.evaluation.assets import ablation_report, benchmark_scores
from redstar_assets.problems.assets import problems, raw_problems
from redstar_assets.problems.sensors import problem_inbox_sensor
from redstar_assets.resources import RedstarHome, TrainingLauncher
from redstar_assets.traces.assets import teacher_traces, verified_traces
from redstar_assets.training.assets import rl_checkpoints, sft_checkpoints

# Pipeline order; the CLI materializes them in this order, partition by partition.
ALL_ASSETS = [
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
]
SOURCE_ASSETS = [raw_problems, problems, teacher_traces, verified_traces, difficulty_scores]


def resources() -> dict:
    return {
        "redstar": RedstarHome(home=os.environ.get("REDSTAR_HOME", "data")),
        "launcher": TrainingLauncher(),
        "pipes_subprocess_client": PipesSubprocessClient(),
    }


curation_job = define_asset_job(
    "curate_source",
    selection=AssetSelection.assets(*SOURCE_ASSETS),
    description="Ingest, distill, verify and score one problem source (one partition per source).",
)

defs = Definitions(assets=ALL_ASSETS, resources=resources(), jobs=[curation_job], sensors=[problem_inbox_sensor])
