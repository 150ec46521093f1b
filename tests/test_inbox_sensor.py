"""Dropping a problem file into the inbox must add a source partition and curate only it; a second
evaluation with nothing new must request nothing (only the new work runs)."""

import json
import os

from dagster import DagsterInstance, build_sensor_context, materialize

from redstar_assets.definitions import ALL_ASSETS, SOURCE_ASSETS, resources
from redstar_assets.problems.sensors import problem_inbox_sensor
from redstar_assets.resources import RedstarHome


def _evaluate(instance, home, cursor=None):
    ctx = build_sensor_context(instance=instance, cursor=cursor, resources={"redstar": RedstarHome(home=str(home))})
    return problem_inbox_sensor(ctx)


def test_new_inbox_file_becomes_a_partition_and_is_curated(tmp_path, monkeypatch):
    home = tmp_path / "data"
    (home / "inbox").mkdir(parents=True)
    drop = home / "inbox" / "new batch.jsonl"
    drop.write_text(
        "\n".join(
            json.dumps({"problem": f"Compute {a} + {b}.", "answer": str(a + b)})
            for a, b in [(12, 30), (7, 8), (450, 67)]
        )
        + "\n{oops\n"
    )
    instance = DagsterInstance.ephemeral()
    result = _evaluate(instance, home)
    assert [r.partition_key for r in result.run_requests] == ["inbox-new-batch"]
    assert result.dynamic_partitions_requests[0].partition_keys == ["inbox-new-batch"]
    instance.add_dynamic_partitions("sources", ["inbox-new-batch"])
    assert _evaluate(instance, home, result.cursor).run_requests == []

    monkeypatch.setenv("REDSTAR_HOME", str(home))
    run = materialize(
        ALL_ASSETS, selection=SOURCE_ASSETS, partition_key="inbox-new-batch", instance=instance, resources=resources()
    )
    assert run.success
    import polars as pl

    assert pl.read_parquet(home / "problems" / "inbox-new-batch" / "data.parquet").height == 3
    quarantine = pl.read_parquet(home / "raw_problems" / "inbox-new-batch" / "quarantine.parquet")
    assert quarantine.select("line", "field").rows() == [(4, "<record>")]
    verified = pl.read_parquet(home / "verified_traces" / "inbox-new-batch" / "data.parquet")
    assert verified.height == 3 * 2 and (verified["status"] == "correct").sum() >= 4

    os.utime(drop, (drop.stat().st_atime, drop.stat().st_mtime + 10))
    again = _evaluate(instance, home, result.cursor)
    assert [r.partition_key for r in again.run_requests] == [
        "inbox-new-batch"
    ] and not again.dynamic_partitions_requests
