"""What `redstar run` shows in the terminal: one line per run, a live progress bar with an ETA while
a model step works, the outcome, and at the end the table. Everything else (Dagster's own log
lines, trainer output, library warnings) goes to a log file whose path is printed, and stays in
the Dagster run's event log, where the UI shows it.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import dagster as dg

PROGRESS = re.compile(r"progress (\d+)/(\d+) (\w+)\s*(.*)")
BAR = 24


@contextlib.contextmanager
def quiet_output(log_path: Path, verbose: bool) -> Iterator[TextIO]:
    """Sends fds 1 and 2 (this process and every child it starts) to `log_path`, and yields a
    stream to the real terminal; with `verbose` everything stays on the terminal."""
    if verbose:
        yield sys.stdout
        return
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    terminal = os.fdopen(os.dup(1), "w", buffering=1)
    with open(log_path, "ab", buffering=0) as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield terminal
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            terminal.close()


def _bar(done: int, total: int) -> str:
    filled = int(BAR * done / max(1, total))
    return "#" * filled + "." * (BAR - filled)


class StepProgress:
    """Follows one run's event log for `progress a/b unit` lines and redraws a live line from them."""

    def __init__(self, instance: dg.DagsterInstance, run_id: str, out: TextIO, prefix: str, live: bool):
        self.instance, self.run_id, self.out, self.prefix, self.live = instance, run_id, out, prefix, live
        self.detail = ""
        self._first: tuple[float, int] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, daemon=True)

    def __enter__(self) -> StepProgress:
        if self.live:
            self._draw("")
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        if self.live:
            self.out.write("\r\x1b[K")

    def _draw(self, text: str) -> None:
        self.out.write(f"\r\x1b[K{self.prefix} {text}"[:200])
        self.out.flush()

    def _update(self, done: int, total: int, unit: str, detail: str) -> None:
        now = time.monotonic()
        if self._first is None or done < self._first[1]:
            self._first = (now, done)
        started, base = self._first
        rate = (done - base) / (now - started) if now > started and done > base else 0.0
        eta = f"ETA {int((total - done) / rate)}s" if rate > 0 else "ETA ?"
        self.detail = detail
        if self.live:
            self._draw(f"{_bar(done, total)} {done}/{total} {unit} {eta} {detail}")

    def _follow(self) -> None:
        cursor = None
        while not self._stop.wait(0.5):
            try:
                conn = self.instance.get_records_for_run(self.run_id, cursor=cursor)
            except Exception:  # the run row may not exist yet
                continue
            cursor = conn.cursor or cursor
            for record in conn.records:
                found = PROGRESS.search(record.event_log_entry.user_message or "")
                if found:
                    self._update(int(found[1]), int(found[2]), found[3], found[4].strip())


def outcome_line(prefix: str, label: str, ok: bool, seconds: float, note: str) -> str:
    return f"{prefix} {label}: {'ok' if ok else 'FAILED'} ({seconds:.1f}s{', ' + note if note else ''})"
