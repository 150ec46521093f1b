"""The supervisor that every model command runs under: the command never outlives it, even when the
supervisor is SIGKILLed with nothing to forward (a killed Celery worker's whole process group)."""

import os
import signal
import subprocess
import sys
import time

import psutil


def _wait(check, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
    return value


def _started(supervisor: subprocess.Popen, argv: list[str]) -> psutil.Process:
    """The supervised command once it runs `argv` (past fork, its own group and exec)."""
    [command] = _wait(lambda: psutil.Process(supervisor.pid).children())
    _wait(lambda: command.cmdline() == argv)
    return command


def _dead(command: psutil.Process) -> bool:
    return not psutil.pid_exists(command.pid) or command.status() == psutil.STATUS_ZOMBIE


def test_the_command_dies_when_its_supervisor_is_sigkilled():
    sleeper = [sys.executable, "-c", "import time; time.sleep(120)"]
    supervisor = subprocess.Popen([sys.executable, "-m", "redstar_training.supervise", "--", *sleeper])
    try:
        command = _started(supervisor, sleeper)
        assert os.getpgid(command.pid) == command.pid  # its own process group, out of the supervisor's
        os.kill(supervisor.pid, signal.SIGKILL)
        supervisor.wait()
        assert _wait(lambda: _dead(command)), "the command outlived its SIGKILLed supervisor"
    finally:
        supervisor.kill()


def test_the_exit_status_and_a_terminate_pass_through():
    done = subprocess.run([sys.executable, "-m", "redstar_training.supervise", "--", sys.executable, "-c", "exit(3)"])
    assert done.returncode == 3
    sleeper = [sys.executable, "-c", "import time; time.sleep(120)"]
    supervise = [sys.executable, "-m", "redstar_training.supervise", "--grace-s", "5", "--"]
    supervisor = subprocess.Popen([*supervise, *sleeper])
    command = _started(supervisor, sleeper)
    supervisor.terminate()
    assert supervisor.wait(timeout=15) == 128 + signal.SIGTERM
    assert _dead(command)
