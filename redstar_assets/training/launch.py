"""Launching model entry points as their own processes through Dagster Pipes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, PipesSubprocessClient

from redstar_assets.plots import figure, save_png


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


def checkpoint_results(invocation, lineage: dict[str, Any], plot_dir: Path | None = None):
    """The trainer's reported materialization with our lineage (and a loss-curve PNG) added, then its
    load-and-generate check."""
    for result in invocation.get_results():
        if isinstance(result, MaterializeResult):
            metadata = {**(result.metadata or {}), **lineage}
            curve = metadata.get("loss_curve")
            if plot_dir is not None and curve is not None:
                metadata["loss_plot"] = loss_plot(json.loads(getattr(curve, "value", curve)), plot_dir / "loss.png")
            yield MaterializeResult(metadata=metadata, data_version=result.data_version)
        else:
            yield result


def loss_plot(curve: list, path: Path) -> MetadataValue:
    """Training loss against step, as a PNG beside the checkpoint and inline in the UI."""
    fig, ax = figure().subplots(figsize=(5, 3))
    if curve:
        steps, losses = zip(*curve, strict=True)
        ax.plot(steps, losses, "-o", markersize=2)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return MetadataValue.md(save_png(fig, path, "loss curve").markdown)
