"""Runs one model command so that it never outlives the Dagster step that started it:
`python -m redstar_training.supervise [--grace-s 20] -- COMMAND [ARG ...]`. The command runs in its own
process group; an interrupt or terminate reaches the whole group, which is killed after `--grace-s`. If
the parent dies, even by SIGKILL, the kernel sends this process SIGTERM (PR_SET_PDEATHSIG), and the command
asks for the same when this process dies, so nothing is orphaned. The exit status is the command's."""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import subprocess
import sys
import time

PR_SET_PDEATHSIG = 1
PARENT_PID_ENV = "REDSTAR_SUPERVISOR_PARENT"


def _sigterm_when_parent_dies() -> bool:
    """Asks the kernel for SIGTERM when this process's parent exits (PR_SET_PDEATHSIG); False where
    there is no such call (not Linux: the group is still cleaned up on signals)."""
    try:
        return ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM) == 0
    except (OSError, AttributeError):
        return False


def _die_with_parent(expected_parent: int | None) -> None:
    """SIGTERM when the parent exits; exits at once if it already has."""
    if not _sigterm_when_parent_dies():
        return
    if expected_parent is not None and os.getppid() != expected_parent:
        sys.exit(f"supervise: parent {expected_parent} exited before the command started")


def _command_dies_with(supervisor: int):
    """The command's pre-exec step: SIGTERM when this supervisor dies, and no start if it already has."""

    def setup() -> None:
        if _sigterm_when_parent_dies() and os.getppid() != supervisor:
            os._exit(1)

    return setup


def _kill_group(pgid: int, sig: int) -> None:
    """The signal to the command's process group; before the command has made its group (between
    fork and its setsid), to the command itself, so a signal in that window is not lost."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pgid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def supervise(command: list[str], grace_s: float) -> int:
    parent = os.environ.pop(PARENT_PID_ENV, None)
    _die_with_parent(int(parent) if parent else None)
    child = subprocess.Popen(command, start_new_session=True, preexec_fn=_command_dies_with(os.getpid()))
    stopping: list[int] = []

    def forward(signum, _frame):
        if not stopping:
            stopping.append(time.monotonic())
            _kill_group(child.pid, signal.SIGINT if signum == signal.SIGINT else signal.SIGTERM)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, forward)
    while True:
        try:
            code = child.wait(timeout=0.2)
            break
        except subprocess.TimeoutExpired:
            if stopping and time.monotonic() - stopping[0] > grace_s:
                _kill_group(child.pid, signal.SIGKILL)
    _kill_group(child.pid, signal.SIGKILL)  # whatever the command left behind in its group
    return code if code >= 0 else 128 - code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--grace-s", type=float, default=20.0, help="seconds between the interrupt and the kill")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    ns = parser.parse_args(argv)
    command = ns.command[1:] if ns.command[:1] == ["--"] else ns.command
    if not command:
        parser.error("no command given")
    return supervise(command, ns.grace_s)


if __name__ == "__main__":
    raise SystemExit(main())
