"""Bad input, for every file a user feeds in: problem files (JSONL, CSV, Parquet) through the real
raw_problems and problems assets, benchmark files through the registry's reader, profiles through
load_profile, and inbox drops. Every bad row must be quarantined naming file, line, field and
reason; no good row may be lost or kept twice; nothing may crash."""

import copy
import json
import random
import re
import time
from pathlib import Path

import polars as pl
import pytest
import yaml
from dagster import AssetKey, DagsterInstance
from support.bad_inputs import write_csv_corpus, write_jsonl_corpus, write_parquet_corpus

from redstar_assets.config.benchmark_registry import load_registry
from redstar_assets.config.errors import ProfileError
from redstar_assets.config.profile import load_profile
from redstar_assets.config.sources import source_of
from redstar_assets.factory import build_definitions
from redstar_assets.problems.benchmark_files import read_benchmark
from redstar_assets.problems.inbox import inbox_files, inbox_partition, refused_inbox_files
from redstar_assets.problems.partitions import SOURCES
from redstar_assets.problems.sources import load_source
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


def test_benchmark_files_leave_out_each_bad_row_by_name_and_keep_every_good_one(tmp_path, scoreboard):
    t0 = time.monotonic()
    corpus = write_jsonl_corpus(tmp_path, 21)
    registry = tmp_path / "registry.yaml"
    registry.write_text(yaml.safe_dump({"benchmarks": {"user-bench": {"path": corpus.files[0].name}}}))
    exceptions, notes, unnamed = 0, [], 0
    try:
        read = read_benchmark("user-bench", tmp_path, load_registry(registry))
        kept, left_out = read.items["problem"].to_list(), read.left_out
    except Exception as exc:  # noqa: BLE001 - a crash is what this attack counts
        exceptions, kept, left_out = 1, [], []
        notes.append(f"{type(exc).__name__}: {str(exc)[:200]}")
    named = {(r["file"], r["row"]) for r in left_out if "field" in r["reason"] and f":{r['row']}" in r["reason"]}
    # a benchmark's level is optional metadata: a text level is read as none, and the row is kept
    kept_anyway = {"wrong type: level is text"}
    corpus.good |= {
        json.loads(line_text(corpus.files[0], line))["problem"] for _, line, k in corpus.bad if k in kept_anyway
    }
    corpus.bad = [b for b in corpus.bad if b[2] not in kept_anyway]
    for file, line, kind in corpus.bad:
        if (file, line) not in named:
            unnamed += 1
            notes.append(f"bad row not left out by file:row:field: {line} ({kind})")
    lost = len(corpus.good - set(kept))
    line = scoreboard.record(
        "bad input",
        "benchmark file (JSONL through the registry)",
        tried=len(corpus.good) + corpus.duplicates + len(corpus.bad),
        faults=len(corpus.bad),
        survived=len(corpus.bad) - unnamed,
        lost=lost,
        exceptions=exceptions,
        seconds=time.monotonic() - t0,
        notes=notes,
    )
    assert line.clean, "\n".join(notes)


def line_text(path: Path, number: int) -> str:
    with path.open("rb") as fh:
        return next(line for n, line in enumerate(fh, 1) if n == number).decode("utf-8-sig")


def _mutants(raw: dict, rng: random.Random, count: int) -> list[tuple[str, dict]]:
    """`count` seeded copies of a profile, each with one value replaced by one of the wrong type, or
    one unknown key added: (what was changed, the profile)."""
    paths: list[tuple] = []

    def walk(node, path):
        paths.append(path)
        children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
        for key, child in children:
            walk(child, (*path, key))

    walk(raw, ())
    wrong = {str: [7, ["a"], {"k": 1}], int: ["many", [1], -1e308], float: ["x", {}], bool: ["yes please", 3]}
    wrong |= {dict: [[1, 2], "text", 0], list: [{"k": 1}, "text", 5], type(None): [{"k": [1]}, "x"]}
    out = []
    for _ in range(count):
        path = rng.choice([p for p in paths if p])
        mutant = copy.deepcopy(raw)
        parent = mutant
        for key in path[:-1]:
            parent = parent[key]
        old = parent[path[-1]]
        if rng.random() < 0.2 and isinstance(old, dict):
            old["no_such_key"] = 1
            out.append((f"{'.'.join(map(str, path))}: unknown key", mutant))
            continue
        new = rng.choice(wrong.get(type(old), ["text"]))
        parent[path[-1]] = new
        out.append((f"{'.'.join(map(str, path))}: {old!r:.30} -> {new!r}", mutant))
    return out


HOSTILE_YAML = {
    "alias bomb": "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(9)),
    "python object tag": "name: pwn\nsources: !!python/object/apply:os.system ['touch /tmp/redstar-pwned']\n",
    "recursive alias": "name: loop\nsources: &s [*s]\n",
    "not a mapping": "- just\n- a list\n",
    "not UTF-8": b"name: \xff\xfe\n",
    "tabs and broken YAML": "name: x\n\tsources: [\n",
    "empty": "",
}


def test_profiles_with_wrong_types_unknown_keys_and_hostile_yaml_fail_with_a_named_error(tmp_path, scoreboard):
    t0 = time.monotonic()
    from redstar_assets.config.profile import _load_raw, _resolve_path

    raw = _load_raw(_resolve_path("demo-tiny"))
    cases = [(what, yaml.safe_dump(m)) for what, m in _mutants(raw, random.Random(17), 120)]
    cases += [(what, text) for what, text in HOSTILE_YAML.items()]
    rejected, accepted, crashes, hangs, notes = 0, [], 0, 0, []
    for i, (what, text) in enumerate(cases):
        path = tmp_path / f"mutant-{i}.yaml"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        started = time.monotonic()
        try:
            load_profile(str(path))
            accepted.append(what)
        except ProfileError as exc:
            if str(path) in str(exc):
                rejected += 1
            else:
                crashes += 1
                notes.append(f"{what}: error does not name the file: {str(exc)[:120]}")
        except Exception as exc:  # noqa: BLE001 - a crash is what this attack counts
            crashes += 1
            notes.append(f"{what}: {type(exc).__name__}: {str(exc)[:120]}")
        if time.monotonic() - started > 30:
            hangs += 1
            notes.append(f"{what}: took {time.monotonic() - started:.0f} s")
    assert not Path("/tmp/redstar-pwned").exists(), "a !!python tag ran code"
    notes.append(f"{len(accepted)} of {len(cases)} mutants load")  # every section is typed: each one is a defect
    notes += [f"{what}: loaded" for what in accepted]
    scoreboard.record(
        "bad input",
        "profiles (seeded wrong types and unknown keys, hostile YAML)",
        tried=len(cases),
        faults=len(cases),
        survived=rejected,
        hangs=hangs,
        exceptions=crashes,
        accepted=len(accepted),
        seconds=time.monotonic() - t0,
        notes=notes,
    )
    assert not (accepted or crashes or hangs), "\n".join(notes)


def test_inbox_drops_that_lead_outside_or_collide_are_refused_or_kept_apart(tmp_path, scoreboard):
    t0 = time.monotonic()
    home = tmp_path / "data"
    inbox = home / "inbox"
    inbox.mkdir(parents=True)
    secret = tmp_path / "secret.jsonl"
    secret.write_text('{"problem": "the team\'s private problem", "answer": "1"}\n')
    (inbox / "looks-fine.jsonl").symlink_to(secret)  # a link out of the inbox
    (inbox / "up.jsonl").symlink_to(Path("..") / ".." / "secret.jsonl")
    (inbox / "a b.jsonl").write_text('{"problem": "Compute 1 + 1.", "answer": "2"}\n')
    (inbox / "a-b.jsonl").write_text('{"problem": "Compute 2 + 2.", "answer": "4"}\n')
    (inbox / "a-b.parquet").write_bytes(b"")
    (inbox / "new\nline.jsonl").write_text('{"problem": "Compute 3 + 3.", "answer": "6"}\n')
    files = inbox_files(home)
    keys = [inbox_partition(p) for p in files]
    escapes = sum(p.name in ("looks-fine.jsonl", "up.jsonl") for p in files)
    collisions = len(keys) - len(set(keys))
    refused = refused_inbox_files(home)
    notes = [f"refused {p.name!r}: {why}" for p, why in refused.items()]
    unsafe = [k for k in keys if not re.fullmatch(r"[A-Za-z0-9_.-]+", k)]
    line = scoreboard.record(
        "security",
        "inbox drops: links out of the inbox, colliding and odd names",
        tried=6,
        faults=6,
        survived=6 - escapes - collisions - len(unsafe),
        lost=collisions,
        escapes=escapes,
        seconds=time.monotonic() - t0,
        notes=notes + [f"unsafe key {k!r}" for k in unsafe],
    )
    assert line.clean, line


def test_image_paths_that_leave_the_files_folder_are_refused(tmp_path, scoreboard):
    """A problem file's image path is read relative to the file; one that climbs out (`../`) or is
    absolute is someone reaching for a file that is not theirs."""
    t0 = time.monotonic()
    import io

    from PIL import Image

    outside = tmp_path / "private.png"
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buf, format="PNG")
    outside.write_bytes(buf.getvalue())
    folder = tmp_path / "files"
    (folder / "img").mkdir(parents=True)
    (folder / "img" / "ok.png").write_bytes(buf.getvalue())
    rows = [
        {"problem": "Find x in the figure.", "answer": "1", "image": "img/ok.png"},
        {"problem": "Find y.", "answer": "2", "image": "../private.png"},
        {"problem": "Find z.", "answer": "3", "image": str(outside)},
        {"problem": "Find w.", "answer": "4", "image": {"bytes": None, "path": "img/../../private.png"}},
    ]
    (folder / "geo.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    good, quarantine = load_source(
        source_of({"name": "geo", "kind": "file", "path": str(folder / "geo.jsonl"), "domain": "geo"})
    )
    escapes = good.height - 1
    refused = quarantine.filter(pl.col("field") == "image").height
    line = scoreboard.record(
        "security",
        "image paths in a problem file (../, absolute)",
        tried=4,
        faults=3,
        survived=refused,
        lost=int(good.height == 0),
        escapes=max(escapes, 0),
        seconds=time.monotonic() - t0,
        notes=[f"{r['line']}: {r['reason']}" for r in quarantine.to_dicts()],
    )
    assert line.clean, line
