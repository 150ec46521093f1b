"""Running model-written programs in a bubblewrap sandbox: a read-only root, a size-limited tmpfs at /tmp
as the only writable place, no network, own PID, IPC and UTS namespaces, no inherited environment (no
secrets), rlimits on CPU, memory, processes and file size, and the whole process tree killed at the wall
deadline or an output cap. As root, the program also drops to an unprivileged uid. Nothing runs outside
it unless the caller passes `unsafe_no_sandbox=True`; a missing `bwrap` is an error, never a fallback."""

from __future__ import annotations

import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot create namespaces here."""


@dataclass(frozen=True)
class SandboxLimits:
    wall_s: float = 10.0
    cpu_s: int = 10
    memory_mb: int = 1024
    max_processes: int = 64
    max_file_mb: int = 16
    scratch_mb: int = 64
    keep_output_bytes: int = 64 << 10  # kept per stream
    kill_output_bytes: int = 16 << 20  # a program printing more than this is killed


@dataclass(frozen=True)
class RunResult:
    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool
    output_limited: bool
    truncated: bool
    wall_s: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out and not self.output_limited

    @property
    def out_of_time(self) -> bool:
        """Past the wall-clock limit, or stopped by the CPU-time limit (SIGXCPU at the soft limit; the
        hard limit, a second later, is SIGKILL): which of the two equal limits fires first is a race,
        and both mean the program ran out of time. Through bwrap a signal death reads 128 + signal."""
        return self.timed_out or self.returncode in (-signal.SIGXCPU, 128 + signal.SIGXCPU)


# Runs first inside the sandbox, as root when the caller is: sets the limits, drops to its own uid,
# then replaces itself with the program's interpreter.
_LAUNCHER = r"""
import json, os, resource, sys
spec = json.loads(sys.argv[1])
for name, value in spec["rlimits"].items():  # CPU: SIGXCPU at the soft limit, SIGKILL a second later
    resource.setrlimit(getattr(resource, name), (value, value + 1 if name == "RLIMIT_CPU" else value))
if os.getuid() == 0:
    os.setgroups([])
    os.setgid(spec["uid"])
    os.setuid(spec["uid"])
os.execv(spec["python"], [spec["python"], "-I", "-S", "-B", *spec["argv"]])
"""

_PYTHON_IN_SANDBOX = "/tmp/.python"
_JOB_IN_SANDBOX = "/tmp/.job"


def bwrap_path() -> str:
    path = shutil.which("bwrap")
    if path is None:
        raise SandboxUnavailable(
            "bubblewrap (`bwrap`) is not installed, so model-written code cannot be run safely; "
            "install it (Debian/Ubuntu: `apt-get install bubblewrap`) or, knowingly, pass unsafe_no_sandbox=True"
        )
    return path


def _rlimits(limits: SandboxLimits) -> dict[str, int]:
    return {
        "RLIMIT_CPU": limits.cpu_s,
        "RLIMIT_AS": limits.memory_mb << 20,
        "RLIMIT_NPROC": limits.max_processes,
        "RLIMIT_FSIZE": limits.max_file_mb << 20,
        "RLIMIT_CORE": 0,
    }


def _sandbox_python() -> str:
    """This interpreter as the sandbox sees it (its prefix is bound read-only at `_PYTHON_IN_SANDBOX`)."""
    prefix = Path(sys.base_prefix)
    return f"{_PYTHON_IN_SANDBOX}/{Path(sys.executable).resolve().relative_to(prefix.resolve())}"


def _bwrap_command(job: Path, limits: SandboxLimits, argv: list[str]) -> list[str]:
    prefix = Path(sys.base_prefix)
    python = _sandbox_python()
    spec = {"rlimits": _rlimits(limits), "uid": 100000 + random.randrange(50000), "python": python, "argv": argv}
    (job / "launch.py").write_text(_LAUNCHER)
    root_only = ["--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    namespaces = root_only if os.geteuid() == 0 else ["--unshare-all"]
    return [
        bwrap_path(),
        "--ro-bind", "/", "/",
        "--dev", "/dev",
        "--proc", "/proc",
        "--perms", "1777", "--size", str(limits.scratch_mb << 20), "--tmpfs", "/tmp",
        "--ro-bind", str(prefix), _PYTHON_IN_SANDBOX,
        "--ro-bind", str(job), _JOB_IN_SANDBOX,
        *namespaces,
        "--die-with-parent", "--new-session",
        "--clearenv",
        "--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin",
        "--setenv", "HOME", "/tmp",
        "--setenv", "LANG", "C.UTF-8",
        "--setenv", "LD_LIBRARY_PATH", f"{_PYTHON_IN_SANDBOX}/lib",
        "--chdir", "/tmp",
        python, "-I", "-S", f"{_JOB_IN_SANDBOX}/launch.py", json.dumps(spec),
    ]  # fmt: skip


def _unsafe_command(job: Path, argv: list[str]) -> list[str]:
    return [sys.executable, "-I", "-S", "-B", *[a.replace(_JOB_IN_SANDBOX, str(job)) for a in argv]]


def run_python(
    source: str,
    stdin: str = "",
    limits: SandboxLimits = SandboxLimits(),
    *,
    unsafe_no_sandbox: bool = False,
) -> RunResult:
    """Runs `source` as a Python program in the sandbox, feeding it `stdin`."""
    with tempfile.TemporaryDirectory(prefix="redstar-sandbox-") as tmp:
        job = Path(tmp)
        (job / "main.py").write_text(source)
        os.chmod(job, 0o755)
        argv = [f"{_JOB_IN_SANDBOX}/main.py"]
        command = _unsafe_command(job, argv) if unsafe_no_sandbox else _bwrap_command(job, limits, argv)
        return _run(command, stdin, limits)


_RUNNER = Path(__file__).with_name("io_runner.py")
SANDBOX_VERSION = "bwrap-io-v2"  # enters code verdict cache keys: a changed sandbox never reuses a verdict


def run_python_tests(
    source: str,
    tests: list[tuple[str, str]],
    limits: SandboxLimits = SandboxLimits(),
    *,
    stderr_bytes: int = 2000,
    unsafe_no_sandbox: bool = False,
) -> list[dict] | str:
    """Every (stdin, expected stdout) test of one program in ONE sandbox start (`io_runner.py` forks a
    fresh interpreter per test inside it), stopping at the first failure. Returns one record per test
    run (returncode, timed_out, output_limited, passed, wall_s, stderr), or a string saying why no
    trustworthy report came back (the program killed the runner, or the sandbox failed)."""
    token = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="redstar-sandbox-") as tmp:
        job = Path(tmp)
        (job / "main.py").write_text(source)
        (job / "io_runner.py").write_text(_RUNNER.read_text())
        os.chmod(job, 0o755)
        outer = replace(
            limits,
            wall_s=len(tests) * (limits.wall_s + 0.5) + 5,
            cpu_s=limits.cpu_s * len(tests) + 5,
            keep_output_bytes=8 << 20,
            kill_output_bytes=16 << 20,
        )
        program: str | Path
        if unsafe_no_sandbox:
            command = _unsafe_command(job, [str(job / "io_runner.py")])
            python, program = sys.executable, job / "main.py"
        else:
            command = _bwrap_command(job, outer, [f"{_JOB_IN_SANDBOX}/io_runner.py"])
            python, program = _sandbox_python(), f"{_JOB_IN_SANDBOX}/main.py"
        spec = {
            "token": token, "tests": tests, "python": str(python), "program": str(program),
            "wall_s": limits.wall_s, "cpu_s": limits.cpu_s, "keep_bytes": limits.keep_output_bytes,
            "kill_bytes": limits.kill_output_bytes, "stderr_bytes": stderr_bytes,
        }  # fmt: skip
        result = _run(command, json.dumps(spec), outer)
    for line in reversed(result.stdout.splitlines()):
        if line.startswith(token):
            return json.loads(line[len(token) :])
    if result.timed_out:
        return "the test runner ran past its deadline"
    return f"no report from the test runner (exit {result.returncode}): {result.stderr[-300:]}"


def _run(command: list[str], stdin: str, limits: SandboxLimits) -> RunResult:
    from redstar_training.verify.io_runner import pump

    started = time.monotonic()
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    try:
        proc = subprocess.Popen(command, stdin=in_r, stdout=out_w, stderr=err_w, start_new_session=True, env=env)
    except BaseException:
        for fd in (in_w, out_r, err_r):
            os.close(fd)
        raise
    finally:
        for fd in (in_r, out_w, err_w):
            os.close(fd)
    caps = {"wall_s": limits.wall_s, "keep_bytes": limits.keep_output_bytes, "kill_bytes": limits.kill_output_bytes}
    pumped = pump(in_w, stdin.encode(), out_r, err_r, started, caps)
    timed_out, output_limited = pumped["timed_out"], pumped["flooded"]
    if not (timed_out or output_limited):
        try:  # both streams closed; the program may still be running
            proc.wait(timeout=max(0.0, limits.wall_s - (time.monotonic() - started)))
        except subprocess.TimeoutExpired:
            timed_out = True
    _kill_group(proc)
    for fd in (out_r, err_r):
        os.close(fd)
    returncode = None if timed_out or output_limited else proc.returncode
    return RunResult(
        returncode=returncode,
        stdout=pumped["stdout"].decode(errors="replace"),
        stderr=pumped["stderr"].decode(errors="replace"),
        timed_out=timed_out,
        output_limited=output_limited,
        truncated=pumped["truncated"],
        wall_s=round(time.monotonic() - started, 3),
    )


def _kill_group(proc: subprocess.Popen) -> None:
    """The program's whole process tree goes: its session's group, and with bwrap gone, its PID namespace."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()
