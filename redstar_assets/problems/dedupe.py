"""Near-duplicate problems, by MinHash LSH over character 5-gram shingles, keeping the first of each
cluster (exact duplicates are dropped at normalization). Character shingles make a changed number or word
cost a few shingles of a long problem but many of a short one (`Compute 348 + 275.` and `Compute 348 +
276.` share under half of theirs), so short generated problems are not merged by accident."""

from __future__ import annotations

from collections.abc import Sequence

from redstar_assets.problems.normalize import canonical


def shingles(text: str, k: int = 5) -> set[bytes]:
    t = canonical(text)
    if len(t) <= k:
        return {t.encode()}
    return {t[i : i + k].encode() for i in range(len(t) - k + 1)}


def lsh_bands(num_perm: int, threshold: float) -> int:
    """Bands for an LSH index over `num_perm` hashes: the divisor of `num_perm` whose S-curve midpoint
    (1/b)^(1/r) lies highest while at least 0.05 below `threshold`, so pairs at the threshold become
    candidates with high probability (candidates are then checked exactly)."""
    options = [b for b in range(1, num_perm + 1) if num_perm % b == 0]
    below = [b for b in options if (1 / b) ** (b / num_perm) <= threshold - 0.05]
    return min(below) if below else num_perm


def near_duplicates(
    ids: Sequence[str],
    texts: Sequence[str],
    threshold: float = 0.8,
    num_perm: int = 128,
    seed: int = 1,
    min_chars: int = 60,
    backend: str = "rensa",
    figures: Sequence[int | None] | None = None,
    image_distance: int = 3,
) -> dict[str, str]:
    """{removed id: kept id} for problems whose estimated shingle Jaccard similarity reaches
    `threshold` with an earlier kept problem (checked exactly on the LSH candidates). Problems
    shorter than `min_chars` are left to exact dedupe: "Compute 320 + 911." and "Compute 320 + 91."
    share 80% of their shingles and are different problems. `backend`: `rensa` (MinHash and LSH in
    Rust) or `datasketch` (pure Python and numpy, kept to compare against). With `figures` (each
    problem's perceptual hash, images.figure_hashes), problems with figures are near duplicates only
    when their figures are too (within `image_distance` bits): "What is angle 2?" over two figures is
    two problems."""
    if backend == "rensa":
        from rensa import RMinHash, RMinHashLSH

        lsh = RMinHashLSH(threshold, num_perm, lsh_bands(num_perm, threshold))

        def signature(sh: set[bytes]):
            m = RMinHash(num_perm, seed)
            m.update(list(sh))
            return m

    elif backend == "datasketch":
        from datasketch import MinHash, MinHashLSH

        lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)

        def signature(sh: set[bytes]):
            m = MinHash(num_perm=num_perm, seed=seed)
            m.update_batch(list(sh))
            return m

    else:
        raise ValueError(f"near-duplicate backend {backend!r}: use rensa or datasketch")
    # (id, text, figure hash); shingles of a candidate are recomputed (rare), not stored
    kept: list[tuple[str, str, int | None]] = []
    removed: dict[str, str] = {}
    for pid, text, code in zip(ids, texts, figures if figures is not None else [None] * len(ids), strict=True):
        if len(text) < min_chars:
            continue
        sh = shingles(text)
        m = signature(sh)
        match = None
        for cand in sorted(lsh.query(m)):  # the earliest kept problem wins, whatever the index's order
            other_id, other_text, other_code = kept[cand]
            if not _same_figure(code, other_code, image_distance):
                continue
            other = shingles(other_text)
            if len(sh & other) / len(sh | other) >= threshold:
                match = other_id
                break
        if match is None:
            lsh.insert(len(kept), m)
            kept.append((pid, text, code))
        else:
            removed[pid] = match
    return removed


def _same_figure(a: int | None, b: int | None, distance: int) -> bool:
    """Both without a figure, or both with figures within `distance` bits."""
    from redstar_assets.problems.images import hash_distance

    if a is None or b is None:
        return a is None and b is None
    return hash_distance(a, b) <= distance
