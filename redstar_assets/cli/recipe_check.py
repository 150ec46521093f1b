"""TRL's own checks of a profile's recipes at `--dry-run`, in a child process: this side never imports
TRL, and trl_fields.json cannot check one field against another (eval against save strategy, say)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

CHILD = "redstar_training.trainers.recipe_check"
TIMEOUT_S = 300


def check_recipes_with_trl(recipes: dict[str, tuple[str, dict[str, Any]]], where: str) -> list[str]:
    """`{where}: {entry}: {error}` for each recipe (entry: (method, TRL values)) that TRL refuses; a
    child that crashes or hangs is an error naming its command, so a broken check never reads as a pass."""
    if not recipes:
        return []
    with tempfile.TemporaryDirectory(prefix="redstar-recipes-") as tmp:
        path = Path(tmp) / "recipes.json"
        path.write_text(json.dumps({e: {"method": m, "values": v} for e, (m, v) in recipes.items()}, default=str))
        command = [sys.executable, "-m", CHILD, str(path)]
        shown = f"{sys.executable} -m {CHILD} {path.name}"
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}  # nothing in a config check needs the hub
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S, env=env)
        except subprocess.TimeoutExpired:
            return [f"{where}: the TRL recipe check `{shown}` did not finish in {TIMEOUT_S} s"]
    found = _answer(done)
    if found is None:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return [f"{where}: the TRL recipe check `{shown}` failed (exit {done.returncode}): {tail}"]
    return [f"{where}: {entry}: {message}" for entry, message in found.items()]


def _answer(done: subprocess.CompletedProcess[str]) -> dict[str, str] | None:
    """The child's failures from its last stdout line; None when it did not answer as it should (exit 0
    with none, exit 1 with some)."""
    lines = done.stdout.strip().splitlines()
    try:
        found = json.loads(lines[-1]) if lines else None
    except ValueError:
        return None
    if not isinstance(found, dict) or done.returncode != (1 if found else 0):
        return None
    return {str(k): str(v) for k, v in found.items()}
