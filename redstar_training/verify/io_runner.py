"""Runs inside the sandbox (never imported): every stdin/stdout test of one program in one sandbox start,
each test a fresh interpreter forked from here, stopping at the first failure. The tests and a one-time
token arrive on stdin and live only in memory; this process is non-dumpable, so the program (same uid)
cannot read or trace it, and a program that kills it leaves no report, which counts as a failure. Only
the standard library is importable in the sandbox, so that is all this imports; `sandbox._run` shares its read loop."""

import ctypes
import json
import os
import resource
import selectors
import signal
import sys
import time

PR_SET_DUMPABLE = 4


def _undumpable() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE, 0) failed")


def _child(program: str, python: str, cpu_s: int, fds: tuple[int, int, int]) -> None:
    """In the forked child: its own session, the three pipes as 0/1/2, nothing else open, then exec."""
    try:
        os.setsid()
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        os.closerange(3, 65536)
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))  # SIGXCPU, then SIGKILL a second later
        os.execv(python, [python, "-I", "-S", "-B", program])
    finally:
        os._exit(127)


def _kill(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def pump(stdin_fd: int, data: bytes, out_fd: int, err_fd: int, started: float, limits: dict) -> dict:
    """Feeds `data` to a program's stdin and reads its stdout and stderr until both close, keeping
    `keep_bytes` of each, until `wall_s` after `started` or `kill_bytes` of output in all. Closes
    stdin_fd (once written) and nothing else. The sandbox's host side runs its programs through this
    loop too (`sandbox._run`): this file imports nothing of the project, so both sides can use it."""
    kept = {out_fd: bytearray(), err_fd: bytearray()}
    selector = selectors.DefaultSelector()
    selector.register(out_fd, selectors.EVENT_READ)
    selector.register(err_fd, selectors.EVENT_READ)
    if data:
        os.set_blocking(stdin_fd, False)
        selector.register(stdin_fd, selectors.EVENT_WRITE)
    else:
        os.close(stdin_fd)
    total, open_streams, timed_out, flooded, truncated = 0, 2, False, False, False
    while open_streams:
        remaining = limits["wall_s"] - (time.monotonic() - started)
        if remaining <= 0:
            timed_out = True
            break
        for key, _ in selector.select(timeout=remaining):
            if key.fd == stdin_fd:
                try:
                    data = data[os.write(stdin_fd, data[:65536]) :]
                except OSError:  # the program closed its stdin or exited
                    data = b""
                if not data:
                    selector.unregister(stdin_fd)
                    os.close(stdin_fd)
                continue
            chunk = os.read(key.fd, 65536)
            if not chunk:
                selector.unregister(key.fd)
                open_streams -= 1
                continue
            total += len(chunk)
            room = limits["keep_bytes"] - len(kept[key.fd])
            truncated |= len(chunk) > room
            kept[key.fd] += chunk[: max(0, room)]
            if total > limits["kill_bytes"]:
                flooded = True
                open_streams = 0
                break
    if data:  # still unwritten when the loop ended
        os.close(stdin_fd)
    selector.close()
    return {"stdout": kept[out_fd], "stderr": kept[err_fd], "timed_out": timed_out, "flooded": flooded,
            "truncated": truncated or flooded}  # fmt: skip


def run_one(program: str, python: str, stdin: str, spec: dict) -> dict:
    """One test: feed stdin, collect output up to the caps, kill at the wall deadline."""
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        _child(program, python, spec["cpu_s"], (in_r, out_w, err_w))
    for fd in (in_r, out_w, err_w):
        os.close(fd)
    pumped = pump(in_w, stdin.encode(), out_r, err_r, started, spec)
    timed_out, flooded = pumped["timed_out"], pumped["flooded"]
    returncode = None
    if not (timed_out or flooded):
        deadline = started + spec["wall_s"]
        while returncode is None and time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                returncode = os.waitstatus_to_exitcode(status)
            else:
                time.sleep(0.002)
        timed_out = returncode is None
    _kill(pid)  # the child's whole session, stragglers included
    if returncode is None:
        os.waitpid(pid, 0)
    for fd in (out_r, err_r):
        os.close(fd)
    return {
        "returncode": returncode,
        "stdout": pumped["stdout"].decode(errors="replace"),
        "stderr": pumped["stderr"].decode(errors="replace"),
        "timed_out": timed_out,
        "output_limited": flooded,
        "wall_s": round(time.monotonic() - started, 3),
    }


def main() -> None:
    _undumpable()
    spec = json.loads(sys.stdin.read())
    sys.stdin.close()
    records = []
    for index, (stdin, expected) in enumerate(spec["tests"]):
        result = run_one(spec["program"], spec["python"], stdin, spec)
        ok = result["returncode"] == 0 and not result["timed_out"] and not result["output_limited"]
        passed = ok and result["stdout"].split() == expected.split()
        result.update(index=index, passed=passed, stdout="")
        result["stderr"] = result["stderr"][-(spec["stderr_bytes"] if not passed else 200) :]
        records.append(result)
        if not passed:
            break
    sys.stdout.write(spec["token"] + json.dumps(records) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
