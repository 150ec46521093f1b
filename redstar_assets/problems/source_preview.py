"""What `--dry-run` says about each source before anything runs: its files exist, and its first rows
map through the same validation a run applies, so a missing file, a field the mapping names but the
rows lack, or a value of the wrong type (a `level` in words) shows in seconds, not after the teacher."""

from __future__ import annotations

import itertools

from redstar_assets.config.sources import FileSource, SourceEntry, TraceSource
from redstar_assets.problems.sources import collected, file_records, map_records
from redstar_assets.problems.trace_import import TraceRule

PREVIEW_ROWS = 20


def preview_problems(spec: SourceEntry, rows: int = PREVIEW_ROWS) -> tuple[list[str], list[str]]:
    """(errors, notes) for one source: an error when its files are missing or none of its first
    `rows` rows can be used; a note naming the first unusable row when only some cannot."""
    if not isinstance(spec, FileSource | TraceSource) or spec.path is None:
        return [], []  # a generator, or a Hugging Face dataset read from the cache at run time
    path = spec.path
    entry = f"sources.{spec.name}"
    broken: list[dict] = []
    try:
        records = list(itertools.islice(file_records(spec.name, path, broken), rows))
    except FileNotFoundError:
        return [f"{entry}: no file matches {path!r}"], []
    rule = TraceRule.of(spec.trace_split) if isinstance(spec, TraceSource) else None
    good, quarantine = collected(
        map_records(spec.name, records, spec.mapping, spec.domain, spec.answer_transform, rule)
    )
    return _verdict(entry, len(records), good.height, [*broken, *quarantine.to_dicts()])


def _verdict(entry: str, read: int, good: int, bad: list[dict]) -> tuple[list[str], list[str]]:
    if not bad:
        return [], []
    first = bad[0]
    where = f"{first['file']}:{first['line']} field {first['field']!r}: {first['reason']}"
    if good == 0:
        return [f"{entry}: none of the first {read} rows can be used; the first: {where}"], []
    return [], [f"{entry}: {len(bad)} of the first {read} rows would be quarantined; the first: {where}"]
