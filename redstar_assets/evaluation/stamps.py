"""Environment stamps of scores, read on the asset side: which of their fields make comparing two scores
suspect, the code commit added to each, and a one-line summary for `redstar lineage`. The code commit is
never a difference: incremental runs train arms at different commits by design."""

from __future__ import annotations

import json
from typing import Any

import polars as pl

from redstar_training.generation.environment import CACHED

# A stamp's fields whose difference makes two scores suspect to compare, libraries aside.
COMPARED = ("backend", "server_version", "dtype", "device", "device_count", "verifier_version",
            "prompt_template_hash", "seeds", "temperature", "top_p", "max_new_tokens")  # fmt: skip
# Fields only the run that generated the samples knows: a stamp whose samples all came from the cache
# says `cached` there, which is "not recorded here", not a difference.
RUNTIME = ("server_version", "dtype", "device", "device_count")


def parse(stamp: str | dict | None) -> dict[str, Any]:
    """A stamp as a dict; none (a score from before stamps) is an empty one."""
    if isinstance(stamp, dict):
        return stamp
    return json.loads(stamp) if stamp else {}


def _cached(stamp: dict[str, Any]) -> bool:
    return stamp.get("samples") == CACHED or stamp.get("dtype") == CACHED


def stamp_differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """The fields in which two stamps differ that make comparing their scores suspect: a library version
    (`libraries.torch`, ...), dtype, device kind or count, backend or server version, verifier version,
    prompt template hash, or sampling. Runtime fields are skipped where either side's samples were cached."""
    skip = set(RUNTIME) if _cached(a) or _cached(b) else set()
    found = [k for k in COMPARED if k not in skip and a.get(k) != b.get(k)]
    libs_a, libs_b = a.get("libraries") or {}, b.get("libraries") or {}
    found += [f"libraries.{k}" for k in sorted(set(libs_a) | set(libs_b)) if libs_a.get(k) != libs_b.get(k)]
    return found


def with_commit(stamp_json: str | None, commit: str) -> str:
    """The stamp (sorted JSON) with the code commit that scored it."""
    return json.dumps({**parse(stamp_json), "code_commit": commit}, sort_keys=True)


def with_commit_column(scores: pl.DataFrame, commit: str) -> pl.DataFrame:
    """Every score row's `environment` with the commit added; rows without a stamp get one naming only it."""
    stamps = scores["environment"].to_list() if "environment" in scores.columns else [None] * scores.height
    return scores.with_columns(pl.Series("environment", [with_commit(s, commit) for s in stamps], dtype=pl.String))


def summary(stamp: dict[str, Any]) -> str:
    """One line: backend (and server version), dtype on device, libraries, verifier, prompt, sampling, commit."""
    if not stamp:
        return "no environment stamp"
    server = f" {stamp['server_version']}" if stamp.get("server_version") not in (None, CACHED) else ""
    if _cached(stamp):
        ran = "dtype and device not recorded (samples from the cache)"
    else:
        count = f" x{stamp['device_count']}" if stamp.get("device_count") else ""
        name = f" ({stamp['device_name']})" if stamp.get("device_name") else ""
        mixed = ", some samples from the cache" if stamp.get("samples") == "mixed" else ""
        ran = f"{stamp.get('dtype')} on {stamp.get('device')}{count}{name}{mixed}"
    libraries = " ".join(f"{k}={v}" for k, v in sorted((stamp.get("libraries") or {}).items()))
    sampling = (
        f"seeds={stamp.get('seeds')} temperature={stamp.get('temperature')} top_p={stamp.get('top_p')} "
        f"max_new_tokens={stamp.get('max_new_tokens')}"
    )
    commit = str(stamp.get("code_commit") or "")
    code = f", code {commit[:12]}{'-dirty' if commit.endswith('-dirty') else ''}" if commit else ""
    return (
        f"{stamp.get('backend')}{server}, {ran}, {libraries}, verifier {stamp.get('verifier_version')}, "
        f"prompt {stamp.get('prompt_template')}#{stamp.get('prompt_template_hash')}, {sampling}{code}"
    )
