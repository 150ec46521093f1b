"""The problem-level curation the `problems` asset applies after normalization: near duplicates (MinHash
LSH) and decontamination against registered benchmarks, configured by the profile's `curation:` block:
    curation:
      near_duplicates: {threshold: 0.8, num_perm: 128}   # or false
      decontaminate: {benchmarks: [math500, aime2024], ngram: 13, fuzzy_ratio: 80, image_distance: 3}"""

from __future__ import annotations

import polars as pl

from redstar_assets.config.sections import CurationSpec, Decontamination
from redstar_assets.problems.decontaminate import ContaminationIndex, decontaminate
from redstar_assets.problems.dedupe import near_duplicates
from redstar_assets.problems.images import figure_hashes

REMOVED_SCHEMA = {
    "problem_id": pl.String,
    "problem": pl.String,
    "reason": pl.String,
    "kept_or_matched": pl.String,
    "how": pl.String,
}


def contamination_index(spec: Decontamination, registry: dict | None = None) -> ContaminationIndex | None:
    names = spec.benchmarks
    if not names:
        return None
    from redstar_assets.problems.benchmark_files import load_benchmark

    frames = [load_benchmark(n, registry=registry) for n in names]
    return ContaminationIndex(
        pl.concat(frames, how="diagonal_relaxed"),
        spec.ngram,
        float(spec.fuzzy_ratio),
        spec.image_distance,
    )


def curate_problems(frame: pl.DataFrame, curation: CurationSpec, registry: dict | None = None):
    """(kept problems, removed ones with reason `near_duplicate` or `contaminated` and what they
    matched, the contamination index or None)."""
    removed = []
    has_figures = "image" in frame.columns and frame["image"].null_count() < frame.height
    hashes = dict(zip(frame["problem_id"], figure_hashes(frame["image"]), strict=True)) if has_figures else {}
    near = curation.near_duplicate_settings()
    if near is not None:
        dup = near_duplicates(
            frame["problem_id"].to_list(),
            frame["problem"].to_list(),
            float(near.threshold),
            near.num_perm,
            figures=[hashes.get(p) for p in frame["problem_id"]] if hashes else None,
        )
        text = dict(zip(frame["problem_id"], frame["problem"], strict=True))
        removed += [
            {"problem_id": r, "problem": text[r], "reason": "near_duplicate", "kept_or_matched": k, "how": "minhash"}
            for r, k in dup.items()
        ]
        frame = frame.filter(~pl.col("problem_id").is_in(list(dup)))
    index = contamination_index(curation.decontaminate, registry)
    if index is not None:
        frame, hits = decontaminate(frame, index, [hashes.get(p) for p in frame["problem_id"]])
        removed += [
            {
                "problem_id": h["problem_id"],
                "problem": h["problem"],
                "reason": "contaminated",
                "kept_or_matched": f"{h['benchmark']}:{h['item_id']}",
                "how": h["how"],
            }
            for h in hits.to_dicts()
        ]
    return frame, pl.DataFrame(removed, schema=REMOVED_SCHEMA), index
