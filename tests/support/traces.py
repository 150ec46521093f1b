"""Teacher traces collected in memory, for tests that need a small verified set without Dagster."""

from typing import Any

import polars as pl

from redstar_assets.config.teacher import teacher_of
from redstar_assets.traces.teacher import collect_chunks, distilled_trace_chunks


def generate_traces(problems: pl.DataFrame, spec: dict[str, Any], *args, **kwargs) -> tuple[pl.DataFrame, dict]:
    """`distilled_trace_chunks` of a small problem set (the teacher block as a profile writes it),
    collected into one frame and one set of stats."""
    return collect_chunks(distilled_trace_chunks(problems, teacher_of(spec), *args, **kwargs))
