"""Talks to Dagster through Pipes when launched by it, and stays silent when run by hand."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def dagster_pipes() -> Iterator[Any]:
    """Yields a Pipes context under Dagster, else None; training code never needs Dagster itself."""
    from dagster_pipes import DAGSTER_PIPES_CONTEXT_ENV_VAR, open_dagster_pipes

    if DAGSTER_PIPES_CONTEXT_ENV_VAR not in os.environ:
        yield None
        return
    with open_dagster_pipes() as pipes:
        yield pipes


def log(pipes: Any, message: str) -> None:
    """One progress line, to the Dagster run log when there is one and to stdout always."""
    print(message, flush=True)
    if pipes is not None:
        pipes.log.info(message)


def progress(pipes: Any, done: int, total: int, unit: str, detail: str = "") -> None:
    """A progress line in one fixed form, `progress 12/40 steps ...`, that `redstar run` draws as a bar."""
    log(pipes, f"progress {done}/{total} {unit}" + (f" {detail}" if detail else ""))
