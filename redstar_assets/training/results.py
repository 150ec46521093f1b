"""What a trainer's Pipes report becomes in Dagster: its materialization with our lineage and a
loss-curve PNG added, then its load-and-generate check."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dagster as dg

from redstar_assets.evaluation.plots import figure, save_png


def checkpoint_results(invocation, lineage: dict[str, Any], plot_dir: Path | None = None):
    """The trainer's reported materialization with our lineage (and a loss-curve PNG) added, then its
    load-and-generate check."""
    for result in invocation.get_results():
        if isinstance(result, dg.MaterializeResult):
            metadata = {**(result.metadata or {}), **lineage}
            curve = metadata.get("loss_curve")
            if plot_dir is not None and curve is not None:
                metadata["loss_plot"] = loss_plot(json.loads(getattr(curve, "value", curve)), plot_dir / "loss.png")
            yield dg.MaterializeResult(metadata=metadata, data_version=result.data_version)
        else:
            yield result


def loss_plot(curve: list, path: Path) -> dg.MetadataValue:
    """Training loss against step, as a PNG beside the checkpoint and inline in the UI."""
    fig, ax = figure().subplots(figsize=(5, 3))
    if curve:
        steps, losses = zip(*curve, strict=True)
        ax.plot(steps, losses, "-o", markersize=2)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return dg.MetadataValue.md(save_png(fig, path, "loss curve").markdown)
