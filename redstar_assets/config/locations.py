"""Where configuration is found: the user's folders (REDSTAR_CONFIGS, several joined by ':') before
the shipped `configs/`, so a user's profile can `extends:` a shipped one and a user's file of the
same name takes the shipped one's place."""

from __future__ import annotations

import os
from pathlib import Path

SHIPPED = Path(__file__).resolve().parents[2] / "configs"


def config_dirs() -> list[Path]:
    """The search path, first match wins: the user's folders in order, then the shipped one."""
    user = [Path(p) for p in os.environ.get("REDSTAR_CONFIGS", "").split(os.pathsep) if p]
    return [*user, SHIPPED]


def find_config(relative: str | Path) -> Path | None:
    """The first file at `relative` along the search path, or None."""
    return next((d / relative for d in config_dirs() if (d / relative).exists()), None)


def configs_dir() -> Path:
    """The shipped configuration folder (the last and always-present entry of the search path)."""
    return SHIPPED
