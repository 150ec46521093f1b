"""Real local servers for the distillation tests: `transformers serve` on a free loopback port, and
a fault-injecting HTTP proxy in front of it (429 with Retry-After, 500, too-slow responses,
dropped connections, malformed JSON), counting what it injected."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import random
import signal
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

import psutil

from redstar_training.generation.serve import ServeSpec, free_port, served  # noqa: F401 (tests import it)

FAULTS = ("rate_limited", "server_error", "timeout", "connection", "malformed")


@contextlib.contextmanager
def transformers_serve(model_dir: Path, log_file: Path, startup_s: float = 180) -> Iterator[str]:
    """Starts `transformers serve MODEL` as a user would, yields its base URL (…/v1), stops it."""
    spec = ServeSpec(preset="transformers", args=["--device", "cpu"], timeout_s=startup_s)
    with served(str(model_dir), spec, log_file) as url:
        yield url


@contextlib.contextmanager
def transformers_fleet(model_dir: Path, log_dir: Path, replicas: int) -> Iterator[list[str]]:
    """`replicas` servers of one model started side by side (each spends about 20 s starting, most of
    it importing), their base URLs in order; every one that started is stopped on the way out."""
    managers = [transformers_serve(model_dir, log_dir / f"serve{i}.log") for i in range(replicas)]
    with contextlib.ExitStack() as stack:
        with ThreadPoolExecutor(replicas) as pool:
            starts = [pool.submit(manager.__enter__) for manager in managers]
        urls, failures = [], []
        for manager, start in zip(managers, starts, strict=True):
            try:
                urls.append(start.result())
                stack.push(manager)
            except Exception as err:  # noqa: BLE001 (re-raised below, once the others are registered)
                failures.append(err)
        if failures:
            raise failures[0]
        yield urls


class FaultProxy:
    """Forwards to `upstream` (host:port); with probability `rate` a request instead gets one fault."""

    def __init__(
        self,
        upstream: str,
        rate: float = 0.2,
        seed: int = 0,
        slow_s: float = 2.0,
        retry_after: str = "0.05",
        force_status: int | None = None,
    ):
        """`force_status` answers every request with that HTTP status (an API that refuses the key)."""
        self.upstream, self.rate, self.slow_s, self.retry_after = upstream, rate, slow_s, retry_after
        self.force_status = force_status
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.injected: Counter = Counter()
        self.forwarded = 0
        self.answered: list[float] = []  # time.monotonic() of each forwarded answer
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self._forward(b"")

            def do_POST(self):
                self._forward(self.rfile.read(int(self.headers.get("Content-Length", 0))))

            def _forward(self, body: bytes):
                if proxy.force_status:
                    with proxy.lock:
                        proxy.injected[f"status_{proxy.force_status}"] += 1
                    return self._reply(proxy.force_status, b'{"error": {"message": "refused by test server"}}')
                with proxy.lock:
                    fault = proxy.rng.choice(FAULTS) if proxy.rng.random() < proxy.rate else None
                    if fault:
                        proxy.injected[fault] += 1
                    else:
                        proxy.forwarded += 1
                if fault == "rate_limited":
                    return self._reply(429, b'{"error": {"message": "slow down"}}', {"Retry-After": proxy.retry_after})
                if fault == "server_error":
                    return self._reply(500, b'{"error": {"message": "boom"}}')
                if fault == "timeout":
                    time.sleep(proxy.slow_s)
                    return self._reply(500, b'{"error": {"message": "too late"}}')
                if fault == "connection":
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return None
                if fault == "malformed":
                    return self._reply(200, b'{"id": "x", "choices": [{"message": ')
                conn = http.client.HTTPConnection(proxy.upstream, timeout=120)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                conn.request(self.command, self.path, body=body or None, headers=headers)
                response = conn.getresponse()
                data = response.read()
                conn.close()
                with proxy.lock:
                    proxy.answered.append(time.monotonic())
                return self._reply(response.status, data)

            def _reply(self, status: int, data: bytes, headers: dict | None = None):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                with contextlib.suppress(OSError):
                    self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def summary(self) -> dict:
        return {"forwarded": self.forwarded, **{k: v for k, v in self.injected.items() if v}}


def _kill_listener(url: str) -> None:
    """SIGKILL to the process group of whatever listens on the URL's port (the server's session)."""
    port = urlparse(url).port
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port and conn.pid:
            os.killpg(os.getpgid(conn.pid), signal.SIGKILL)
            return
    raise AssertionError(f"nothing listens on {url}")


class KillAfter:
    """Wraps a backend: after `n` completions, kills one replica (the run goes on against the rest)."""

    def __init__(self, backend, n: int, victim: str):
        self.backend, self.n, self.victim, self.done = backend, n, victim, 0
        self.model_id, self.revision = backend.model_id, backend.revision
        self.lock = threading.Lock()

    def generate(self, requests, sampling, on_done):
        def counted(c):
            on_done(c)
            with self.lock:
                self.done += 1
                if self.done == self.n:
                    _kill_listener(self.victim)

        return self.backend.generate(requests, sampling, counted)


def json_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
