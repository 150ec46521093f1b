"""Launching model entry points as their own processes through Dagster Pipes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from dagster import AssetExecutionContext, MaterializeResult, PipesSubprocessClient


def run_entry_point(
    context: AssetExecutionContext,
    pipes: PipesSubprocessClient,
    launcher,
    module: str,
    run_config: dict[str, Any],
    out_dir: Path,
):
    """Writes the run config beside its outputs (so the run can be repeated by hand) and runs it."""
    out_dir.mkdir(parents=True, exist_ok=True)
    config_path = out_dir / "run_config.yaml"
    config_path.write_text(yaml.safe_dump(run_config, sort_keys=True))
    context.log.info(f"launching {' '.join(launcher.command(module, str(config_path)))}")
    return pipes.run(
        context=context,
        command=launcher.command(module, str(config_path)),
        env={"TOKENIZERS_PARALLELISM": "false", "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": str(launcher.threads)},
    )


def checkpoint_results(invocation, lineage: dict[str, Any]):
    """The trainer's reported materialization with our lineage added, then its load-and-generate check."""
    for result in invocation.get_results():
        if isinstance(result, MaterializeResult):
            yield MaterializeResult(metadata={**(result.metadata or {}), **lineage}, data_version=result.data_version)
        else:
            yield result
