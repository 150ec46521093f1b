"""Distillation against real servers: `transformers serve` with a scripted tiny model, a
fault-injecting proxy in front of it, and a distillation process killed mid-run."""

import inspect
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
import yaml
from support.scripted_model import build_scripted_model
from support.servers import FaultProxy, free_port, transformers_serve
from support.traces import generate_traces

from redstar_training.generation.cache import BatchedPuts, SampleCache
from redstar_training.generation.distill import DistillConfig, distill, make_backend
from redstar_training.generation.types import TeacherUnavailable

ROOT = Path(__file__).resolve().parents[1]
ANSWER_7 = "<think>\nCompute 3+4.\n</think>\n\n\\boxed{7}"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = build_scripted_model(tmp_path_factory.mktemp("models") / "scripted")
    with transformers_serve(folder, tmp_path_factory.mktemp("logs") / "serve.log") as url:
        yield url, str(folder)


def _problems(n: int) -> list[dict]:
    return [{"problem_id": f"p{i:03d}", "problem": f"Compute {i} + {7 - i}.", "answer": "7"} for i in range(n)]


def _openai(url: str, model: str, **kw) -> dict:
    return {"kind": "openai", "base_url": url, "model": model, "concurrency": 4, "backoff_base_s": 0.01, **kw}


def _run(problems, backend, cache_file, **cfg):
    config = DistillConfig(backend=backend, sampling={"temperature": 0.7, "max_tokens": 40}, **cfg)
    cache = SampleCache(cache_file)
    try:
        return distill(problems, config, make_backend(backend, problems), cache, log=lambda m: None)
    finally:
        cache.close()


def test_batched_puts_commit_in_the_background_and_never_twice(tmp_path):
    from redstar_training.generation.cache import BatchedPuts
    from redstar_training.generation.types import Completion

    cache = SampleCache(tmp_path / "c.sqlite")
    done = [Completion(f"k{i:04d}", f"p{i}", 0, f"text {i}", "stop") for i in range(700)]
    puts = BatchedPuts(cache, every=256)
    for c in done:
        puts.add(c)  # three multi-row transactions, each committed on the cache's thread
    puts.close()
    assert cache.count() == 700
    assert cache.get_many(["k0000", "k0699"])["k0699"].text == "text 699"
    again = [Completion("k0001", "p1", 0, "overwritten?", "stop"), Completion("k9999", "p", 0, "new", "stop")]
    assert cache.put_many(again) == 1 and cache.get_many(["k0001"])["k0001"].text == "text 1"
    cache.close()


def test_openai_backend_end_to_end_and_rerun_makes_no_calls(server, tmp_path):
    url, model = server
    problems = _problems(8)
    completions, skipped, stats = _run(problems, _openai(url, model), tmp_path / "c.sqlite", samples_per_problem=3)
    assert not skipped and len(completions) == 24 and stats["requests_made"] == 24
    texts = {c.text for c in completions}
    assert texts <= {ANSWER_7, ANSWER_7.replace("{7}", "{8}")}  # reasoning_content put back as <think>
    assert all(c.finish_reason == "stop" and c.prompt_tokens > 0 and c.completion_tokens > 0 for c in completions)
    again, _, stats2 = _run(problems, _openai(url, model), tmp_path / "c.sqlite", samples_per_problem=3)
    assert stats2["requests_made"] == 0 and stats2["cache_hits"] == 24
    assert [c.text for c in again] == [c.text for c in completions]
    raw, _, _ = _run(
        problems[:1], _openai(url, model, endpoint="completions"), tmp_path / "raw.sqlite", samples_per_problem=1
    )
    assert raw[0].text.startswith("<think>Compute 3+4.</think>\n\\boxed{")


def test_rejection_sampling_stops_after_k_correct(server, tmp_path):
    url, model = server
    problems = _problems(6)
    completions, _, stats = _run(
        problems, _openai(url, model), tmp_path / "k.sqlite", samples_per_problem=12, stop_after_correct=2
    )
    by_problem = {}
    for c in completions:
        by_problem.setdefault(c.problem_id, []).append(c)
    for pid, samples in by_problem.items():
        right = [c for c in samples if c.text.endswith("{7}")]
        assert len(right) >= 2 or len(samples) == 12, pid
        assert len(samples) % 2 == 0  # whole rounds of K=2 indices
        assert sorted(c.sample_index for c in samples) == list(range(len(samples)))
    assert stats["problems_reaching_k_correct"] == 6 and stats["samples_requested"] < 6 * 12
    again, _, stats2 = _run(
        problems, _openai(url, model), tmp_path / "k.sqlite", samples_per_problem=12, stop_after_correct=2
    )
    assert [c.key for c in again] == [c.key for c in completions] and stats2["requests_made"] == 0


def test_faults_are_retried_every_sample_lands_once_and_counts_match(server, tmp_path):
    url, model = server
    upstream = url.removeprefix("http://").removesuffix("/v1")
    with FaultProxy(upstream, rate=0.25, seed=3, slow_s=1.5) as proxy:
        backend = _openai(proxy.url, model, timeout_s=0.75, max_retries=12)
        completions, _, stats = _run(_problems(20), backend, tmp_path / "f.sqlite", samples_per_problem=3)
    assert len(completions) == 60 and len({c.key for c in completions}) == 60
    assert all(c.ok for c in completions) and stats["failed_by_kind"] == {}
    injected = {k: v for k, v in proxy.injected.items() if v}
    assert sum(injected.values()) >= 8, injected
    assert stats["retries_by_kind"] == injected
    print(f"fault proxy injected {injected}; client counted {stats['retries_by_kind']}")
    assert proxy.forwarded == 60  # each sample reached the model exactly once
    assert stats["requests_made"] == 60 + sum(injected.values())
    with sqlite3.connect(tmp_path / "f.sqlite") as db:
        assert db.execute("SELECT count(*), count(DISTINCT key) FROM samples").fetchone() == (60, 60)


def test_refused_key_fails_fast_without_leaking_it(server, tmp_path, monkeypatch):
    url, model = server
    monkeypatch.setenv("REDSTAR_TEST_KEY", "sk-very-secret-123")
    with FaultProxy("127.0.0.1:9", force_status=401) as proxy:
        with pytest.raises(TeacherUnavailable) as info:
            _run(_problems(5), _openai(proxy.url, model, api_key_env="REDSTAR_TEST_KEY"), tmp_path / "a.sqlite")
    assert "HTTP 401" in str(info.value) and proxy.url in str(info.value)
    assert "sk-very-secret" not in str(info.value)
    assert proxy.injected["status_401"] <= 4  # at most one request per concurrent worker, no retries


def test_bad_request_fails_that_sample_only_and_unreachable_server_names_url(server, tmp_path):
    url, _ = server
    completions, _, stats = _run(
        _problems(2), _openai(url, "/no/such/model"), tmp_path / "b.sqlite", samples_per_problem=2
    )
    assert [c.finish_reason for c in completions] == ["error"] * 4
    assert all(c.error_kind == "bad_request" and "HTTP 400" in c.error for c in completions)
    assert stats["requests_made"] == 4 and stats["failed_by_kind"] == {"bad_request": 4}
    dead = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(TeacherUnavailable, match=f"{dead} unreachable after 3 attempts"):
        _run(_problems(1), _openai(dead, "m", max_retries=2), tmp_path / "d.sqlite")


def test_empty_and_overlong_problems_are_skipped_with_a_reason(tmp_path):
    problems = [
        *_problems(3),
        {"problem_id": "empty", "problem": "   ", "answer": "1"},
        {"problem_id": "long", "problem": "Compute 1 + 1." + " " * 50, "answer": "2"},
    ]
    completions, skipped, stats = _run(
        problems, {"kind": "procedural"}, tmp_path / "s.sqlite", samples_per_problem=2, max_problem_chars=40
    )
    assert skipped == {"empty": "empty problem", "long": "problem has 64 characters, over max_problem_chars=40"}
    assert len(completions) == 6 and stats["skipped"] == {"empty problem": 1, skipped["long"]: 1}


def test_generate_traces_through_a_server_has_observability(server, tmp_path):
    url, model = server
    problems = pl.DataFrame(
        {**pl.DataFrame(_problems(4)).to_dict(as_series=False), "source": ["s"] * 4, "level": [1] * 4}
    )
    spec = {
        "backend": "openai",
        "base_url": url,
        "model": model,
        "samples_per_problem": 2,
        "sampling": {"temperature": 0.7, "max_tokens": 40},
    }
    frame, stats = generate_traces(problems, spec, tmp_path / "t.sqlite", log=lambda m: None)
    assert frame.height == 8 and frame["trace_id"].n_unique() == 8
    assert set(frame["teacher"]) == {model} and set(frame["prompt_version"]) == {"math-long-cot@v1"}
    assert frame["prompt_tokens"].min() > 0 and stats["tokens_per_s"] > 0 and stats["finish_reasons"] == {"stop": 8}


@pytest.mark.slow
def test_killed_distillation_resumes_with_only_the_missing_samples(server, tmp_path):
    url, model = server
    upstream = url.removeprefix("http://").removesuffix("/v1")
    pl.DataFrame(_problems(40)).write_parquet(tmp_path / "problems.parquet")
    with FaultProxy(upstream, rate=0.0) as counter:
        config = {
            "problems_file": str(tmp_path / "problems.parquet"),
            "output_file": str(tmp_path / "out.parquet"),
            "cache_file": str(tmp_path / "cache.sqlite"),
            "stats_file": str(tmp_path / "stats.json"),
            "backend": _openai(counter.url, model),
            "samples_per_problem": 4,
            "sampling": {"temperature": 0.7, "max_tokens": 40},
        }
        (tmp_path / "d.yaml").write_text(yaml.safe_dump(config))
        cmd = [sys.executable, "-m", "redstar_training.generation.distill", "--config", str(tmp_path / "d.yaml")]
        proc = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        committed = 0
        while committed < 40 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
            if (tmp_path / "cache.sqlite").exists():
                with sqlite3.connect(tmp_path / "cache.sqlite") as db:
                    try:
                        committed = db.execute("SELECT count(*) FROM samples").fetchone()[0]
                    except sqlite3.OperationalError:  # the file exists a moment before its table does
                        continue
        os.kill(proc.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        proc.wait()
        with sqlite3.connect(tmp_path / "cache.sqlite") as db:
            at_kill = db.execute("SELECT count(*) FROM samples").fetchone()[0]
        # answered but not yet committed: BatchedPuts holds up to `seconds` of answers, plus the batch
        # being committed
        held_s = inspect.signature(BatchedPuts).parameters["seconds"].default
        uncommitted_window = [t for t in counter.answered if t > killed_at - 2 * held_s - 0.5]
        assert 40 <= at_kill < 160, at_kill
        first_run_requests = counter.forwarded
        subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, timeout=300)
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["cache_hits"] == at_kill and stats["samples_requested"] == 160 - at_kill
    assert counter.forwarded - first_run_requests == 160 - at_kill  # the second run asked only for the missing
    paid_twice = first_run_requests - at_kill  # in flight at the kill
    print(f"killed with {at_kill}/160 committed; rerun asked {160 - at_kill}; paid twice {paid_twice}")
    assert 0 <= paid_twice <= 4 + len(uncommitted_window)  # in flight (concurrency 4), or not yet committed
    out = pl.read_parquet(tmp_path / "out.parquet")
    assert out.height == 160 and out["key"].n_unique() == 160
    with sqlite3.connect(tmp_path / "cache.sqlite") as db:
        assert db.execute("SELECT count(*), count(DISTINCT key) FROM samples").fetchone() == (160, 160)


def test_transformers_backend_batches_with_left_padding(server, tmp_path):
    """Local generation: prompts of different lengths in one batch, greedy, so the exact text is known."""
    _, model = server
    problems = [{"problem_id": f"q{i}", "problem": "Compute 3 + 4." + " Please." * i, "answer": "7"} for i in range(5)]
    backend = {"kind": "transformers", "model": model, "batch_size": 4, "threads": 1}
    config = DistillConfig(backend=backend, sampling={"temperature": 0.0, "max_tokens": 40}, samples_per_problem=1)
    cache = SampleCache(tmp_path / "tf.sqlite")
    completions, _, stats = distill(problems, config, make_backend(backend, problems), cache, log=lambda m: None)
    assert [c.text for c in completions] == ["<think>Compute 3+4.</think>\n\\boxed{7}"] * 5
    assert {c.finish_reason for c in completions} == {"stop"} and len({c.completion_tokens for c in completions}) == 1
    assert len({c.prompt_tokens for c in completions}) == 5 and stats["requests_made"] == 5


def test_teacher_traces_runs_a_local_model_through_the_launcher(server, tmp_path, monkeypatch):
    """A `transformers` (or `vllm`) teacher loads a model, so the asset runs `redstar_training.generation.distill`
    through the one model launcher: its own supervised process, logs streamed into the Dagster run
    through Pipes, its stats sent back as a Pipes message; the re-run is served from the cache."""
    from dagster import AssetKey, DagsterInstance

    from redstar_assets.cli.run.execute import execute
    from redstar_assets.cli.run.plan import Step
    from redstar_assets.config.profile import load_profile
    from redstar_assets.factory import build_definitions

    _, model = server
    pool = tmp_path / "pool.jsonl"
    pool.write_text("".join(json.dumps(p) + "\n" for p in _problems(3)))
    profile = tmp_path / "local-teacher.yaml"
    profile.write_text(
        "extends: demo-tiny\nname: local-teacher\nreplace: [teacher, sources]\n"
        f"sources: [{{name: pool, kind: file, path: '{pool}'}}]\n"
        "teacher: {backend: transformers, model: '%s', threads: 1, samples_per_problem: 2,\n"
        "          sampling: {temperature: 0.0, max_tokens: 40}}\n" % model
    )
    home = tmp_path / "data"
    monkeypatch.setenv("REDSTAR_HOME", str(home))
    defs = build_definitions(load_profile(str(profile)), str(home))
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("sources", ["pool"])
    step = Step(tuple(AssetKey(k) for k in ("raw_problems", "problems", "teacher_traces")), "pool")
    assert execute(defs, instance, [step], {}) is None
    frame = pl.read_parquet(home / "teacher_traces" / "pool" / "data.parquet")
    assert frame.height == 6 and set(frame["text"]) == {"<think>Compute 3+4.</think>\n\\boxed{7}"}
    assert set(frame["teacher"]) == {model}
    logs = [r.event_log_entry.user_message for r in instance.get_records_for_run(instance.get_runs()[0].run_id).records]
    assert any(m.startswith("launching ") and "-m redstar_training.generation.distill" in m for m in logs)
    assert any("external process successfully opened dagster pipes" in m for m in logs)
    assert any(m.startswith("distill ") for m in logs)  # the child's own log line, streamed
    assert execute(defs, instance, [step], {}) is None
    events = instance.fetch_materializations(AssetKey("teacher_traces"), limit=2).records
    assert [e.asset_materialization.metadata["cache_hits"].value for e in events] == [6, 0]
    assert events[0].asset_materialization.metadata["samples_requested"].value == 0


def test_check_endpoints_names_what_each_endpoint_serves_and_a_dead_one(server, tmp_path, capsys):
    """`redstar check-endpoints`: the teacher's server answers with its model; a dead evaluation
    endpoint is named, and the command fails."""
    from redstar_assets.cli.main import main
    from redstar_training.generation.serve import free_port

    url, model = server
    dead = f"http://127.0.0.1:{free_port()}/v1"
    from redstar_assets.config.profile import load_profile

    path = tmp_path / "p.yaml"
    path.write_text(  # a teacher or backend of another kind replaces the parent's block (no `replace:`)
        "extends: demo-tiny\n"
        f"teacher: {{backend: openai, base_url: {url}, model: {model}}}\n"
        f"evaluation: {{backend: {{kind: openai, base_url: {dead}}}}}\n"
    )
    assert load_profile(str(path)).evaluation.benchmarks == load_profile("demo-tiny").evaluation.benchmarks
    assert main(["check-endpoints", "--profile", str(path)]) == 1
    teacher, evaluation = capsys.readouterr().out.splitlines()
    assert teacher == f"teacher {url}: serves {[model]}"
    assert evaluation.startswith(f"evaluation {dead}: not answering (URLError: ")
    path.write_text(f"extends: demo-tiny\nteacher: {{backend: openai, base_url: {url}, model: another}}\n")
    assert main(["check-endpoints", "--profile", str(path)]) == 1
    assert "the profile asks for 'another', which it does not serve" in capsys.readouterr().out
