"""A pool of worker processes that runs checks under a hard per-item deadline. Not math-verify's timeout:
it uses `signal.alarm`, which fails off the main thread (sensors and rewards run in threads), and some
inputs hang in C code where no signal reaches. An item past its deadline, counted from its worker's
acknowledgement, is answered `timeout` and its worker replaced; workers are plain subprocesses on a
socket pair (no fork of a threaded parent, no re-import of `__main__`), recycled to bound memory."""

from __future__ import annotations

import importlib
import logging
import queue
import resource
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection, wait
from typing import Any, cast

_ACK = "__started__"
_START_GRACE_S = 120.0  # a fresh worker's first item may wait for its process to come up


def serve(conn: Connection, func_path: str, memory_mb: int | None) -> None:
    """The worker loop: acknowledge each item, run it, send back ("ok", result) or ("raised", message)."""
    if memory_mb:
        resource.setrlimit(resource.RLIMIT_AS, (memory_mb << 20, memory_mb << 20))
    module, name = func_path.rsplit(":", 1)
    func = getattr(importlib.import_module(module), name)
    while True:
        try:
            item = conn.recv()
        except (EOFError, OSError):
            return
        conn.send(_ACK)
        try:
            result = ("ok", func(item))
        except BaseException as exc:  # noqa: BLE001 - any failure is reported, the worker lives on
            result = ("raised", f"{type(exc).__name__}: {exc}"[:500])
        conn.send(result)


class _Worker:
    def __init__(self, func_path: str, memory_mb: int | None, preload: Sequence[str]):
        ours, theirs = socket.socketpair()
        command = [sys.executable, "-c", "from redstar_training.verify.pool import main; main()", str(theirs.fileno())]
        command.append(func_path)
        command += [str(memory_mb or 0), *preload]
        self.process = subprocess.Popen(command, pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL)
        theirs.close()
        self.conn = Connection(ours.detach())
        self.served = 0

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()
        self.conn.close()


class _Running:
    __slots__ = ("worker", "index", "sent", "started")

    def __init__(self, worker: _Worker, index: int):
        self.worker, self.index, self.sent, self.started = worker, index, time.monotonic(), None


class WorkerPool:
    """`map(items)` runs `func(item)` in worker processes; `func` is named "module:function" so a
    worker can import it; `preload` names modules a worker imports before its first item. Results
    come back in order: the function's return value, or `on_timeout(item)` / `on_error(item, message)`
    for items past the deadline or whose worker died."""

    def __init__(
        self,
        func_path: str,
        *,
        workers: int = 2,
        deadline_s: float = 5.0,
        max_tasks_per_worker: int = 500,
        memory_mb: int | None = 4096,
        preload: Sequence[str] = (),
        on_timeout: Callable[[Any], Any],
        on_error: Callable[[Any, str], Any],
    ):
        if workers < 1 or deadline_s <= 0:
            raise ValueError("a pool needs at least one worker and a positive deadline")
        self.func_path, self.deadline_s, self.max_tasks = func_path, deadline_s, max_tasks_per_worker
        self.on_timeout, self.on_error, self.memory_mb = on_timeout, on_error, memory_mb
        self.preload = list(preload)
        self._slots: queue.Queue[_Worker | None] = queue.Queue()
        for _ in range(workers):
            self._slots.put(None)  # started on first use
        self._all: set[_Worker] = set()
        self._lock = threading.Lock()
        self.kills = 0

    def _acquire(self, block: bool) -> _Worker | None:
        try:
            worker = self._slots.get(block=block)
        except queue.Empty:
            return None
        if worker is None or not worker.alive():
            if worker is not None:
                self._discard(worker)
            worker = _Worker(self.func_path, self.memory_mb, self.preload)
            with self._lock:
                self._all.add(worker)
        return worker

    def _release(self, worker: _Worker) -> None:
        worker.served += 1
        if worker.served >= self.max_tasks:
            self._discard(worker)
            self._slots.put(None)
        else:
            self._slots.put(worker)

    def _discard(self, worker: _Worker) -> None:
        worker.kill()
        with self._lock:
            self._all.discard(worker)

    def _kill_and_free(self, worker: _Worker) -> None:
        """Kills a stuck or dead worker and starts its replacement now, so its imports overlap other work."""
        self.kills += 1
        self._discard(worker)
        replacement = _Worker(self.func_path, self.memory_mb, self.preload)
        with self._lock:
            self._all.add(replacement)
        self._slots.put(replacement)

    def map(self, items: Sequence[Any], timings: list | None = None) -> list[Any]:
        """Results in order. With `timings` (a list), each item's (start, answered) monotonic times are
        appended as (index, started, answered), start being the worker's acknowledgement."""
        results: list[Any] = [None] * len(items)
        pending = deque(range(len(items)))
        running: dict[Connection, _Running] = {}
        died_on: set[int] = set()  # items whose worker died once: retried on a fresh worker, then answered
        while pending or running:
            while pending:
                worker = self._acquire(block=not running)
                if worker is None:
                    break
                index = pending.popleft()
                try:
                    worker.conn.send(items[index])
                except (BrokenPipeError, OSError):
                    self._kill_and_free(worker)
                    pending.appendleft(index)
                    continue
                running[worker.conn] = _Running(worker, index)
            for conn in wait(list(running), timeout=self._next_expiry(running)):  # some of `running`'s keys
                retry = self._receive(cast(Connection, conn), running, items, results, timings, died_on)
                if retry is not None:
                    pending.append(retry)
            self._expire(running, items, results, timings)
        return results

    def _next_expiry(self, running: dict[Connection, _Running]) -> float:
        now = time.monotonic()
        ends = [r.started + self.deadline_s if r.started else r.sent + _START_GRACE_S for r in running.values()]
        return max(0.0, min(ends) - now)

    def _receive(
        self, conn: Connection, running: dict, items: Sequence[Any], results: list, timings, died_on: set[int]
    ) -> int | None:
        """Takes one message; returns an item's index to run again when its worker died under it for
        the first time (a worker killed from outside, a crash the input may not cause again): a
        transient death must not become a cached verdict. A second death answers `on_error`."""
        run = running[conn]
        try:
            message = conn.recv()
        except (EOFError, OSError):
            running.pop(conn)
            self._kill_and_free(run.worker)
            if run.index not in died_on:
                died_on.add(run.index)
                return run.index
            results[run.index] = self.on_error(
                items[run.index], "verifier worker died twice on this item (crash or memory limit)"
            )
            return None
        if message == _ACK:
            run.started = time.monotonic()
            return None
        running.pop(conn)
        self._note(run, timings)
        kind, value = message
        results[run.index] = value if kind == "ok" else self.on_error(items[run.index], value)
        self._release(run.worker)
        return None

    def _expire(self, running: dict, items: Sequence[Any], results: list, timings) -> None:
        now = time.monotonic()
        for conn, run in list(running.items()):
            late = run.started and now - run.started >= self.deadline_s
            never_started = not run.started and now - run.sent >= _START_GRACE_S
            if late or never_started:
                running.pop(conn)
                self._note(run, timings)
                item = items[run.index]
                results[run.index] = self.on_timeout(item) if late else self.on_error(item, "worker never started")
                self._kill_and_free(run.worker)

    @staticmethod
    def _note(run: _Running, timings: list | None) -> None:
        if timings is not None:
            timings.append((run.index, run.started, time.monotonic()))

    def close(self) -> None:
        """Stops every worker (also done at interpreter exit: workers are daemons)."""
        with self._lock:
            workers = list(self._all)
            self._all.clear()
        for worker in workers:
            worker.kill()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def main() -> None:
    """Worker process entry: argv is (socket fd, "module:function", memory MB or 0, modules to preload...)."""
    fd, path, memory = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    logging.basicConfig(level=logging.ERROR)  # math-verify warns on every call that its own timeout is off
    for module in sys.argv[4:]:
        importlib.import_module(module)
    serve(Connection(fd), path, memory or None)
