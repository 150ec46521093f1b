"""Where the data lives: the resource every asset reads and writes through."""

from __future__ import annotations

import os

from dagster import ConfigurableResource

from redstar_assets.storage import Store


class RedstarHome(ConfigurableResource):
    """The data root (REDSTAR_HOME, default ./data) holding every table and checkpoint."""

    home: str = "data"

    def store(self) -> Store:
        return Store(self.home)

    def sample_cache_path(self) -> str:
        """The teacher sample cache (SQLite): every finished completion by its content address."""
        return os.path.join(self.home, "cache", "teacher_samples.sqlite")

    def verdict_cache_path(self) -> str:
        """The shared verifier's verdict cache (SQLite), so re-verifying unchanged traces costs nothing."""
        return os.path.join(self.home, "cache", "verdicts.sqlite")

    def code_verdict_cache_path(self) -> str:
        """Code verdicts (SQLite) by program hash, tests hash and sandbox version."""
        return os.path.join(self.home, "cache", "code_verdicts.sqlite")

    def eval_sample_cache_path(self) -> str:
        """The evaluation sample cache (SQLite), keyed by checkpoint version, item, sampling and index:
        a killed evaluation resumes and a re-run generates nothing."""
        return os.path.join(self.home, "cache", "eval_samples.sqlite")
