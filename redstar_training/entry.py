"""The command line every training entry point shares: `--config FILE [key=value ...]`, Dagster
Pipes when launched by an asset, a progress line before and after, and the report back."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from redstar_training.pipes import dagster_pipes, log
from redstar_training.runconfig import load_config

_BULKY = ("loss_curve", "reward_groups")  # kept in the metrics file, left out of log lines


def report(pipes: Any, model_dir: Path, metrics: dict[str, Any]) -> None:
    """Sends metrics and the 'loads and generates' check back to the asset that launched us (rank 0
    only: the other ranks of a multi-GPU run neither save nor report)."""
    if pipes is None or metrics.get("rank_zero") is False:
        return
    smoke = metrics["smoke"]
    pipes.report_asset_check(
        check_name="checkpoint_loads_and_generates",
        passed=smoke["new_tokens"] > 0,
        metadata={
            "new_tokens": smoke["new_tokens"],
            "stopped_at_eos": smoke["stopped_at_eos"],
            "sample": {"raw_value": smoke["text"][:500], "type": "text"},
        },
    )
    flat = {k: v for k, v in metrics.items() if k not in {"smoke", *_BULKY}}
    flat["loss_curve"] = {"raw_value": json.dumps(metrics["loss_curve"]), "type": "text"}
    flat["model_dir"] = {"raw_value": str(model_dir), "type": "path"}
    pipes.report_asset_materialization(metadata=flat, data_version=metrics["checkpoint_hash"])


def run_entry_point(doc: str, config_cls: type, train: Callable, describe: Callable[[Any], str], argv=None) -> None:
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True)
    parser.add_argument("overrides", nargs="*", help="key=value")
    ns = parser.parse_args(argv)
    cfg = load_config(config_cls, ns.config, ns.overrides)
    with dagster_pipes() as pipes:
        log(pipes, describe(cfg))
        metrics = train(cfg, pipes)
        log(pipes, f"done: {json.dumps({k: v for k, v in metrics.items() if k not in _BULKY}, default=str)}")
        report(pipes, Path(cfg.output_dir) / "model", metrics)
