"""What a program is checked against and what the check says; the code verifier and its verdict
cache both speak these types."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CodeTask:
    program: str
    tests: str | None = None  # HumanEval: code defining check(candidate)
    entry_point: str | None = None
    io: tuple[tuple[str, str], ...] = ()  # (stdin, expected stdout) pairs
    timeout_s: float = 10.0


@dataclass(frozen=True)
class CodeVerdict:
    passed: bool
    status: str  # correct / wrong / timeout / error
    reason: str
    tests: list[dict] = field(default_factory=list)
    stderr: str = ""
