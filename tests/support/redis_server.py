"""A throwaway Redis for the `queue` deployment's tests: the Debian `redis-server` on a free loopback
port, no persistence, stopped afterwards. `make redis` installs it."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from redstar_training.generation.serve import free_port
from support.required import missing_service


@contextlib.contextmanager
def throwaway_redis() -> Iterator[str]:
    """Yields the broker URL, redis://127.0.0.1:PORT/0."""
    binary = shutil.which("redis-server")
    if binary is None:
        missing_service("redis-server is missing: run `make redis`")
    root = Path(tempfile.mkdtemp(prefix="redstar-redis-"))
    port = free_port()
    argv = [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
            "--dir", str(root), "--logfile", str(root / "log")]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        import redis

        client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)
        deadline = time.monotonic() + 30
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start: {(root / 'log').read_text()[-2000:]}") from None
                time.sleep(0.1)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(root, ignore_errors=True)
