"""One background job at a time beside the caller: the caller builds the next piece of work while
the previous one is written (Arrow, zstd, sha256 and SQLite release the GIL), and never holds more
than two pieces. A job's error is raised by the next `submit`, `wait` or `close`."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor


class InFlight:
    def __init__(self, name: str):
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._job: Future | None = None

    def submit(self, fn, *args) -> None:
        """Waits for the job in flight (raising its error), then starts `fn(*args)`."""
        self.wait()
        self._job = self._pool.submit(fn, *args)

    def wait(self) -> None:
        if self._job is not None:
            job, self._job = self._job, None
            job.result()

    def close(self) -> None:
        """Waits for the last job, then stops the thread."""
        try:
            self.wait()
        finally:
            self._pool.shutdown()
