"""Durable verdict caches, so re-scoring the same outputs (a resumed run, a second report, RL rewards on
repeated samples) costs nothing. Math verdicts are keyed by (gold, prediction, format, mode, options,
verifier version), code verdicts by (program, tests, sandbox version), so a new verifier or sandbox never
reads an old verdict; timeouts and errors depend on the machine and the moment, so they are not cached."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict

from redstar_training.cache.keyed import KeyedCache
from redstar_training.cache.table import Row, Table
from redstar_training.verify.code_types import CodeTask, CodeVerdict
from redstar_training.verify.equivalence import VERIFIER_VERSION, MathTask, Verdict
from redstar_training.verify.sandbox import SANDBOX_VERSION

_CACHEABLE = ("correct", "wrong", "no_answer")


def cache_key(task: MathTask) -> str:
    fields: list[object] = [task.gold, task.output, task.extracted, task.answer_format, task.mode, task.finish_reason]
    fields += [task.tolerance, task.precision, task.language, task.answer_read, VERIFIER_VERSION]
    return hashlib.sha256(json.dumps(fields, ensure_ascii=False).encode()).hexdigest()


class VerdictCache(KeyedCache[Verdict]):
    """Math and choice verdicts by `cache_key`."""

    table = Table(
        "verdicts (key TEXT PRIMARY KEY, status TEXT, reason TEXT, extracted TEXT)",
        ("status", "reason", "extracted"),
        positional=True,
    )

    def _decode(self, key: str, row: Row) -> Verdict:
        return Verdict(**row)

    def put_many(self, verdicts: dict[str, Verdict]) -> int:
        return self.store.put_many([(k, asdict(v)) for k, v in verdicts.items() if v.status in _CACHEABLE])


def code_cache_key(task: CodeTask) -> str:
    """(program hash, tests hash, sandbox version); the time limit is part of the tests."""
    program = hashlib.sha256(task.program.encode()).hexdigest()
    tests = [task.tests, task.entry_point, [list(t) for t in task.io], task.timeout_s]
    tests_hash = hashlib.sha256(json.dumps(tests, ensure_ascii=False).encode()).hexdigest()
    return f"{program}:{tests_hash}:{SANDBOX_VERSION}"


class CodeVerdictCache(KeyedCache[CodeVerdict]):
    """Code verdicts (`CodeVerdict`, stored as JSON) by `code_cache_key`."""

    table = Table("code_verdicts (key TEXT PRIMARY KEY, verdict TEXT)", ("verdict",), positional=True)

    def _decode(self, key: str, row: Row) -> CodeVerdict:
        return CodeVerdict(**json.loads(row["verdict"]))

    def put_many(self, verdicts: dict[str, CodeVerdict]) -> int:
        return self.store.put_many(
            [(k, {"verdict": json.dumps(asdict(v))}) for k, v in verdicts.items() if v.status in ("correct", "wrong")]
        )
