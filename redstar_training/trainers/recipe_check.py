"""Parses each recipe into its trainer's run config, so TRL's own __post_init__ checks what
trl_fields.json cannot (one field against another); no model is loaded. `redstar run --dry-run` runs it:
    python -m redstar_training.trainers.recipe_check recipes.json   # {entry: {"method", "values"}}
It prints one JSON line, {entry: error}, and exits 1 when any entry fails.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from redstar_training.trainers import dpo, grpo, sft, trainer_run


def run_config_class(method: str) -> tuple[type, dict[str, Any]]:
    """The run config class `method` trains with and the values the asset or method sets with it (an
    online method is the grpo entry point's `algorithm`)."""
    if method == "sft":
        return sft.SFTRunConfig, {}
    if method == "dpo":
        return dpo.DPORunConfig, {}
    if method not in grpo.ALGORITHMS:
        raise ValueError(f"method {method!r} is not one of {['sft', 'dpo', *grpo.ALGORITHMS]}")
    cls, method_set = grpo.ALGORITHMS[method]
    return cls, {"algorithm": method, **method_set}


def check(method: str, values: dict[str, Any], output_dir: str) -> None:
    """Builds the run config as the trainer's entry point would, with a scratch folder for output_dir."""
    cls, method_set = run_config_class(method)
    trainer_run.parse_run_config(cls, {**values, **method_set, "output_dir": output_dir}, [], "TRL")


def failures(recipes: dict[str, Any]) -> dict[str, str]:
    """Each failing entry and its error; one entry's failure does not hide the next one's."""
    found = {}
    with tempfile.TemporaryDirectory(prefix="redstar-recipe-check-") as scratch:
        for entry, spec in recipes.items():
            try:
                check(spec["method"], dict(spec.get("values") or {}), scratch)
            except Exception as exc:  # any error TRL raises is this entry's answer
                found[entry] = " ".join(str(exc).split()) or type(exc).__name__  # one line each
    return found


def main(argv: list[str] | None = None) -> int:
    (path,) = sys.argv[1:] if argv is None else argv
    found = failures(json.loads(Path(path).read_text()))
    sys.stdout.write(json.dumps(found) + "\n")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
