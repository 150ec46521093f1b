"""The pipeline as the UI and the daemon run it, on a real `dagster dev` with a fresh instance and data
root: the source sensor lists the partitions on its first tick, "Materialize all" (one GraphQL
backfill) builds the whole graph through the daemon's queue and executor with the same data versions
as `redstar run`, and then, with automation switched on, a file dropped in the inbox flows on its
own to new subsets, checkpoints, scores and a new ablation report, re-running only what changed."""

import json
import subprocess
import time

import pytest
from dagster import AssetKey, AssetRecordsFilter, DagsterInstance
from support.dagster_dev import BIN, ROOT, dagster_dev
from support.versions import data_versions

DONE = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}
GPU_ASSETS = {"sft_checkpoints", "rl_checkpoints", "benchmark_scores"}


def _materialized_after(instance, asset: str, since: float) -> dict[str | None, list]:
    """Partition -> materializations of `asset` after `since`, newest first."""
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey(asset), after_timestamp=since), limit=1000
    ).records
    out: dict[str | None, list] = {}
    for r in records:
        out.setdefault(r.partition_key, []).append(r.asset_materialization)
    return out


def _model_step_spans(instance, run_ids: list[str]) -> list[tuple[float, float]]:
    """(start, end) of every model step (the `gpu` pool's assets) in the given runs."""
    from dagster import DagsterEventType

    spans = []
    for run_id in run_ids:
        run = instance.get_run_by_id(run_id)
        if not {k.to_user_string() for k in run.asset_selection} & GPU_ASSETS:
            continue
        times = {}
        for kind in (DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS):
            records = instance.get_records_for_run(run_id, of_type=kind).records
            times[kind] = records[0].event_log_entry.timestamp
        spans.append((times[DagsterEventType.STEP_START], times[DagsterEventType.STEP_SUCCESS]))
    return sorted(spans)


def _subset_hashes(data) -> dict[str, str]:
    return {
        p.name: json.loads((p / "manifest.json").read_text())["subset_hash"] for p in (data / "sft_subsets").iterdir()
    }


@pytest.mark.slow
def test_materialize_all_then_an_inbox_file_flows_to_a_new_report(tmp_path, tiny_run, pipeline_asset_names):
    profile = tmp_path / "demo-tiny-ui.yaml"
    profile.write_text("extends: demo-tiny\nname: demo-tiny\nautomation: {enabled: false, tick_seconds: 5}\n")
    data = tmp_path / "data"
    with dagster_dev(tmp_path, profile, tmp_path / "dagster-dev.log") as ui:
        nodes = ui.query("{ assetNodes { assetKey { path } } }")["assetNodes"]
        assert {"/".join(n["assetKey"]["path"]) for n in nodes} == pipeline_asset_names
        # 1. A fresh instance lists the profile's source once the sensor has ticked: nothing by hand.
        assert ui.wait_for("the source partitions", lambda: ui.partition_keys("raw_problems"), timeout=120) == [
            "arith-add"
        ]

        # 2. "Materialize all": one backfill of every asset over all partitions, through the daemon.
        started = time.monotonic()
        backfill = ui.launch_backfill(sorted(pipeline_asset_names))
        status = ui.wait_for(
            "the backfill", lambda: (s := ui.backfill_status(backfill)) in DONE and s, timeout=900, every=2
        )
        seconds = time.monotonic() - started
        runs = [r for r in ui.runs() if {"key": "dagster/backfill", "value": backfill} in r["tags"]]
        print(f"\nbackfill of demo-tiny through dagster dev: {seconds:.1f}s, {len(runs)} runs, status {status}")
        assert status in ("COMPLETED", "COMPLETED_SUCCESS") and all(r["status"] == "SUCCESS" for r in runs)
        instance = DagsterInstance.from_config(str(tmp_path / "dagster_home"))
        assert data_versions(instance) == data_versions(tiny_run.instance)  # same data as `redstar run`
        # the gpu pool (limit 1 on any fresh instance): model steps queued, none failed, none overlapped
        spans = _model_step_spans(instance, [r["runId"] for r in runs])
        assert len(spans) == 4 + 2 + 5 and all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))

        # 3. The CLI reads what the UI made: the ablation table and a score's lineage.
        env = {"DAGSTER_HOME": str(tmp_path / "dagster_home"), "REDSTAR_HOME": str(data), "PATH": str(BIN)}
        report = subprocess.run(
            [BIN / "redstar", "ablation"], cwd=ROOT, env=env, capture_output=True, text=True, check=True
        )
        assert "| cot-random-40 | rl |" in report.stdout
        lineage = subprocess.run(
            [BIN / "redstar", "lineage", "benchmark_scores:cot-random-40"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        assert "teacher_traces[arith-add]" in lineage.stdout and "backend=procedural" in lineage.stdout

        # 4. Automation on (the UI's toggle), then a new file in the inbox and nothing else.
        before = _subset_hashes(data)
        ui.start_sensor("redstar_automation")
        dropped = time.time()
        (data / "inbox").mkdir()
        (data / "inbox" / "more.jsonl").write_text(
            "".join(
                json.dumps({"problem": f"Compute {a} + {b}.", "answer": str(a + b)}) + "\n"
                for a, b in [(301, 45), (7, 986), (52, 52)]
            )
        )

        quiet_since: list[float] = []

        def settled() -> bool:
            """A report newer than every score, and no run queued or running for over an automation tick."""
            reports = instance.fetch_materializations(AssetKey("ablation_report"), limit=1).records
            scores = instance.fetch_materializations(AssetKey("benchmark_scores"), limit=1).records
            busy = any(r["status"] in ("QUEUED", "STARTING", "STARTED", "NOT_STARTED") for r in ui.runs())
            done = bool(reports) and reports[0].timestamp > max(dropped, scores[0].timestamp) and not busy
            if not done:
                quiet_since.clear()
                return False
            quiet_since.append(time.monotonic())
            return quiet_since[-1] - quiet_since[0] >= 6

        ui.wait_for("a new ablation report after the inbox drop", settled, timeout=900, every=3)
        print(f"inbox file to settled new report: {time.time() - dropped:.1f}s")

    after = _subset_hashes(data)
    changed = {name for name in after if after[name] != before[name]}
    exps = tiny_run.profile.experiments
    retrained = {e.name for e in exps if e.subset in changed}
    # demo-tiny's random and hard-first recipes rank the whole pool. These three new problems reach one
    # recipe; the other two keep their trace ids, hence their data version, and nothing below them runs.
    assert changed == {"cot-random-40"}
    assert retrained == {"cot-random-40"}
    assert set(_materialized_after(instance, "raw_problems", dropped)) == {"inbox-more"}
    assert set(_materialized_after(instance, "difficulty_scores", dropped)) == {"inbox-more"}
    assert set(_materialized_after(instance, "sft_subsets", dropped)) == set(tiny_run.profile.subset_recipes)
    sft = _materialized_after(instance, "sft_checkpoints", dropped)
    assert set(sft) == retrained and all(not m[0].metadata["reused"].value for m in sft.values())
    assert set(_materialized_after(instance, "rl_checkpoints", dropped)) == {"cot-random-40"}
    scores = _materialized_after(instance, "benchmark_scores", dropped)
    assert set(scores) == retrained  # not the untrained baseline, not the arms whose subset kept its ids
    assert all(len(m) == 1 and not m[0].metadata["reused"].value for m in scores.values())  # each scored once
    assert _materialized_after(instance, "ablation_report", dropped)
