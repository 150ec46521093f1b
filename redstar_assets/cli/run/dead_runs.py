"""Runs whose worker died: a killed `redstar run` leaves its run STARTED for ever, holding its `gpu` pool
slot, so the next `redstar run` would wait for that slot for ever. Each CLI run carries its worker's
identity (host, pid, process start time, so a reused pid is not mistaken for it); before planning, the
CLI fails this host's runs whose worker is gone and frees their slots. Runs the daemon launched are left
to the daemon's run monitoring (dagster_home/dagster.yaml)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import dagster as dg

WORKER_TAG = "redstar/worker"
UNFINISHED = [dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.NOT_STARTED]


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (/proc/PID/stat field 22), or None when
    there is no such process."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def worker_tag() -> str:
    """This process as a run's worker: host, pid and start time."""
    return f"{socket.gethostname()}:{os.getpid()}:{_start_time(os.getpid())}"


def worker_alive(tag: str) -> bool:
    """False only when the worker ran on this host and that process is gone; another host's worker
    cannot be seen from here and counts as alive."""
    host, pid, started = tag.rsplit(":", 2)
    if host != socket.gethostname() or not pid.isdigit():
        return True
    return _start_time(int(pid)) == started


def reclaim_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Marks unfinished CLI runs whose worker died as failed and frees their pool slots; their ids."""
    reclaimed = []
    for run in instance.get_runs(dg.RunsFilter(statuses=UNFINISHED, tags={"redstar/cli": "run"})):
        tag = run.tags.get(WORKER_TAG)
        if tag is None or worker_alive(tag):
            continue
        instance.report_run_failed(run, f"its run worker ({tag}) died without ending it; reclaimed by redstar run")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        reclaimed.append(run.run_id)
    return reclaimed
