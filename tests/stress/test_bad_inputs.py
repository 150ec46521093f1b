"""Bad input, for every file a user feeds in: problem files (JSONL, CSV, Parquet) through the real
raw_problems and problems assets, benchmark files through the registry's reader, profiles through
load_profile, and inbox drops. Every bad row must be quarantined naming file, line, field and
reason; no good row may be lost or kept twice; nothing may crash."""

import time

import pytest
import yaml
from dagster import AssetKey, DagsterInstance
from support.bad_inputs import write_csv_corpus, write_jsonl_corpus, write_parquet_corpus

from redstar_assets.factory import build_definitions
from redstar_assets.problems.partitions import SOURCES
from redstar_assets.profile import load_profile
from redstar_assets.storage import Store

SEEDS = (11, 12)


def _ingest(tmp_path, sources: list[dict]):
    """raw_problems and problems materialized for `sources` on a throwaway instance; (store, failures)."""
    profile_file = tmp_path / "stress-inputs.yaml"
    profile_file.write_text(yaml.safe_dump({"extends": "demo-tiny", "name": "stress-inputs", "sources": sources}))
    profile = load_profile(str(profile_file))
    data = tmp_path / "data"
    defs = build_definitions(profile, str(data))
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(SOURCES, [s["name"] for s in sources])
    job = defs.resolve_implicit_global_asset_job_def()
    failures = []
    for source in sources:
        result = job.execute_in_process(
            instance=instance,
            partition_key=source["name"],
            asset_selection=[AssetKey("raw_problems"), AssetKey("problems")],
            raise_on_error=False,
        )
        failures += [e.step_failure_data.error.message for e in result.get_step_failure_events()]
    return Store(data), failures


@pytest.mark.parametrize("seed", SEEDS)
def test_problem_files_of_every_format_quarantine_each_bad_row_and_keep_every_good_one(tmp_path, seed, scoreboard):
    t0 = time.monotonic()
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "crlf").mkdir()
    jsonl, crlf = write_jsonl_corpus(folder, seed), write_jsonl_corpus(folder / "crlf", seed + 100, crlf=True)
    csv_corpus, parquet = write_csv_corpus(folder, seed), write_parquet_corpus(folder, seed)
    sources = [
        {"name": "jsonl", "kind": "file", "path": str(folder / "*.jsonl")},
        {"name": "jsonl-crlf", "kind": "file", "path": str(folder / "crlf" / "*.jsonl")},
        {"name": "csv", "kind": "file", "path": str(folder / "*.csv")},
        {"name": "parquet", "kind": "file", "path": str(folder / "*.parquet")},
    ]
    store, failures = _ingest(tmp_path, sources)
    corpora = {"jsonl": jsonl, "jsonl-crlf": crlf, "csv": csv_corpus, "parquet": parquet}
    lost = duplicated = unnamed = 0
    notes = [f"step failed: {f[:200]}" for f in failures]
    for name, corpus in corpora.items():
        if not store.exists("problems", name):
            lost += len(corpus.good)
            continue
        kept = store.read("problems", name)["problem"].to_list()
        removed = store.read("problems", name, name="removed")
        accounted = set(kept) | set(removed["problem"].to_list())  # a near-duplicate removed is recorded, not lost
        missing = corpus.good - accounted
        lost += len(missing)
        notes += [f"{name}: good row lost: {m[:60]!r}" for m in sorted(missing)[:3]]
        duplicated += len(kept) - len(set(kept))
        quarantine = store.read("raw_problems", name, name="quarantine")
        named = {(r["file"], r["line"]) for r in quarantine.to_dicts() if r["field"] and r["reason"]}
        for file, line, kind in corpus.bad:
            if (file, line) not in named:
                unnamed += 1
                notes.append(f"{name}: bad row not quarantined with file:line:field:reason: {file}:{line} ({kind})")
    bad_rows = sum(len(c.bad) for c in corpora.values())
    line = scoreboard.record(
        "bad input",
        f"problem files (JSONL, CRLF+BOM, CSV, Parquet), seed {seed}",
        tried=sum(len(c.good) + c.duplicates + len(c.bad) for c in corpora.values()),
        faults=bad_rows,
        survived=bad_rows - unnamed,
        lost=lost,
        duplicated=duplicated,
        exceptions=len(failures),
        seconds=time.monotonic() - t0,
        notes=notes,
    )
    assert line.clean, "\n".join(notes)
