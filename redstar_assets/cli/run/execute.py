"""`redstar run`: materialize a profile's whole graph (or up to one asset) into the persistent instance.

The runs come from the asset graph (`run_plan`), each one a real Dagster run in the instance under
DAGSTER_HOME, executed in this process by Dagster's in-process executor: the UI and the lineage
queries see every run, and a later `make ui` shows the same materializations.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import dagster as dg

from redstar_assets.cli.run import child as step_process
from redstar_assets.cli.run.dead_runs import WORKER_TAG, reclaim_dead_runs, worker_tag
from redstar_assets.cli.run.display import StepProgress, outcome_line, quiet_output
from redstar_assets.cli.run.plan import Step, batches, plan_steps
from redstar_assets.config.sections import Profile
from redstar_assets.deploy.instance import open_instance
from redstar_assets.factory import build_definitions
from redstar_assets.problems.inbox import source_partition_keys
from redstar_assets.problems.partitions import SOURCES


def register_sources(instance: dg.DagsterInstance, profile: Profile, home: Path) -> None:
    """What the source sensor does on its tick, done now so the plan holds exactly the profile's sources."""
    existing = set(instance.get_dynamic_partitions(SOURCES))
    wanted = source_partition_keys(profile, home)
    missing = [k for k in wanted if k not in existing]
    if missing:
        instance.add_dynamic_partitions(SOURCES, missing)
    for stale in sorted(existing - set(wanted)):
        instance.delete_dynamic_partition(SOURCES, stale)


def _root_cause(event) -> str:
    """The innermost error of a failed step: the user's problem, not the orchestrator's wrapping."""
    error = event.step_failure_data.error
    while error.cause is not None:
        error = error.cause
    return error.message.strip()


def _note(result) -> str:
    """A few words on what the run did: reused results, or the row count of what it wrote."""
    notes = []
    for event in result.get_asset_materialization_events():
        meta = event.materialization.metadata
        if "reused" in meta and meta["reused"].value is True:
            notes.append("reused")
    return ", ".join(sorted(set(notes)))


@dataclass(frozen=True)
class SideBySide:
    """Model steps of one plan group run up to `parallel` at a time, each in a child process that
    loads `profile_path` and writes under `home` (see step_process)."""

    parallel: int
    profile_path: str
    home: str


def claim_gpu_slots(instance: dg.DagsterInstance, wanted: int) -> None:
    """Model steps side by side need as many slots of the `gpu` pool, which Dagster enforces: a step
    without a slot waits. Raises the pool's limit on this instance (the UI's pool page shows it;
    `dagster instance concurrency set gpu 1` lowers it again)."""
    storage = instance.event_log_storage
    have = storage.get_concurrency_info("gpu").slot_count or instance.global_op_concurrency_default_limit or 0
    if have < wanted:
        storage.set_concurrency_slots("gpu", wanted)
        print(f"redstar: gpu pool limit {have} -> {wanted} on this instance (launch.parallel: {wanted})", flush=True)


def execute(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    steps: list[Step],
    tags: dict[str, str],
    watch: Callable[[Step, str], contextlib.AbstractContextManager] | None = None,
    on_done: Callable[[Step, object, float, str], None] | None = None,
    side_by_side: SideBySide | None = None,
):
    """Runs the steps in order as runs of the code location's asset job, in this process; returns
    the failed run's result, or None when all succeeded. With `side_by_side`, a batch of model steps
    (a `gpu` pool's) of one group runs in child processes, several at a time; the next batch
    starts when they are all done, and a failure stops the plan after its batch.
    `watch(step, run_id)` wraps each run (the CLI's progress line), `on_done(step, result, seconds,
    note)` follows it."""
    job = defs.resolve_implicit_global_asset_job_def()

    def run(step: Step, in_child: bool):
        run_id = str(uuid.uuid4())
        t0 = time.time()
        result: step_process.StepOutcome | dg.ExecuteInProcessResult
        with watch(step, run_id) if watch else contextlib.nullcontext() as watcher:
            if in_child:
                assert side_by_side is not None
                step_process.start(side_by_side.profile_path, side_by_side.home, step, run_id, tags).wait()
                result = step_process.outcome(instance, run_id)
            else:
                result = step_process.execute_step(job, instance, step, run_id, tags)
        if on_done:
            on_done(step, result, time.time() - t0, _note(result) or getattr(watcher, "detail", ""))
        return result

    model_keys = {k for ad in defs.assets or [] if isinstance(ad, dg.AssetsDefinition) and ad.op.pool for k in ad.keys}
    for batch in batches(steps):
        if side_by_side and side_by_side.parallel > 1 and len(batch) > 1 and set(batch[0].keys) <= model_keys:
            with ThreadPoolExecutor(max_workers=side_by_side.parallel, thread_name_prefix="redstar-step") as pool:
                results = list(pool.map(lambda step: run(step, True), batch))
        else:
            results = []
            for step in batch:
                results.append(run(step, False))
                if not results[-1].success:
                    break
        failed = [r for r in results if not r.success]
        if failed:
            return failed[0]
    return None


def run_profile(profile: Profile, home: Path, verbose: bool = False, until: str | None = None) -> int:
    defs = build_definitions(profile, str(home))
    instance = open_instance()
    for run_id in reclaim_dead_runs(instance):
        print(f"redstar: run {run_id} lost its worker (killed?): marked failed, its pool slots freed", flush=True)
    register_sources(instance, profile, home)
    steps = plan_steps(defs, instance, until)
    log_path = home / "logs" / f"run-{datetime.now():%Y%m%d-%H%M%S}.log"
    print(
        f"redstar run --profile {profile.name}: {len(steps)} runs into {instance.root_directory}"
        + ("" if verbose else f"\nfull log: {log_path}"),
        flush=True,
    )
    started = time.time()
    parallel = profile.launch.parallel
    if parallel > 1:
        claim_gpu_slots(instance, parallel)
    live = sys.stdout.isatty() and not verbose and parallel == 1  # one live line at a time
    lock = threading.Lock()
    with quiet_output(log_path, verbose) as terminal:

        def watch(step: Step, run_id: str) -> StepProgress:
            return StepProgress(instance, run_id, terminal, f"[{time.time() - started:7.1f}s] {step.label}", live)

        def on_done(step: Step, result, seconds: float, note: str) -> None:
            prefix = f"[{time.time() - started - seconds:7.1f}s]"
            with lock:
                terminal.write(outcome_line(prefix, step.label, result.success, seconds, note) + "\n")
                terminal.flush()

        tags = {"redstar/profile": profile.name, "redstar/cli": "run", WORKER_TAG: worker_tag()}
        side_by_side = SideBySide(parallel, str(profile.path), str(home))
        failed = execute(defs, instance, steps, tags, watch, on_done, side_by_side)
    if failed is not None:
        for event in failed.all_events:
            if event.is_step_failure:
                print(f"redstar: {event.step_key} failed: {_root_cause(event)}", file=sys.stderr)
        where = "" if verbose else f"{log_path} and "
        print(f"redstar: full logs in {where}the Dagster UI (make ui), run {failed.run_id}", file=sys.stderr)
        return 1
    report = home / "ablation_report" / "_" / "report.md"
    if until is None and report.exists():
        print(f"\nAblation report ({report}):\n")
        print(report.read_text())
        print(f"plot: {report.with_name('scaling.png')}")
    print(f"total: {time.time() - started:.1f}s")
    return 0
