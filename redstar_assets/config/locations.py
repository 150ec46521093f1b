"""Where the shipped configuration lives: one place, so profiles, accelerate files and the benchmark
registry are found the same way from any module."""

from __future__ import annotations

import os
from pathlib import Path


def configs_dir() -> Path:
    return Path(os.environ.get("REDSTAR_CONFIGS", Path(__file__).resolve().parents[2] / "configs"))
