"""One `redstar run` step in a process of its own, so independent model steps of a plan group can run
side by side (`launch.parallel`): threads cannot, as every in-process Dagster run reconfigures logging
and redirects the process's stdout and stderr. It runs under `redstar_training.supervise`, so it dies
with `redstar run`, and tags its run with its worker identity, so a later `redstar run` can reclaim it:
`python -m redstar_assets.cli.run.child --profile P --home H --run-id ID --keys '["a"]' [--partition K]`"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field

import dagster as dg

from redstar_assets.cli.run.dead_runs import WORKER_TAG, worker_tag
from redstar_assets.cli.run.plan import Step


@dataclass
class StepOutcome:
    """What `redstar run` needs from a run a child process made, read back from the instance."""

    run_id: str
    success: bool
    all_events: list = field(default_factory=list)

    def get_asset_materialization_events(self) -> list:
        return [e for e in self.all_events if e.is_step_materialization]


def execute_step(job, instance: dg.DagsterInstance, step: Step, run_id: str, tags: dict):
    """One step as one run of the asset job, in this process (`redstar run`'s own, or a child's)."""
    return job.execute_in_process(
        instance=instance,
        partition_key=step.partition,
        asset_selection=list(step.keys),
        run_id=run_id,
        tags=tags,
        raise_on_error=False,
    )


def start(profile_path: str, home: str, step: Step, run_id: str, tags: dict) -> subprocess.Popen:
    """Starts the step's child process (its output goes where this process's fds 1 and 2 go)."""
    from redstar_training.supervise import PARENT_PID_ENV

    keys = [k.to_user_string() for k in step.keys]
    child = [sys.executable, "-m", "redstar_assets.cli.run.child", "--profile", profile_path, "--home", home]
    child += ["--run-id", run_id, "--keys", json.dumps(keys), "--tags", json.dumps(tags)]
    child += ["--partition", step.partition] if step.partition is not None else []
    command = [sys.executable, "-m", "redstar_training.supervise", "--", *child]
    return subprocess.Popen(command, env={**os.environ, PARENT_PID_ENV: str(os.getpid())})


def outcome(instance: dg.DagsterInstance, run_id: str) -> StepOutcome:
    """The finished run as the instance recorded it (no run at all: the child died before starting it)."""
    run = instance.get_run_by_id(run_id)
    events = [entry.dagster_event for entry in instance.all_logs(run_id) if entry.dagster_event is not None]
    return StepOutcome(run_id, run is not None and run.status == dg.DagsterRunStatus.SUCCESS, events)


def main(argv: list[str] | None = None) -> int:
    from redstar_assets.config.profile import load_profile
    from redstar_assets.deploy.instance import open_instance
    from redstar_assets.factory import build_definitions

    parser = argparse.ArgumentParser(prog="python -m redstar_assets.cli.run.child")
    for name in ("--profile", "--home", "--run-id", "--keys"):
        parser.add_argument(name, required=True)
    parser.add_argument("--partition")
    parser.add_argument("--tags", default="{}")
    ns = parser.parse_args(argv)
    defs = build_definitions(load_profile(ns.profile), ns.home)
    step = Step(tuple(dg.AssetKey.from_user_string(k) for k in json.loads(ns.keys)), ns.partition)
    job = defs.resolve_implicit_global_asset_job_def()
    result = execute_step(job, open_instance(), step, ns.run_id, {**json.loads(ns.tags), WORKER_TAG: worker_tag()})
    return 0 if result.success else 1


if __name__ == "__main__":
    raise SystemExit(main())
