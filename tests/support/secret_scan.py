"""Where a planted secret turned up: every file under the given folders, read as a user's tools
would (Parquet tables decoded, since their text is compressed; everything else as bytes: SQLite
event logs, compute logs, model cards, configs, checkpoints)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

# Variables a user's shell holds while they run the pipeline: each gets a planted value.
PLANTED = {
    "OPENAI_API_KEY": "sk-redstar-planted-openai-5e1f0c",
    "HF_TOKEN": "hf_redstarPlantedToken7c2d",
    "WANDB_API_KEY": "redstar-planted-wandb-91ab",
    "AWS_SECRET_ACCESS_KEY": "redstar/planted/aws+4d2e",
}


def leaks(roots: list[Path], secrets: list[str]) -> list[str]:
    """`file: secret` for each file under `roots` that holds one of `secrets`."""
    found = []
    for root in roots:
        for path in sorted(p for p in Path(root).rglob("*") if p.is_file()):
            try:
                if path.suffix == ".parquet":
                    text = pl.read_parquet(path).write_csv().encode()
                else:
                    text = path.read_bytes()
            except Exception:  # noqa: BLE001 - a file being replaced or unreadable as Parquet: its bytes then
                text = path.read_bytes() if path.exists() else b""
            found += [f"{path}: {s[:12]}..." for s in secrets if s.encode() in text]
    return found
