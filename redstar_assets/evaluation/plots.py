"""Figures for the UI: a PNG written beside the data and the same image inline as markdown metadata."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Plot:
    path: Path
    markdown: str


def figure():
    """matplotlib's pyplot with the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_png(fig, path: Path, alt: str) -> Plot:
    """Writes `fig` to `path` and returns it inline as a markdown image too."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    figure().close(fig)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())
    return Plot(path, f"![{alt}](data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()})")
