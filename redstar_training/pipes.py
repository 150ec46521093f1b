"""Talks to Dagster through Pipes when launched by it, and stays silent when run by hand.

In a distributed run (`accelerate launch`, `torchrun`) rank 0 speaks for all ranks: only it opens
the Pipes channel and prints progress, so the Dagster run gets one log stream and one result."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any


def is_rank_zero() -> bool:
    """True in a single process and in rank 0 of a distributed run (the launchers set RANK)."""
    return int(os.environ.get("RANK", "0")) == 0


@contextlib.contextmanager
def dagster_pipes() -> Iterator[Any]:
    """Yields a Pipes context under Dagster (rank 0 only), else None; training code never needs
    Dagster itself."""
    from dagster_pipes import DAGSTER_PIPES_CONTEXT_ENV_VAR, open_dagster_pipes

    if DAGSTER_PIPES_CONTEXT_ENV_VAR not in os.environ or not is_rank_zero():
        yield None
        return
    with open_dagster_pipes() as pipes:
        yield pipes


def log(pipes: Any, message: str) -> None:
    """One progress line, to the Dagster run log when there is one and to stdout, from rank 0 only."""
    if not is_rank_zero():
        return
    print(message, flush=True)
    if pipes is not None:
        pipes.log.info(message)


def progress(pipes: Any, done: int, total: int, unit: str, detail: str = "") -> None:
    """A progress line in one fixed form, `progress 12/40 steps ...`, that `redstar run` draws as a bar."""
    log(pipes, f"progress {done}/{total} {unit}" + (f" {detail}" if detail else ""))
