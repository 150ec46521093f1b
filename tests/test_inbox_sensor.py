"""The source partitions: a fresh instance must list the profile's sources, a file dropped into the
inbox must become a partition (which automation, or the user, then materializes), and a changed file
must be curated again, since Dagster cannot see the file itself."""

import json
import os

import polars as pl
from dagster import AddDynamicPartitionsRequest, DagsterInstance, build_sensor_context

from redstar_assets.cli.run.execute import execute
from redstar_assets.cli.run.plan import Step
from redstar_assets.config.profile import load_profile
from redstar_assets.factory import build_definitions
from redstar_assets.problems.inbox import inbox_partition
from redstar_assets.resources import RedstarHome


def _evaluate(sensor, instance, home, cursor=None):
    ctx = build_sensor_context(instance=instance, cursor=cursor, resources={"redstar": RedstarHome(home=str(home))})
    return sensor(ctx)


def _apply(instance, result):
    for request in result.dynamic_partitions_requests:
        if isinstance(request, AddDynamicPartitionsRequest):
            instance.add_dynamic_partitions("sources", list(request.partition_keys))
        else:
            for key in request.partition_keys:
                instance.delete_dynamic_partition("sources", key)


def test_sources_and_inbox_files_become_partitions_and_a_changed_file_is_curated_again(tmp_path, monkeypatch):
    home = tmp_path / "data"
    (home / "inbox").mkdir(parents=True)
    drop = home / "inbox" / "new batch.jsonl"
    key = inbox_partition(drop)  # a name with a space: reduced to safe characters plus a hash of the name
    assert key.startswith("inbox-new-batch-")
    drop.write_text(
        "\n".join(
            json.dumps({"problem": f"Compute {a} + {b}.", "answer": str(a + b)})
            for a, b in [(12, 30), (7, 8), (450, 67)]
        )
        + "\n{oops\n"
    )
    monkeypatch.setenv("REDSTAR_HOME", str(home))
    defs = build_definitions(load_profile("demo-tiny"), str(home))
    sensor = next(s for s in defs.sensors if s.name == "source_partitions_sensor")
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("sources", ["another-profiles-source"])
    first = _evaluate(sensor, instance, home)
    added, deleted = first.dynamic_partitions_requests
    assert added.partition_keys == ["arith-add", key]
    assert deleted.partition_keys == ["another-profiles-source"]  # not this profile's, not in the inbox
    assert first.run_requests == []  # registering is all; automation or the user decides what runs
    _apply(instance, first)
    again = _evaluate(sensor, instance, home, first.cursor)
    assert again.run_requests == [] and not again.dynamic_partitions_requests

    data_assets = tuple(sensor.asset_selection.resolve(defs.resolve_asset_graph()))
    assert execute(defs, instance, [Step(data_assets, key)], {}) is None
    assert pl.read_parquet(home / "problems" / key / "data.parquet").height == 3
    quarantine = pl.read_parquet(home / "raw_problems" / key / "quarantine.parquet")
    assert quarantine.select("line", "field").rows() == [(4, "<record>")]
    verified = pl.read_parquet(home / "verified_traces" / key / "data.parquet")
    assert verified.height == 3 * 2 and (verified["status"] == "correct").sum() >= 4

    os.utime(drop, (drop.stat().st_atime, drop.stat().st_mtime + 10))
    changed = _evaluate(sensor, instance, home, again.cursor)
    assert [r.partition_key for r in changed.run_requests] == [key]
    assert not changed.dynamic_partitions_requests
