"""Load on one instance, through a real `dagster dev` (webserver, daemon, queue, multiprocess
executor): 50 inbox files dropped at once, which automation materializes on its own, and 4 model
runs launched side by side from the GraphQL API the UI uses. Every partition must be materialized
once, no run may fail (SQLite's "database is locked" included), and the `gpu` pool must never run
two model steps at once (checked from the steps' timestamps)."""

import json
import time

import pytest
from dagster import AssetKey, AssetRecordsFilter, DagsterEventType, DagsterInstance
from support.dagster_dev import dagster_dev

from redstar_assets.config.asset_keys import SOURCE_ASSETS

pytestmark = [pytest.mark.slow, pytest.mark.stress_full]

DATA_ASSETS = SOURCE_ASSETS
FILES = 50
BUSY = ("QUEUED", "STARTING", "STARTED", "NOT_STARTED", "CANCELING")


def _materializations(instance, asset: str) -> dict[str | None, int]:
    records = instance.fetch_materializations(AssetRecordsFilter(asset_key=AssetKey(asset)), limit=10_000).records
    counts: dict[str | None, int] = {}
    for r in records:
        counts[r.partition_key] = counts.get(r.partition_key, 0) + 1
    return counts


def _model_spans(instance, run_ids) -> list[tuple[float, float, str]]:
    spans = []
    for run_id in run_ids:
        starts = instance.get_records_for_run(run_id, of_type=DagsterEventType.STEP_START).records
        ends = instance.get_records_for_run(
            run_id, of_type={DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE}
        ).records
        for s in starts:
            if s.event_log_entry.step_key in ("sft_checkpoints", "rl_checkpoints", "benchmark_scores"):
                end = next(e for e in ends if e.event_log_entry.step_key == s.event_log_entry.step_key)
                spans.append((s.event_log_entry.timestamp, end.event_log_entry.timestamp, run_id))
    return sorted(spans)


def _launch(ui, asset: str, partition: str) -> str:
    repo = ui.query("{ repositoriesOrError { ... on RepositoryConnection { nodes { name location { name } } } } }")
    node = repo["repositoriesOrError"]["nodes"][0]
    data = ui.query(
        """mutation($p: ExecutionParams!) { launchRun(executionParams: $p) { __typename
            ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }""",
        p={
            "selector": {
                "repositoryName": node["name"],
                "repositoryLocationName": node["location"]["name"],
                "pipelineName": "__ASSET_JOB",
                "assetSelection": [{"path": [asset]}],
            },
            "executionMetadata": {"tags": [{"key": "dagster/partition", "value": partition}]},
        },
    )
    result = data["launchRun"]
    assert result["__typename"] == "LaunchRunSuccess", result
    return result["run"]["runId"]


def test_fifty_inbox_files_and_four_model_runs_side_by_side(tmp_path, scoreboard):
    t0 = time.monotonic()
    profile = tmp_path / "load.yaml"
    profile.write_text(
        "extends: demo-tiny\nname: demo-tiny\n"
        "automation: {enabled: true, tick_seconds: 5, subsets: manual, training: manual, evaluation: manual,"
        " report: manual}\n"
    )
    data = tmp_path / "data"
    notes = []
    with dagster_dev(tmp_path, profile, tmp_path / "dagster-dev.log") as ui:
        ui.wait_for("the source partition", lambda: ui.partition_keys("raw_problems"), timeout=120)
        ui.start_sensor("redstar_automation")
        inbox = data / "inbox"
        inbox.mkdir(parents=True)
        for i in range(FILES):  # written elsewhere, then moved in: 50 drops land at once
            rows = [{"problem": f"Compute {i * 7 + j} + {j * 11 + 3} (drop {i}).", "answer": "0"} for j in range(3)]
            for row in rows:
                a, b = (int(x) for x in row["problem"].split("Compute ")[1].split(" (")[0].split(" + "))
                row["answer"] = str(a + b)
            staged = tmp_path / f"drop-{i:02d}.jsonl"
            staged.write_text("".join(json.dumps(r) + "\n" for r in rows))
        for i in range(FILES):
            (tmp_path / f"drop-{i:02d}.jsonl").rename(inbox / f"drop-{i:02d}.jsonl")
        dropped = time.monotonic()
        instance = DagsterInstance.from_config(str(tmp_path / "dagster_home"))
        expected = {f"inbox-drop-{i:02d}" for i in range(FILES)} | {"arith-add"}

        def data_done() -> bool:
            got = set(_materializations(instance, "difficulty_scores"))
            busy = any(r["status"] in BUSY for r in ui.runs())
            return expected <= got and not busy

        ui.wait_for("every drop's data assets", data_done, timeout=900, every=5)
        data_seconds = time.monotonic() - dropped
        # 4 model runs side by side: the subsets first (one run), then the three SFT experiments and
        # the untrained baseline's scores launched at once; the gpu pool must queue their steps.
        first = _launch(ui, "sft_subsets", "cot-random-20")
        others = [_launch(ui, "sft_subsets", p) for p in ("cot-random-40", "cot-hard-20")]
        ui.wait_for(
            "the subsets",
            lambda: all(r["status"] not in BUSY for r in ui.runs() if r["runId"] in {first, *others}),
            timeout=300,
            every=2,
        )
        launched = time.monotonic()
        model_runs = [_launch(ui, "sft_checkpoints", p) for p in ("cot-random-20", "cot-random-40", "cot-hard-20@s0")]
        model_runs.append(_launch(ui, "benchmark_scores", "untrained"))
        ui.wait_for(
            "the four model runs",
            lambda: all(r["status"] not in BUSY for r in ui.runs() if r["runId"] in model_runs),
            timeout=900,
            every=3,
        )
        model_seconds = time.monotonic() - launched
        runs = ui.runs()
    failed = [r for r in runs if r["status"] not in ("SUCCESS",)]
    # every step's compute logs (stdout and stderr) and the webserver's and daemon's own output
    logs = [p for p in (tmp_path / "dagster_home").rglob("*") if p.suffix in (".out", ".err")]
    logs.append(tmp_path / "dagster-dev.log")
    assert len(logs) > len(runs)  # the search reads the logs there are
    locked_lines = sum(p.read_text(errors="replace").count("database is locked") for p in logs)
    counts = {a: _materializations(instance, a) for a in DATA_ASSETS}
    missing = sum(1 for a in DATA_ASSETS for k in expected if k not in counts[a])
    repeated = [f"{a}[{k}] x{c}" for a in DATA_ASSETS for k, c in counts[a].items() if k in expected and c > 1]
    twice = len(repeated)
    spans = _model_spans(instance, model_runs)
    overlaps = sum(1 for a, b in zip(spans, spans[1:], strict=False) if b[0] < a[1])
    notes += [f"{FILES} drops to every data asset: {data_seconds:.0f} s; 4 model runs: {model_seconds:.0f} s"]
    notes += [f"{len(runs)} runs, {len(failed)} not successful: {[r['status'] for r in failed][:5]}"]
    notes += [f"'database is locked' in compute logs: {locked_lines}"] if locked_lines else []
    notes += [f"model steps overlapped: {overlaps}"] if overlaps else []
    notes += [f"materialized more than once: {repeated}"] if repeated else []
    total = time.monotonic() - t0
    line = scoreboard.record(
        "load",
        f"{FILES} inbox drops at once + 4 model runs side by side (dagster dev)",
        tried=FILES + 4,
        faults=2,
        survived=int(not missing and not twice and not failed) + int(not overlaps and len(spans) == 4),
        lost=missing,
        duplicated=twice,
        hangs=int(data_seconds + model_seconds > 600),
        exceptions=len(failed) + locked_lines,
        seconds=total,
        notes=notes,
    )
    assert line.clean, notes
