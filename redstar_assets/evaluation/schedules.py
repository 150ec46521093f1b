"""Schedules: a nightly re-evaluation that runs only what changed, and a weekly ablation report."""

from __future__ import annotations

import dagster as dg

from redstar_assets.config.automation import AutomationSpec
from redstar_assets.config.sections import Profile
from redstar_assets.evaluation.fingerprint import eval_inputs, stage_model_ids, stage_models
from redstar_assets.resources import RedstarHome
from redstar_training.files.run_config import config_hash


def stale_evaluations(instance, store, profile: Profile) -> list[str]:
    """Experiments whose checkpoints, benchmark files, sampling or verifier version differ from what
    their latest scores were computed with (or that have checkpoints and no scores yet)."""
    stale = []
    for exp in profile.experiments:
        models = stage_models(store, profile, exp)
        ids = stage_model_ids(instance, profile, exp, models)
        if any(v is None for stage, v in ids.items() if stage != "base"):
            continue  # a stage not trained yet: nothing new to score
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("benchmark_scores"), asset_partitions=[exp.name]), limit=1
        ).records
        recorded = records[0].asset_materialization.metadata.get("eval_inputs") if records else None
        if recorded is None or recorded.value != config_hash(eval_inputs(ids, profile, exp)):
            stale.append(exp.name)
    return stale


def build_schedules(profile: Profile, spec: AutomationSpec, redstar: RedstarHome) -> list[dg.ScheduleDefinition]:
    status = dg.DefaultScheduleStatus.RUNNING if spec.enabled else dg.DefaultScheduleStatus.STOPPED
    schedules: list[dg.ScheduleDefinition] = []
    nightly = spec.schedules.nightly_evaluation
    if nightly:

        @dg.schedule(
            name="nightly_evaluation",
            cron_schedule=nightly,
            target=dg.AssetSelection.assets("benchmark_scores"),
            default_status=status,
        )
        def nightly_evaluation(context: dg.ScheduleEvaluationContext):
            """Re-scores the experiments whose newest checkpoints, benchmark files, sampling or verifier
            version changed since their last scores; skips (and says why) when none did."""
            stale = stale_evaluations(context.instance, redstar.store(), profile)
            if not stale:
                return dg.SkipReason("no checkpoint, benchmark file, sampling or verifier version changed")
            return [dg.RunRequest(partition_key=name, tags={"redstar/reason": "nightly"}) for name in stale]

        schedules.append(nightly_evaluation)
    weekly = spec.schedules.weekly_report
    if weekly:
        schedules.append(
            dg.ScheduleDefinition(
                name="weekly_ablation_report",
                cron_schedule=weekly,
                target=dg.AssetSelection.assets("ablation_report", "lineage"),
                default_status=status,
                description="Rebuilds the ablation table, its plots and the lineage table once a week.",
            )
        )
    return schedules
