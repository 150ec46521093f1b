"""New problem files dropped into REDSTAR_HOME/inbox become new source partitions, and only they run."""

import json

from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SensorResult, sensor

from redstar_assets.problems.inbox import inbox_files, inbox_partition
from redstar_assets.problems.partitions import source_partitions
from redstar_assets.resources import RedstarHome


@sensor(job_name="curate_source", minimum_interval_seconds=30, default_status=DefaultSensorStatus.RUNNING)
def problem_inbox_sensor(context: SensorEvaluationContext, redstar: RedstarHome) -> SensorResult:
    """Watches REDSTAR_HOME/inbox for JSONL/Parquet problem files. A new file adds a source partition
    and curates it; a changed file (new modification time) curates its partition again. Sources
    already curated are left alone, so only the new work runs."""
    seen: dict[str, float] = json.loads(context.cursor) if context.cursor else {}
    existing = set(context.instance.get_dynamic_partitions(source_partitions.name))
    new_keys, requests = [], []
    for path in inbox_files(redstar.store().root):
        key, mtime = inbox_partition(path), path.stat().st_mtime
        if key not in existing:
            new_keys.append(key)
        if seen.get(key) != mtime:
            requests.append(RunRequest(partition_key=key, run_key=f"{key}@{mtime}"))
            seen[key] = mtime
    return SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[source_partitions.build_add_request(new_keys)] if new_keys else [],
        cursor=json.dumps(seen, sort_keys=True),
    )
