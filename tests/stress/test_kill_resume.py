"""SIGKILL of the run worker at seeded random points of each heavy asset, then the same command
again, as a user whose machine died would. `redstar run` is the run worker (it executes its runs in
process), so the kill is the worker's, and the Pipes children it started (trainers, evaluators) must
die with it. The re-run must finish, lose and duplicate nothing, ask the teacher only for what was
not committed, and end with the same data versions as an uninterrupted run of the same graph (the
session's `tiny_run`) for the deterministic stages: curation tables, checkpoints, scores."""

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import polars as pl
import pytest
from dagster import AssetKey, AssetRecordsFilter, DagsterInstance
from support.secret_scan import PLANTED, leaks
from support.versions import data_versions

from redstar_assets.lineage.walk import ASSETS
from redstar_assets.storage import CIRCUMSTANTIAL_COLUMNS

ROOT = Path(__file__).resolve().parents[2]
REDSTAR = Path(sys.executable).parent / "redstar"
ORDER = ASSETS  # the pipeline order
# (asset whose step is killed, its partition when one matters, the latest delay after the step's
# start, in make test). RL is killed twice: in GRPO (cot-random-20) and in DPO (cot-random-40).
KILL_POINTS = [
    ("teacher_traces", None, 1.0, True),
    ("verified_traces", None, 1.0, False),
    ("difficulty_scores", None, 1.0, False),
    ("sft_subsets", None, 0.5, False),
    ("sft_checkpoints", None, 8.0, True),
    ("rl_checkpoints", "cot-random-20", 10.0, False),
    ("rl_checkpoints", "cot-random-40", 10.0, False),
    ("benchmark_scores", None, 8.0, False),
]


def _home(root: Path) -> dict[str, str]:
    """A throwaway instance and data root, and a user's secrets planted in the environment."""
    (root / "dh").mkdir(parents=True)
    (root / "dh" / "dagster.yaml").write_text((ROOT / "dagster_home" / "dagster.yaml").read_text())
    return {**os.environ, **PLANTED, "DAGSTER_HOME": str(root / "dh"), "REDSTAR_HOME": str(root / "data")}


def _started(dagster_home: Path, step: str, partition: str | None) -> bool:
    """Whether a run (of `partition`, when given) has started `step`, read from the instance's SQLite files."""
    runs = None
    if partition is not None:
        try:
            with sqlite3.connect(f"file:{dagster_home / 'history' / 'runs.db'}?mode=ro", uri=True, timeout=5) as db:
                query = "SELECT run_id FROM run_tags WHERE key = 'dagster/partition' AND value = ?"
                runs = {r[0] for r in db.execute(query, (partition,))}
        except sqlite3.Error:
            return False
    for db_file in (dagster_home / "history" / "runs").glob("*.db"):
        if db_file.name == "index.db" or (runs is not None and db_file.stem not in runs):
            continue
        try:
            with sqlite3.connect(f"file:{db_file}?mode=ro", uri=True, timeout=5) as db:
                query = "SELECT 1 FROM event_logs WHERE dagster_event_type = 'STEP_START' AND step_key = ? LIMIT 1"
                if db.execute(query, (step,)).fetchone():
                    return True
        except sqlite3.Error:
            continue
    return False


def _processes_with(env_value: str) -> list[int]:
    """Live processes whose environment holds `env_value` (this attack's data root)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
            state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
        except OSError:
            continue
        if env_value.encode() in environ.split(b"\0") and state != "Z":
            found.append(int(pid))
    return found


def _teacher_requests(instance) -> list[tuple[int, str | None, int]]:
    """(storage id, partition, samples asked of the teacher) of every `teacher_traces` materialization, oldest first."""
    key = AssetKey("teacher_traces")
    records = instance.fetch_materializations(AssetRecordsFilter(asset_key=key), limit=1000, ascending=True)
    return [
        (r.storage_id, r.partition_key, int(r.asset_materialization.metadata["samples_requested"].value))
        for r in records.records
    ]


def _samples_a_graph_needs(instance) -> int:
    """What the uninterrupted run asked of the teacher: its first materialization of each partition (empty cache)."""
    first: dict[str | None, int] = {}
    for _, partition, requested in _teacher_requests(instance):
        first.setdefault(partition, requested)
    return sum(first.values())


def _row_keys(frame: pl.DataFrame) -> list[str]:
    """What identifies each row of a pipeline table, as JSON: its trace id, else its problem id, else its source
    row, else the whole row less the columns that say where or when it was made."""
    for key in (["trace_id"], ["problem_id"], ["source", "source_row"]):
        if all(c in frame.columns for c in key):
            return frame.select(key).write_ndjson().splitlines()
    frame = frame.drop([c for c in CIRCUMSTANTIAL_COLUMNS if c in frame.columns])
    binary = [c for c, dtype in frame.schema.items() if dtype == pl.Binary]
    return frame.with_columns(pl.col(c).bin.encode("hex") for c in binary).write_ndjson().splitlines()


def _duplicated_rows(data: Path, reference: Path, assets: set[str]) -> tuple[int, list[str]]:
    """Rows of `assets`' tables under `data` beyond as many times as the same row appears in the uninterrupted
    run's table under `reference`, in total and by table."""
    total, where = 0, []
    for path in sorted(p for asset in assets for p in (data / asset).glob("*/*.parquet")):
        table = path.relative_to(data)
        theirs = Counter(_row_keys(pl.read_parquet(reference / table))) if (reference / table).exists() else Counter()
        extra = sum(max(0, n - max(1, theirs[k])) for k, n in Counter(_row_keys(pl.read_parquet(path))).items())
        if extra:
            total += extra
            where.append(f"{table}: {extra}")
    return total, where


def _committed_samples(data: Path) -> int:
    path = data / "cache" / "teacher_samples.sqlite"
    if not path.exists():
        return 0
    with sqlite3.connect(path, timeout=30) as db:
        try:
            return db.execute("SELECT count(*) FROM samples").fetchone()[0]
        except sqlite3.OperationalError:
            return 0


def _kill_and_resume(tmp_path, tiny_run, asset: str, partition: str | None, max_delay: float, seed: int) -> dict:
    env = _home(tmp_path)
    data, dagster_home = Path(env["REDSTAR_HOME"]), Path(env["DAGSTER_HOME"])
    cmd = [str(REDSTAR), "run", "--profile", "demo-tiny", "--until", asset]
    out: dict = {"notes": [], "hangs": 0, "exceptions": 0, "killed_in_step": False}
    with (tmp_path / "killed.log").open("w") as log:
        worker = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 300
        while not _started(dagster_home, asset, partition) and worker.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(random.Random(seed).uniform(0, max_delay))
        out["killed_in_step"] = worker.poll() is None
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    committed_at_kill = _committed_samples(data)
    orphans = _processes_with(f"REDSTAR_HOME={data}")
    deadline = time.monotonic() + 30
    while orphans and time.monotonic() < deadline:
        time.sleep(0.5)
        orphans = _processes_with(f"REDSTAR_HOME={data}")
    for pid in orphans:  # left behind: counted, then ended so the suite goes on
        out["notes"].append(f"process {pid} outlived the killed run worker by 30 s")
        os.kill(pid, signal.SIGKILL)
    out["orphans"] = len(orphans)
    instance = DagsterInstance.from_config(str(dagster_home))
    before_rerun = {storage_id for storage_id, _, _ in _teacher_requests(instance)}
    try:
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        (tmp_path / "rerun.log").write_text(done.stdout + done.stderr)
        if done.returncode != 0:
            out["exceptions"] += 1
            out["notes"].append(f"the re-run failed: {done.stdout[-800:]} {done.stderr[-800:]}")
    except subprocess.TimeoutExpired:
        out["hangs"] += 1
        out["notes"].append("the re-run did not finish in 10 minutes")
    mine, reference = data_versions(instance), data_versions(tiny_run.instance)
    wanted = set(ORDER[: ORDER.index(asset) + 1])
    compared = {k for k in mine if k[0] in wanted}
    out["missing"] = sorted(k for k in reference if k[0] in wanted and k not in mine)
    out["differ"] = sorted(k for k in compared if k in reference and mine[k] != reference[k])
    out["duplicated"], out["duplicated_in"] = _duplicated_rows(data, tiny_run.data, wanted)
    if asset in ORDER[ORDER.index("teacher_traces") :]:
        # Paid for: the samples the killed run committed, then what the re-run asked for. Fewer than the graph
        # needs (a negative count) means samples were dropped or miscounted: a fault too.
        rerun = sum(n for storage_id, _, n in _teacher_requests(instance) if storage_id not in before_rerun)
        out["repeated_calls"] = committed_at_kill + rerun - _samples_a_graph_needs(tiny_run.instance)
        out["paid"] = (committed_at_kill, rerun)
    else:
        out["repeated_calls"], out["paid"] = 0, (0, 0)
    out["compared"] = len(compared)
    out["leaks"] = leaks([tmp_path], list(PLANTED.values()))  # event logs, compute logs, data, model cards, output
    return out


def _attack(tmp_path, tiny_run, scoreboard, asset: str, partition: str | None, max_delay: float):
    t0 = time.monotonic()
    where = asset if partition is None else f"{asset}[{partition}]"
    seed = sum(map(ord, where))
    for attempt in range(3):  # a step that ended before the seeded moment: again, sooner
        out = _kill_and_resume(tmp_path / f"try-{attempt}", tiny_run, asset, partition, max_delay / 4**attempt, seed)
        if out["killed_in_step"]:
            break
    notes = out["notes"] + [f"killed {'inside' if out['killed_in_step'] else 'after'} the step (try {attempt + 1})"]
    notes += [f"missing after the re-run: {out['missing']}"] if out["missing"] else []
    notes += [f"data version differs from the uninterrupted run: {out['differ']}"] if out["differ"] else []
    notes += [f"rows duplicated against the uninterrupted run: {out['duplicated_in']}"] if out["duplicated"] else []
    if out["repeated_calls"]:
        committed, rerun = out["paid"]
        sign = "repeated" if out["repeated_calls"] > 0 else "fewer than the graph needs (dropped or miscounted)"
        notes.append(f"teacher samples {sign}: {committed} committed at the kill + {rerun} asked by the re-run")
    notes += [f"planted secret found in {leak}" for leak in out["leaks"][:5]]
    line = scoreboard.record(
        "fault",
        f"SIGKILL of the run worker in {where}, then the same command",
        tried=out["compared"],
        faults=int(out["killed_in_step"]),
        survived=int(
            out["killed_in_step"] and not (out["orphans"] or out["missing"] or out["differ"] or out["exceptions"])
        ),
        lost=len(out["missing"]),
        duplicated=out["duplicated"],
        repeated_calls=out["repeated_calls"],
        escapes=len(out["leaks"]),
        hangs=out["hangs"] + out["orphans"],
        exceptions=out["exceptions"],
        seconds=time.monotonic() - t0,
        notes=notes,
    )
    assert out["killed_in_step"] and line.clean, notes


@pytest.mark.slow
@pytest.mark.parametrize(
    "asset,partition,max_delay",
    [
        pytest.param(a, p, d, marks=() if fast else (pytest.mark.stress_full,), id=a if p is None else f"{a}-{p}")
        for a, p, d, fast in KILL_POINTS
    ],
)
def test_a_run_worker_killed_in_a_heavy_step_resumes_to_the_same_result(
    tmp_path, tiny_run, scoreboard, asset, partition, max_delay
):
    _attack(tmp_path, tiny_run, scoreboard, asset, partition, max_delay)
