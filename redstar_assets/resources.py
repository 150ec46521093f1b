"""Where the data lives: the resource every asset reads and writes through."""

from __future__ import annotations

import os

import dagster as dg

from redstar_assets.storage import Store

CACHE_LAYOUTS = ("sqlite", "shards")


def cache_layout() -> str:
    """REDSTAR_CACHE_LAYOUT (default `sqlite`), checked: a typo must not silently mean SQLite on NFS."""
    layout = os.environ.get("REDSTAR_CACHE_LAYOUT", "sqlite")
    if layout not in CACHE_LAYOUTS:
        raise ValueError(f"REDSTAR_CACHE_LAYOUT={layout!r} is not one of {CACHE_LAYOUTS}")
    return layout


class RedstarHome(dg.ConfigurableResource):
    """The data root (REDSTAR_HOME, default ./data) holding every table and checkpoint."""

    home: str = "data"
    # `sqlite`: one SQLite file per cache (samples, verdicts). `shards`: one append-only shard per writer (host,
    # pid), for a data root on a shared filesystem (REDSTAR_CACHE_LAYOUT=shards), where SQLite's
    # locking is not safe across hosts.
    cache_layout: str = "sqlite"

    def store(self) -> Store:
        return Store(self.home)

    def _cache_path(self, name: str) -> str:
        """A cache's path in the layout: `NAME.sqlite`, or the folder `NAME.shards`."""
        suffix = ".shards" if self.cache_layout == "shards" else ".sqlite"
        return os.path.join(self.home, "cache", name + suffix)

    def sample_cache_path(self) -> str:
        """The teacher sample cache: every finished completion by its content address."""
        return self._cache_path("teacher_samples")

    def verdict_cache_path(self) -> str:
        """The shared verifier's verdict cache, so re-verifying unchanged traces costs nothing."""
        return self._cache_path("verdicts")

    def code_verdict_cache_path(self) -> str:
        """Code verdicts by program hash, tests hash and sandbox version."""
        return self._cache_path("code_verdicts")

    def eval_sample_cache_path(self) -> str:
        """The evaluation sample cache, keyed by checkpoint version, item, sampling and index: a killed
        evaluation resumes and a re-run generates nothing."""
        return self._cache_path("eval_samples")
