"""Resources the assets share: where the data lives, and how model processes are launched."""

from __future__ import annotations

import os
import sys

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


class TrainingLauncher(ConfigurableResource):
    """How model entry points are started: the Python that runs them and torch threads per process.

    `launcher` may be `python` (one process) or `accelerate` (prefixes `accelerate launch` with
    `accelerate_config`, e.g. configs/accelerate/zero2.yaml, for multi-GPU nodes).
    """

    python: str = sys.executable
    threads: int = max(1, min(2, os.cpu_count() or 1))
    launcher: str = "python"
    accelerate_config: str = ""

    def command(self, module: str, config_path: str) -> list[str]:
        if self.launcher == "accelerate":
            extra = ["--config_file", self.accelerate_config] if self.accelerate_config else []
            return [self.python, "-m", "accelerate.commands.launch", *extra, "-m", module, "--config", config_path]
        return [self.python, "-m", module, "--config", config_path]
