"""A teacher fleet: three real `transformers serve` replicas behind one `base_url` list. One is killed
mid-run; every sample still completes exactly once (the cache holds each once), the dead replica's
in-flight samples go to the others, and the counts per endpoint come back. A fleet whose every
endpoint is down stops, naming each URL."""

import sqlite3

import pytest
from support.scripted_model import build_scripted_model
from support.servers import KillAfter, transformers_fleet

from redstar_training.generation.cache import SampleCache
from redstar_training.generation.distill import DistillConfig, distill, endpoint_table, make_backend
from redstar_training.generation.serve import free_port
from redstar_training.generation.types import TeacherUnavailable

pytestmark = pytest.mark.slow


def _problems(n: int) -> list[dict]:
    return [{"problem_id": f"p{i:03d}", "problem": f"Compute {i} + {7 - i}.", "answer": "7"} for i in range(n)]


def test_a_fleet_survives_a_killed_replica_with_every_sample_once(tmp_path):
    model = build_scripted_model(tmp_path / "scripted")
    with transformers_fleet(model, tmp_path, replicas=3) as urls:
        spec = {"kind": "openai", "base_url": urls, "model": str(model), "concurrency": 2,
                "backoff_base_s": 0.01, "probe_after_s": 600}  # fmt: skip
        problems = _problems(40)
        config = DistillConfig(backend=spec, samples_per_problem=3, sampling={"temperature": 0.7, "max_tokens": 40})
        cache = SampleCache(tmp_path / "c.sqlite")
        backend = KillAfter(make_backend(spec, problems), 30, victim=urls[1])
        try:
            completions, skipped, stats = distill(problems, config, backend, cache, log=lambda m: None)
        finally:
            cache.close()
    assert backend.done == 120 and not skipped
    assert len(completions) == 120 and all(c.finish_reason == "stop" for c in completions)
    keys = [row[0] for row in sqlite3.connect(tmp_path / "c.sqlite").execute("select key from samples")]
    assert len(keys) == len(set(keys)) == 120  # every sample once
    table = endpoint_table(stats)
    assert set(table) == set(urls)
    assert sum(row["completions"] for row in table.values()) == 120
    assert table[urls[1]]["taken_out"] >= 1 and table[urls[1]]["errors"] >= 1
    assert all(table[u]["completions"] > table[urls[1]]["completions"] for u in (urls[0], urls[2]))
    print(f"\nfleet, one of three killed after 30 completions: {table}")


def test_a_fleet_with_every_endpoint_down_names_each_url(tmp_path):
    urls = [f"http://127.0.0.1:{free_port()}/v1" for _ in range(3)]
    spec = {"kind": "openai", "base_url": urls, "model": "m", "max_retries": 2, "backoff_base_s": 0.01,
            "probe_after_s": 0.05}  # fmt: skip
    config = DistillConfig(backend=spec, samples_per_problem=1, sampling={"temperature": 0.7, "max_tokens": 8})
    problems = _problems(2)
    with pytest.raises(TeacherUnavailable, match="every teacher endpoint is unreachable") as failure:
        distill(problems, config, make_backend(spec, problems), SampleCache(tmp_path / "c.sqlite"), log=lambda m: None)
    assert all(u in str(failure.value) for u in urls)


def test_a_teacher_that_does_not_answer_logs_each_retry_as_it_happens(caplog):
    """No silence before TeacherUnavailable: every retry is a log line naming the endpoint and the error."""
    from redstar_training.generation.openai_backend import OpenAIBackend
    from redstar_training.generation.types import SampleRequest, Sampling

    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens here
    backend = OpenAIBackend(base_url=url, model="m", max_retries=3, backoff_base_s=0.01, endpoint_retries=99)
    request = SampleRequest("k", "p1", 0, ({"role": "user", "content": "1+1?"},), "1+1?")
    with caplog.at_level("WARNING", logger="redstar_training.generation.openai_backend"):
        with pytest.raises(TeacherUnavailable, match="unreachable after 4 attempts"):
            backend.generate([request], Sampling(), lambda c: None)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 4 and all(line.startswith(f"teacher {url}: ") for line in lines)
    assert [line.rsplit("(p1, ", 1)[1] for line in lines] == [f"attempt {i} of 4)" for i in (1, 2, 3, 4)]
