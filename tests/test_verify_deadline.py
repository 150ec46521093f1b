"""The verifier never hangs: on a generated corpus of pathological answers, every verdict arrives
within deadline + 2 s of its worker starting the item, also with 4 threads calling at once; and the
corpus really does stall plain math-verify (checked in separate processes, killed from outside)."""

import json
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from support.pathological import pathological_answers

from redstar_training.verify import MathTask, MathVerifier

DEADLINE_S = 1.0
SLACK_S = 2.0

_PLAIN = r"""
import json, sys
import math_verify
gold, pred = json.loads(sys.stdin.readline())
print("ready", flush=True)
math_verify.verify(math_verify.parse("$" + gold + "$"), math_verify.parse(pred))
print("done", flush=True)
"""


def _plain_math_verify_runs_past(gold: str, pred: str, limit_s: float) -> bool:
    """True when a plain math-verify call (library defaults) is still running `limit_s` after it started."""
    proc = subprocess.Popen([sys.executable, "-c", _PLAIN], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    proc.stdin.write(json.dumps([gold, pred]) + "\n")
    proc.stdin.flush()
    assert proc.stdout.readline().strip() == "ready"
    try:
        proc.wait(timeout=limit_s)
        return False
    except subprocess.TimeoutExpired:
        return True
    finally:
        proc.kill()
        proc.wait()


def _check_latencies(timings):
    late = [(i, answered - started) for i, started, answered in timings if answered - started > DEADLINE_S + SLACK_S]
    assert not late, f"verdicts later than deadline + {SLACK_S}s: {late[:5]}"


@pytest.mark.slow
def test_pathological_corpus_finishes_within_deadlines():
    pairs = pathological_answers()
    assert len(pairs) >= 200
    tasks = [MathTask(g, p) for g, p in pairs]
    with MathVerifier(workers=2, deadline_s=DEADLINE_S) as verifier:
        timings: list = []
        verdicts = verifier.verify(tasks, timings)
        assert len(verdicts) == len(tasks) and all(v is not None for v in verdicts)
        _check_latencies(timings)
        timed_out = [i for i, v in enumerate(verdicts) if v.status == "timeout"]
        assert len(timed_out) >= 20

        # Four threads at once over the same pool: the same bound, and every batch completes.
        chunks = [tasks[i::4] for i in range(4)]
        per_thread: list[list] = [[] for _ in chunks]
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(lambda k: verifier.verify(chunks[k], per_thread[k]), range(4)))
        assert [len(r) for r in results] == [len(c) for c in chunks]
        for timings in per_thread:
            _check_latencies(timings)
        assert sum(v.status == "timeout" for r in results for v in r) >= 20

    # Independent of our pool: plain math-verify, default settings, runs past the deadline on >= 20 of them.
    with ThreadPoolExecutor(max_workers=2) as pool:
        stalls = list(pool.map(lambda i: _plain_math_verify_runs_past(*pairs[i], DEADLINE_S), timed_out[:24]))
    assert sum(stalls) >= 20, f"only {sum(stalls)} of {len(stalls)} stall plain math-verify"


def test_a_hung_item_does_not_block_other_threads():
    """One thread's stuck check (killed at its deadline) must not hold up another thread's quick ones."""
    with MathVerifier(workers=2, deadline_s=3.0) as verifier:
        verifier.verify([MathTask("1", "\\boxed{\\frac{1}{2}}")])  # workers up
        stuck = threading.Thread(target=verifier.verify, args=([MathTask("1", "\\boxed{9^{9^{9^{9^{9}}}}}")],))
        stuck.start()
        time.sleep(0.2)
        started = time.monotonic()
        quick = verifier.verify([MathTask("\\frac{1}{2}", f"\\boxed{{\\frac{{{k}}}{{{2 * k}}}}}") for k in range(1, 6)])
        elapsed = time.monotonic() - started
        stuck.join()
        assert [v.status for v in quick] == ["correct"] * 5
        assert elapsed < 3.0, f"quick checks waited {elapsed:.1f}s behind a stuck one"
        assert verifier.pool.kills == 1
