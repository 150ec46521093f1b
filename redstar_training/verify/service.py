"""The one verifier that rejection sampling, RL rewards and evaluation call.

Cheap work stays in the caller's process: extracting the answer (linear scans), choice letters and
plain numbers ("025" = 25, 27.0 = 27), cache lookups. Only what needs sympy goes to the worker
pool, where a hard deadline bounds it; verdicts then go to the cache.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from redstar_training.verify.cache import VerdictCache, cache_key
from redstar_training.verify.equivalence import MathTask, Verdict, find_answer, no_answer, quick_verdict
from redstar_training.verify.pool import WorkerPool


def _timeout(task: MathTask) -> Verdict:
    return Verdict("timeout", "verification ran past its deadline; the worker was killed", task.output[:200])


def _error(task: MathTask, message: str) -> Verdict:
    return Verdict("error", message, task.output[:200])


def judge_without_alarm(task: MathTask) -> Verdict:
    """What a worker runs: the full judgement with math-verify's own timeouts off (the pool's deadline rules)."""
    from redstar_training.verify.equivalence import judge

    return judge(task, inner_timeout=None)


class MathVerifier:
    """Verdicts for math and choice tasks, in order. Safe to call from any thread."""

    def __init__(
        self,
        *,
        workers: int | None = None,
        deadline_s: float = 5.0,
        cache: VerdictCache | str | Path | None = None,
        max_tasks_per_worker: int = 500,
        memory_mb: int | None = 4096,
        dedupe: bool = True,
    ):
        self.pool = WorkerPool(
            "redstar_training.verify.service:judge_without_alarm",
            workers=workers or min(4, os.cpu_count() or 1),
            deadline_s=deadline_s,
            max_tasks_per_worker=max_tasks_per_worker,
            memory_mb=memory_mb,
            preload=["math_verify"],
            on_timeout=_timeout,
            on_error=_error,
        )
        self.cache = VerdictCache(cache) if isinstance(cache, (str, Path)) else cache
        self.dedupe = dedupe  # judge identical (gold, answer, format, mode) pairs of one batch once
        self.counts = {"quick": 0, "cached": 0, "pooled": 0, "deduped": 0}
        self._lock = threading.Lock()

    def verify(self, tasks: Sequence[MathTask], timings: list | None = None) -> list[Verdict]:
        """Verdicts in order. `timings`, if given, receives (task index, worker start, answered) for
        every task that went to the worker pool."""
        verdicts: list[Verdict | None] = [None] * len(tasks)
        hard: dict[int, MathTask] = {}
        quick: dict[tuple, Verdict | None] = {}  # (gold, answer, format, options) -> quick verdict
        for i, task in enumerate(tasks):
            answer = find_answer(task)
            if answer is None:
                verdicts[i] = no_answer(task)
                continue
            seen = (task.gold, answer, task.answer_format, task.mode, task.tolerance, task.precision, task.language)
            if not self.dedupe or seen not in quick:
                quick[seen] = quick_verdict(task, answer)
            verdicts[i] = quick[seen]
            if verdicts[i] is None:
                hard[i] = replace(task, output=answer, extracted=True, answer_read=True)
        first: dict[MathTask, int] = {}
        copies: dict[int, int] = {}  # task index -> index of the identical task judged for it
        if self.dedupe:
            for i, task in list(hard.items()):
                j = first.setdefault(task, i)
                if j != i:
                    copies[i] = j
                    del hard[i]
        keys = {i: cache_key(t) for i, t in hard.items()} if self.cache else {}
        cached = self.cache.get_many(list(keys.values())) if self.cache else {}
        todo = [i for i in hard if keys.get(i) not in cached]
        for i in hard:
            if i not in todo:
                verdicts[i] = cached[keys[i]]
        pool_timings: list = []
        pooled: dict[int, Verdict] = {}
        for i, verdict in zip(todo, self.pool.map([hard[i] for i in todo], pool_timings), strict=True):
            verdicts[i] = pooled[i] = verdict
        for i, j in copies.items():
            verdicts[i] = verdicts[j]
        if timings is not None:
            timings.extend((todo[j], started, answered) for j, started, answered in pool_timings)
        if self.cache and todo:
            self.cache.put_many({keys[i]: pooled[i] for i in todo})
        with self._lock:
            self.counts["quick"] += len(tasks) - len(hard) - len(copies)
            self.counts["deduped"] += len(copies)
            self.counts["cached"] += len(hard) - len(todo)
            self.counts["pooled"] += len(todo)
        return verdicts  # type: ignore[return-value]

    def close(self) -> None:
        self.pool.close()
        if self.cache:
            self.cache.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


_default: MathVerifier | None = None
_default_lock = threading.Lock()


def default_verifier() -> MathVerifier:
    """One shared verifier per process (no cache), started on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = MathVerifier()
        return _default


def verify_completion(gold: str, completion: str, finish_reason: str = "stop", mode: str = "strict") -> Verdict:
    """Verdict for one model output against one reference answer (through the shared pool)."""
    return default_verifier().verify([MathTask(gold, completion, mode=mode, finish_reason=finish_reason)])[0]
