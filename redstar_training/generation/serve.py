"""An OpenAI-compatible server for one checkpoint, started for an evaluation and stopped after it: `vllm
serve` on a GPU machine, `transformers serve` anywhere, or any command a profile gives. It is asked for
`/health` until it answers 200; one that exits, or does not answer within `timeout_s`, is an error quoting
the last lines of its log, where the reason is (out of GPU memory, an unknown architecture, a port in use)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

PRESETS = {
    "vllm": ["vllm", "serve", "{model}", "--host", "127.0.0.1", "--port", "{port}"],
    "transformers": ["{bin}/transformers", "serve", "{model}", "--host", "127.0.0.1", "--port", "{port}"],
}
LOG_TAIL_LINES = 30


class ServerDidNotStart(RuntimeError):
    """The server exited or never answered its health check; the message ends with its log's tail."""


@dataclass
class ServeSpec:
    preset: str = field(
        default="vllm",
        metadata={"description": "The server to start: vllm or transformers; ignored when command is given."},
    )
    command: list[str] = field(
        default_factory=list,
        metadata={"description": "Your own server command, with {model}, {port} and {bin} placeholders."},
    )
    args: list[str] = field(
        default_factory=list,
        metadata={"description": "Extra arguments appended to the command, e.g. [--tensor-parallel-size, '8']."},
    )
    timeout_s: float = field(
        default=900.0, metadata={"description": "Seconds the server may take to pass its health check."}
    )
    health_path: str = field(
        default="/health", metadata={"description": "The URL path polled until the server answers."}
    )

    def argv(self, model: str, port: int) -> list[str]:
        if not self.command and self.preset not in PRESETS:
            raise ValueError(f"serve.preset {self.preset!r} is not one of {sorted(PRESETS)}")
        template = [*(self.command or PRESETS[self.preset]), *self.args]
        values = {"model": model, "port": str(port), "bin": str(Path(sys.executable).parent)}
        return [part.format(**values) for part in template]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@contextlib.contextmanager
def served(model: str, spec: ServeSpec, log_file: Path) -> Iterator[str]:
    """Starts the server for `model`, yields its base URL (http://127.0.0.1:PORT/v1), stops it."""
    port = free_port()
    argv = spec.argv(model, port)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("w") as log:
        try:
            proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            raise ServerDidNotStart(f"could not start {argv[0]!r} to serve {model}: {exc}") from None
        try:
            health = f"http://127.0.0.1:{port}{spec.health_path}"
            deadline = time.monotonic() + spec.timeout_s
            while not _healthy(health):
                if proc.poll() is not None:
                    raise ServerDidNotStart(
                        f"{' '.join(argv)} exited with code {proc.returncode} before answering {health}; "
                        f"last lines of {log_file}:\n{log_tail(log_file)}"
                    )
                if time.monotonic() > deadline:
                    raise ServerDidNotStart(
                        f"{' '.join(argv)} did not answer {health} within {spec.timeout_s:g}s; "
                        f"last lines of {log_file}:\n{log_tail(log_file)}"
                    )
                time.sleep(0.5)
            yield f"http://127.0.0.1:{port}/v1"
        finally:
            _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM to the server's whole process group (vLLM forks engine workers), SIGKILL after 20 s."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
