"""The source partitions: the profile's own sources and every file dropped into REDSTAR_HOME/inbox."""

import json

import dagster as dg

from redstar_assets.config.asset_keys import SOURCE_ASSETS
from redstar_assets.config.sections import Profile
from redstar_assets.problems.inbox import inbox_files, inbox_partition, refused_inbox_files, source_partition_keys
from redstar_assets.problems.partitions import SOURCES, source_partitions
from redstar_assets.resources import RedstarHome

DATA_ASSETS = SOURCE_ASSETS


def build_source_sensor(profile: Profile, tick_seconds: int) -> dg.SensorDefinition:
    @dg.sensor(
        name="source_partitions_sensor",
        minimum_interval_seconds=tick_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        asset_selection=[dg.AssetKey(a) for a in DATA_ASSETS],
    )
    def source_partitions_sensor(context: dg.SensorEvaluationContext, redstar: RedstarHome) -> dg.SensorResult:
        """Keeps the `sources` partitions equal to the profile's sources plus the JSONL/Parquet files in
        REDSTAR_HOME/inbox, so a fresh instance already lists what there is to materialize (and a
        source that left the profile or the inbox leaves the list; its history stays). New partitions
        are only registered: automation (or the user) materializes them. A file that changed since it
        was curated (new modification time) is curated again, since Dagster cannot see the file."""
        seen: dict[str, float] = json.loads(context.cursor) if context.cursor else {}
        existing = set(context.instance.get_dynamic_partitions(SOURCES))
        root = redstar.store().root
        for path, why in refused_inbox_files(root).items():
            context.log.warning(f"inbox file {path.name!r} refused: {why}")
        wanted = source_partition_keys(profile, root)
        new_keys = [k for k in wanted if k not in existing]
        stale = sorted(existing - set(wanted))  # another profile's sources, or a file taken out of the inbox
        requests = []
        for path in inbox_files(root):
            key, mtime = inbox_partition(path), path.stat().st_mtime
            if key in existing and key in seen and seen[key] != mtime:
                requests.append(dg.RunRequest(partition_key=key, run_key=f"{key}@{mtime}"))
            seen[key] = mtime
        changes: list[dg.AddDynamicPartitionsRequest | dg.DeleteDynamicPartitionsRequest] = []
        changes += [source_partitions.build_add_request(new_keys)] if new_keys else []
        changes += [source_partitions.build_delete_request(stale)] if stale else []
        return dg.SensorResult(
            run_requests=requests, dynamic_partitions_requests=changes, cursor=json.dumps(seen, sort_keys=True)
        )

    return source_partitions_sensor
