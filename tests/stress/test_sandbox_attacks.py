"""Hostile programs through the code verifier's sandbox, as a model's answer would reach it. Each
program prints 42 (the test's expected output) only when its attack worked, so a passing verdict
is an escape; the host is also checked for the attack's traces (a file written outside, a process
killed, a secret read). A segfault, a fork bomb, an endless loop and a flood must end as failed
verdicts within their limits, never as a crash or a hang of the verifier."""

import socket
import time

import pytest

from redstar_training.verify.code import task_from_tests, verify_code_batch

SECRET = "redstar-planted-secret-7f3a"


def _programs(tmp_path, port: int) -> dict[str, str]:
    outside, secret = tmp_path / "written-from-the-sandbox", tmp_path / "secret.txt"
    secret.write_text(SECRET)
    return {
        "write a file outside": f"open({str(outside)!r}, 'w').write('x'); print(42)",
        "read a host file": f"print(42 if {SECRET!r} in open({str(secret)!r}).read() else 0)",
        "read the environment": f"import os; print(42 if {SECRET!r} in str(os.environ) else 0)",
        "reach the network": (
            f"import socket; s = socket.create_connection(('127.0.0.1', {port}), timeout=2); print(42)"
        ),
        "kill the verifier": "import os, signal; os.kill(os.getppid(), signal.SIGKILL); print(42)",
        "segfault": "import ctypes; ctypes.string_at(0); print(42)",
        "fork bomb": "import os\nwhile True:\n    try: os.fork()\n    except OSError: pass",
        "endless loop": "while True: pass",
        "memory hog": "x = bytearray(16 * 1024**3); print(42)",
        "stdout flood": "import sys\nwhile True: sys.stdout.write('x' * 65536)",
        "sleep past the limit": "import time; time.sleep(3600); print(42)",
    }


def test_hostile_programs_end_as_failed_verdicts_inside_the_sandbox(tmp_path, scoreboard, sandbox, monkeypatch):
    t0 = time.monotonic()
    monkeypatch.setenv("REDSTAR_STRESS_SECRET", SECRET)  # in the verifier's environment, never the program's
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0)
    programs = _programs(tmp_path, listener.getsockname()[1])
    tasks = [task_from_tests(p, [{"input": "", "output": "42"}], timeout_s=5) for p in programs.values()]
    escapes, notes, crashes = 0, [], 0
    try:
        verdicts = verify_code_batch(tasks, workers=2)
    except Exception as exc:  # noqa: BLE001 - a crash is what this attack counts
        verdicts, crashes = [], 1
        notes.append(f"{type(exc).__name__}: {exc}")
    for name, verdict in zip(programs, verdicts, strict=False):
        if verdict.passed:
            escapes += 1
            notes.append(f"{name}: passed (the attack worked)")
    if (tmp_path / "written-from-the-sandbox").exists():
        escapes += 1
        notes.append("a file was written outside the sandbox")
    try:
        listener.accept()
        escapes += 1
        notes.append("a connection reached a host socket")
    except BlockingIOError:
        pass
    listener.close()
    seconds = time.monotonic() - t0
    hung = int(seconds > 180)
    survived = len(verdicts) - sum(v.passed for v in verdicts) if verdicts else 0
    line = scoreboard.record(
        "security",
        "hostile programs in the code sandbox",
        tried=len(programs),
        faults=len(programs),
        survived=survived,
        escapes=escapes,
        hangs=hung,
        exceptions=crashes,
        seconds=seconds,
        notes=notes + [f"{n}: {v.status} ({v.reason[:60]})" for n, v in zip(programs, verdicts, strict=False)],
    )
    assert line.clean, notes


pytestmark = pytest.mark.timeout(600)
