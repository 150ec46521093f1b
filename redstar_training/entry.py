"""The command line every model entry point shares: `--config FILE [key=value ...]`, Dagster Pipes when
an asset launched it, a line before and after, and the results sent back. Trainers report a
materialization (the checkpoint, with its hash as data version) and the 'loads and generates' check;
distillation and evaluation send their results as one Pipes custom message, so none travels in a file."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from redstar_training.files.run_config import ConfigError, RunInputError, load_config
from redstar_training.pipes import dagster_pipes, log

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

_BULKY = ("loss_curve", "reward_groups", "reward_curve")  # kept in the metrics file, left out of log lines


def report_checkpoint(pipes: Any, cfg: Any, metrics: dict[str, Any]) -> None:
    """Sends metrics and the 'loads and generates' check back to the asset that launched us (only
    rank 0 has a Pipes channel: the other ranks of a multi-GPU run neither save nor report)."""
    if pipes is None:
        return
    model_dir = Path(cfg.output_dir) / "model"
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


def report_message(pipes: Any, _cfg: Any, result: dict[str, Any]) -> None:
    """Results as one custom message (the asset reads it with `get_custom_messages()`)."""
    if pipes is not None:
        pipes.report_custom_message(result)


def _summary(result: dict[str, Any]) -> str:
    shown = {k: v for k, v in result.items() if k not in _BULKY and not isinstance(v, (list, dict))}
    return json.dumps(shown, default=str)


def run_entry_point(
    doc: str,
    config_cls: type[DataclassInstance],
    work: Callable[[Any, Any], dict[str, Any]],
    describe: Callable[[Any], str],
    argv: list[str] | None = None,
    report: Callable[[Any, Any, dict[str, Any]], None] = report_checkpoint,
) -> None:
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True)
    parser.add_argument("overrides", nargs="*", help="key=value")
    ns = parser.parse_args(argv)
    try:
        cfg = load_config(config_cls, ns.config, ns.overrides)
        with dagster_pipes() as pipes:  # an error inside reaches the asset through Pipes, then exits here
            log(pipes, describe(cfg))
            result = work(cfg, pipes)
            log(pipes, f"done: {_summary(result)}")
            report(pipes, cfg, result)
    except (ConfigError, RunInputError) as exc:
        raise SystemExit(f"{parser.prog}: {exc}") from None
