"""The sample cache for a shared filesystem: one append-only shard per writer, read together by key,
merged by a compaction. Many writers at once lose nothing and duplicate nothing; a torn tail is
never read; a live writer's shard is never compacted away."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
from dagster import AssetKey, DagsterInstance

from redstar_training.generation.cache import SampleCache
from redstar_training.generation.types import Completion

WRITER = """
import os, sys, time
from redstar_training.generation.cache import SampleCache
from redstar_training.generation.types import Completion
folder, first, count, hold = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "hold"
cache = SampleCache(folder)
deadline = time.monotonic() + 60
while not os.path.exists(os.path.join(folder, "go")) and time.monotonic() < deadline:
    time.sleep(0.01)  # all writers start together
for start in range(first, first + count, 50):
    batch = range(start, start + 50)
    cache.put_many([Completion(f"k{i:05d}", "p", 0, f"text {i} " + "x" * (i % 97), "stop") for i in batch])
    time.sleep(0.01)
print("written", flush=True)
if hold:
    time.sleep(600)  # killed by the test: its shard is never marked done
cache.close()
"""


def _text(i: int) -> str:
    return f"text {i} " + "x" * (i % 97)


def _writer(folder: Path, first: int, count: int, hold: bool = False) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(folder), str(first), str(count), "hold" if hold else "done"],
        stdout=subprocess.PIPE,
        text=True,
    )


def _lines(folder: Path, pattern: str) -> list[dict]:
    return [json.loads(line) for path in folder.glob(pattern) for line in path.read_text().splitlines()]


def test_eight_writers_at_once_then_a_reader_and_a_compaction_lose_and_duplicate_nothing(tmp_path):
    folder = tmp_path / "samples.shards"
    # 8 processes x 500 samples; each overlaps its neighbour by 100 keys, so some samples are
    # finished by two workers at once
    writers = [_writer(folder, i * 400, 500) for i in range(8)]
    time.sleep(3)  # every writer has its cache open
    (folder / "go").touch()
    expected = {f"k{i:05d}": _text(i) for i in range(8 * 400 + 100)}
    reader = SampleCache(folder)
    seen_while_writing = 0
    while any(w.poll() is None for w in writers):
        got = reader.get_many(expected)
        assert all(c.text == expected[k] for k, c in got.items())  # never half a sample
        seen_while_writing = max(seen_while_writing, len(got))
    assert all(w.returncode == 0 for w in writers)

    assert reader.count() == len(expected) == 3300
    got = reader.get_many(expected)
    lost = set(expected) - set(got)
    assert not lost and all(got[k].text == v and got[k].finish_reason == "stop" for k, v in expected.items())
    shards = list(folder.glob("shard-*.jsonl"))
    assert len(shards) == 8 and len(list(folder.glob("shard-*.done"))) == 8

    stats = SampleCache(folder).store.compact()
    assert stats["records"] == 3300 and stats["merged_files"] == 8
    assert not list(folder.glob("shard-*")) and len(list(folder.glob("compacted-*.jsonl"))) == 1
    rows = _lines(folder, "compacted-*.jsonl")
    assert len(rows) == len({r["key"] for r in rows}) == 3300  # 0 duplicated
    assert {r["key"]: r["text"] for r in rows} == expected  # 0 lost
    # the reader that indexed the shards finds everything again after they were compacted away
    assert reader.get_many(expected).keys() == expected.keys()
    assert SampleCache(folder).store.compact()["merged_files"] == 0


def test_a_torn_tail_is_never_read_and_a_rewrite_of_a_key_is_ignored(tmp_path):
    folder = tmp_path / "c.shards"
    cache = SampleCache(folder)
    assert cache.put_many([Completion(f"k{i}", "p", i, f"t{i}", "stop") for i in range(5)]) == 5
    again = [Completion("k1", "p", 1, "overwritten?", "stop"), Completion("bad", "p", 0, "", "error")]
    assert cache.put_many(again) == 0
    with open(cache.store.shard, "ab") as f:  # a writer killed mid-append, then pages of zeros after a crash
        f.write(b'{"key": "k9", "problem_id": "p", "sample_index": 9, "text": "half')
    other = tmp_path / "c.shards" / "shard-otherhost-1-abcd.jsonl"
    other.write_bytes(b"\0" * 64 + b"\n" + json.dumps({"key": "z"}).encode()[:-1])
    reader = SampleCache(folder)
    assert reader.count() == 5
    assert reader.get_many(["k1", "k9"]).keys() == {"k1"} and reader.get_many(["k1"])["k1"].text == "t1"
    cache.close()


def test_compaction_keeps_a_live_writers_shard_and_merges_a_dead_ones(tmp_path):
    folder = tmp_path / "c.shards"
    folder.mkdir()
    (folder / "go").touch()
    live = _writer(folder, 0, 100, hold=True)
    dead = _writer(folder, 100, 100, hold=True)
    for w in (live, dead):
        assert w.stdout.readline().strip() == "written"
    dead.send_signal(signal.SIGKILL)
    dead.wait()
    stats = SampleCache(folder).store.compact()
    assert stats["merged_files"] == 1 and stats["records"] == 100  # the dead writer's, not the live one's
    assert len(list(folder.glob("shard-*.jsonl"))) == 1
    assert SampleCache(folder).count() == 200
    live.send_signal(signal.SIGKILL)
    live.wait()


def test_a_dead_writer_on_a_host_whose_name_has_dashes_is_merged(tmp_path):
    folder = tmp_path / "c.shards"
    compactor = SampleCache(folder)
    compactor.store.host = "trainer-pod-7f9c"  # Kubernetes pod names are host names with dashes
    dead = folder / "shard-trainer-pod-7f9c-4194303-abcd1234.jsonl"  # above any pid this test can meet
    record = {"key": "k", "problem_id": "p", "sample_index": 0, "text": "t", "finish_reason": "stop"}
    dead.write_text(json.dumps(record) + "\n")
    assert compactor.store.compact()["records"] == 1 and not dead.exists()


def test_the_data_assets_use_shards_when_asked_and_a_rerun_calls_no_teacher(tmp_path, monkeypatch):
    from redstar_assets.cli.run.execute import execute
    from redstar_assets.cli.run.plan import Step
    from redstar_assets.config.profile import load_profile
    from redstar_assets.factory import build_definitions

    home = tmp_path / "data"
    monkeypatch.setenv("REDSTAR_HOME", str(home))
    monkeypatch.setenv("REDSTAR_CACHE_LAYOUT", "shards")
    defs = build_definitions(load_profile("demo-tiny"), str(home))
    instance = DagsterInstance.ephemeral()
    source = load_profile("demo-tiny").sources[0].name
    instance.add_dynamic_partitions("sources", [source])
    step = Step(tuple(AssetKey(k) for k in ("raw_problems", "problems", "teacher_traces", "verified_traces")), source)
    assert execute(defs, instance, [step], {}) is None
    traces = pl.read_parquet(home / "teacher_traces" / source / "data.parquet").height
    assert execute(defs, instance, [step], {}) is None
    events = instance.fetch_materializations(AssetKey("teacher_traces"), limit=2).records
    assert [e.asset_materialization.metadata["cache_hits"].value for e in events] == [traces, 0]
    cache = home / "cache" / "teacher_samples.shards"
    assert cache.is_dir() and not (home / "cache" / "teacher_samples.sqlite").exists()
    assert SampleCache(cache).count() == traces
    verdicts = home / "cache" / "verdicts.shards"  # the verifier's cache follows the layout too (the
    assert verdicts.is_dir() and not (home / "cache" / "verdicts.sqlite").exists()  # demo's are all quick)


def test_verdict_caches_on_shards_are_read_back_by_another_writer(tmp_path):
    from redstar_training.verify.cache import CodeVerdictCache, VerdictCache
    from redstar_training.verify.code import CodeVerdict
    from redstar_training.verify.equivalence import Verdict

    first = VerdictCache(tmp_path / "v.shards")
    first.put_many({"a": Verdict("correct", "equal", "4"), "b": Verdict("wrong", "differs", "5"),
                    "t": Verdict("timeout", "slow", "")})  # fmt: skip
    first.put_many({"a": Verdict("wrong", "rewritten", "4")})  # the first verdict for a key wins
    first.close()
    second = VerdictCache(tmp_path / "v.shards")
    got = second.get_many(["a", "b", "t", "missing"])
    assert got == {"a": Verdict("correct", "equal", "4"), "b": Verdict("wrong", "differs", "5")}
    assert (second.hits, second.misses) == (2, 2)
    code = CodeVerdictCache(tmp_path / "c.shards")
    verdict = CodeVerdict(True, "correct", "all tests passed", [{"name": "t1", "passed": True}])
    code.put_many({"p:t:v1": verdict})
    assert CodeVerdictCache(tmp_path / "c.shards").get_many(["p:t:v1"]) == {"p:t:v1": verdict}


def test_an_unknown_cache_layout_is_refused(monkeypatch):
    from redstar_assets.resources import cache_layout

    monkeypatch.setenv("REDSTAR_CACHE_LAYOUT", "shard")
    with pytest.raises(ValueError, match="REDSTAR_CACHE_LAYOUT='shard' is not one of"):
        cache_layout()
