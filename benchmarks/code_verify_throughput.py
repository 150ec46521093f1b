"""Code verification throughput: `verify_code_batch` (every test of a program in one sandbox start,
two programs side by side, a verdict cache) against a naive sequential loop (one `bwrap` start per
test, stopping at the first failing test), on the same programs in one run, cold cache.

    python benchmarks/code_verify_throughput.py [--programs 500] [--tests 8] [--workers 2]

The programs are stdin/stdout solutions of small generated problems ("read n numbers, print their
sum / maximum / sorted order"), 70% right and 30% failing: a wrong answer on a later test, a runtime
error, or (1 in 100) a loop that never ends (killed at the time limit). Verdicts must be identical.
A second pass over the same programs shows the warm cache. Writes
benchmarks/results/code_verify_throughput.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

EXPRESSIONS = {"sum": "sum(xs)", "max": "max(xs)", "sorted": "' '.join(map(str, sorted(xs)))"}
REFERENCE = {"sum": sum, "max": max, "sorted": lambda xs: " ".join(map(str, sorted(xs)))}
READ = "xs = list(map(int, input().split()))\n"
KINDS = {  # right, or what a failing program gets wrong (from the 4th test on, so early tests pass)
    "right": READ + "print({expr})",
    "wrong": READ + "print({expr} if len(xs) < 4 else 'nope')",
    "crash": READ + "print({expr} if len(xs) < 4 else xs[99])",
    "hang": "while True:\n    pass",
}


def programs(n: int, tests: int, seed: int = 0) -> list[tuple[str, list[tuple[str, str]], str]]:
    """(program, [(stdin, expected stdout)], kind) for n programs, 30% failing."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        op = rng.choice(sorted(EXPRESSIONS))
        cases = []
        for t in range(tests):
            xs = [rng.randint(-50, 50) for _ in range(1 + t)]
            cases.append((" ".join(map(str, xs)) + "\n", str(REFERENCE[op](xs)) + "\n"))
        roll = i % 100
        kind = "hang" if roll == 0 else "crash" if roll < 9 else "wrong" if roll < 30 else "right"
        out.append((KINDS[kind].format(expr=EXPRESSIONS[op]), cases, kind))
    return out


def naive(items, timeout_s: float) -> list[tuple[bool, str]]:
    """One sandbox start per test, sequentially, stopping at the first failing test."""
    from redstar_training.verify.code import same_output
    from redstar_training.verify.sandbox import SandboxLimits, run_python

    limits = SandboxLimits(wall_s=timeout_s, cpu_s=max(1, int(timeout_s)))
    verdicts = []
    for source, cases, _ in items:
        status = "correct"
        for stdin, expected in cases:
            result = run_python(source, stdin, limits)
            if not (result.ok and same_output(result.stdout, expected)):
                status = "timeout" if result.out_of_time else "wrong"
                break
        verdicts.append((status == "correct", status))
    return verdicts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--programs", type=int, default=500)
    parser.add_argument("--tests", type=int, default=8, help="tests per program")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--timeout-s", type=float, default=2.0)
    ns = parser.parse_args()
    from redstar_training.verify.cache import CodeVerdictCache
    from redstar_training.verify.code import CodeTask, verify_code_batch

    items = programs(ns.programs, ns.tests)
    tasks = [CodeTask(source, io=tuple(cases), timeout_s=ns.timeout_s) for source, cases, _ in items]
    started = time.perf_counter()
    baseline = naive(items, ns.timeout_s)
    naive_s = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as tmp:
        cache = CodeVerdictCache(Path(tmp) / "code.sqlite")
        started = time.perf_counter()
        ours = verify_code_batch(tasks, workers=ns.workers, cache=cache)
        ours_s = time.perf_counter() - started
        started = time.perf_counter()
        again = verify_code_batch(tasks, workers=ns.workers, cache=cache)
        warm_s = time.perf_counter() - started
        hits = cache.hits
        cache.close()
    differ = [
        (i, items[i][2], b, v.status)
        for i, (b, v) in enumerate(zip(baseline, ours, strict=True))
        if b != (v.passed, v.status)
    ]
    result = {
        "programs": len(items),
        "tests_per_program": ns.tests,
        "failing": sum(k != "right" for _, _, k in items),
        "kinds": {k: sum(kind == k for _, _, kind in items) for k in ("right", "wrong", "crash", "hang")},
        "workers": ns.workers,
        "cpus": os.cpu_count(),
        "naive_seconds": round(naive_s, 2),
        "naive_programs_per_s": round(len(items) / naive_s, 2),
        "batch_seconds": round(ours_s, 2),
        "batch_programs_per_s": round(len(items) / ours_s, 2),
        "speedup": round(naive_s / ours_s, 2),
        "identical_verdicts": not differ and [(v.passed, v.status) for v in again] == [(v.passed, v.status) for v in ours],  # noqa: E501
        "differences": differ[:20],
        "warm_cache_seconds": round(warm_s, 3),
        "warm_cache_hits": hits,
    }  # fmt: skip
    out = ROOT / "benchmarks" / "results" / "code_verify_throughput.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0 if result["identical_verdicts"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
