"""Every benchmark score carries an environment stamp: a real tiny evaluation's stamp (dtype read from
the loaded model, libraries, sampling, verifier, prompt hash; `cached` runtime when no backend ran), which
stamp fields make a comparison suspect (never the commit alone), an OpenAI server's version as the server
says it, and `redstar lineage` printing each score's stamp."""

from __future__ import annotations

import contextlib
import http.server
import importlib.metadata
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from redstar_assets.evaluation.stamps import stamp_differences, with_commit, with_commit_column

TINY = {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1,
        "intermediate_size": 32}  # fmt: skip
STAMP_KEYS = {"backend", "server_version", "dtype", "device", "device_name", "device_count", "libraries", "samples",
              "prompt_template", "prompt_template_hash", "verifier_version", "seeds", "temperature", "top_p",
              "max_new_tokens"}  # fmt: skip


@pytest.fixture(scope="module")
def bf16_model(tmp_path_factory) -> Path:
    """A tiny Qwen2 checkpoint saved in bfloat16, so the stamp's dtype is read, not assumed."""
    import torch
    from transformers import AutoModelForCausalLM

    from redstar_training.models.base_model import ensure_base_model

    folder = tmp_path_factory.mktemp("models") / "tiny-bf16"
    ensure_base_model(str(folder), TINY)
    AutoModelForCausalLM.from_pretrained(folder).to(torch.bfloat16).save_pretrained(folder)
    return folder


def _evaluate(tmp_path: Path, model: Path) -> list[dict]:
    from redstar_training.generation.evaluate import EvalRunConfig, run

    bench = tmp_path / "bench.parquet"
    pl.DataFrame(
        {"problem_id": ["p1", "p2"], "problem": ["Compute 3 + 4.", "Compute 2 + 2."], "answer": ["7", "4"]}
    ).write_parquet(bench)
    cfg = EvalRunConfig(
        models=[{"stage": "base", "path": str(model), "version": "tiny-bf16"}],
        benchmarks=[{"name": "arith", "file": str(bench), "n": 2, "temperature": 0.7, "top_p": 0.9, "max_tokens": 6}],
        output_dir=str(tmp_path / "eval"),
        cache_file=str(tmp_path / "samples.sqlite"),
        backend={"kind": "transformers", "batch_size": 4},
        seed=77,
    )
    return run(cfg)["scores"]


def test_a_tiny_evaluation_stamps_each_score_and_a_cached_rerun_says_cached(tmp_path, bf16_model):
    from redstar_training.generation.environment import prompt_template_hash
    from redstar_training.verify import VERIFIER_VERSION

    (score,) = _evaluate(tmp_path, bf16_model)
    text = score["environment"]
    stamp = json.loads(text)
    assert text == json.dumps(stamp, sort_keys=True) and set(stamp) == STAMP_KEYS
    assert stamp["backend"] == "transformers" and stamp["server_version"] is None
    assert (stamp["dtype"], stamp["device"], stamp["device_count"]) == ("bfloat16", "cpu", 1)
    assert stamp["samples"] == "generated"
    assert stamp["libraries"] == {n: importlib.metadata.version(n) for n in ("torch", "transformers", "trl")}
    assert stamp["seeds"] == json.loads(score["seeds"]) == [77, 78]
    assert (stamp["temperature"], stamp["top_p"], stamp["max_new_tokens"]) == (0.7, 0.9, 6)
    assert stamp["verifier_version"] == VERIFIER_VERSION
    assert stamp["prompt_template"] == "plain"
    assert stamp["prompt_template_hash"] == prompt_template_hash("plain") != prompt_template_hash("math-long-cot")

    (again,) = _evaluate(tmp_path, bf16_model)  # the same cache: every sample is found, no model is loaded
    cached = json.loads(again["environment"])
    assert (cached["samples"], cached["dtype"], cached["device"]) == ("cached", "cached", "cached")
    assert cached["libraries"] == stamp["libraries"] and cached["prompt_template_hash"] == stamp["prompt_template_hash"]
    assert stamp_differences(stamp, cached) == []  # "not recorded here" is not a difference


def _stamp(**changes) -> dict:
    base = {
        "backend": "transformers", "server_version": None, "dtype": "float32", "device": "cpu", "device_name": "x86_64",
        "device_count": 1, "libraries": {"torch": "2.5.0", "transformers": "4.50.0", "trl": "0.20.0"},
        "samples": "generated", "prompt_template": "plain", "prompt_template_hash": "abc", "verifier_version": "v-1",
        "seeds": [1, 2], "temperature": 0.6, "top_p": 0.95, "max_new_tokens": 64,
    }  # fmt: skip
    return {**base, **changes}


def test_stamps_that_differ_in_dtype_are_flagged_and_in_the_commit_alone_are_not():
    a, b = _stamp(), _stamp(dtype="bfloat16")
    assert stamp_differences(a, b) == ["dtype"]
    one, other = json.loads(with_commit(json.dumps(a), "1111")), json.loads(with_commit(json.dumps(a), "2222"))
    assert (one["code_commit"], other["code_commit"]) == ("1111", "2222")
    assert stamp_differences(one, other) == []
    vllm = _stamp(libraries={**a["libraries"], "vllm": "0.9.1"}, backend="vllm", top_p=1.0)
    assert stamp_differences(a, vllm) == ["backend", "top_p", "libraries.vllm"]


def test_the_asset_adds_the_commit_to_every_row_with_or_without_a_stamp():
    scores = pl.DataFrame({"stage": ["base", "sft"], "environment": [json.dumps(_stamp()), None]})
    stamped = [json.loads(e) for e in with_commit_column(scores, "abcd")["environment"]]
    assert stamped[0] == {**_stamp(), "code_commit": "abcd"} and stamped[1] == {"code_commit": "abcd"}
    no_column = with_commit_column(scores.drop("environment"), "abcd")
    assert no_column["environment"].to_list() == [json.dumps({"code_commit": "abcd"})] * 2


@contextlib.contextmanager
def _server(version: str | None) -> Iterator[str]:
    """A real HTTP server on a free port that answers GET /version like vLLM (404 with `version` None)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path != "/version" or version is None:
                self.send_error(404)
                return
            body = json.dumps({"version": version}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def test_the_openai_backend_stamps_the_version_its_server_says_else_unknown():
    from redstar_training.generation.openai_backend import OpenAIBackend

    with _server("0.9.1") as url:
        runtime = OpenAIBackend(base_url=url, model="m").runtime()
        assert runtime["server_version"] == "0.9.1"
        assert (runtime["dtype"], runtime["device"]) == ("unknown", "unknown")
        with _server(None) as silent:  # a fleet whose replicas disagree names both
            assert OpenAIBackend(base_url=[url, silent], model="m").runtime()["server_version"] == "0.9.1, unknown"
    with _server(None) as url:
        assert OpenAIBackend(base_url=url + "/", model="m").runtime()["server_version"] == "unknown"


def test_redstar_lineage_prints_each_scores_stamp_and_what_differs():
    import dagster as dg

    from redstar_assets.lineage.walk import render, walk

    rows = [
        {"stage": "base", "benchmark": "arith", "pass_at_1": 0.25, "avg_at_n": 0.5, "n": 2,
         "environment": with_commit(json.dumps(_stamp()), "1111")},
        {"stage": "sft", "benchmark": "arith", "pass_at_1": 0.75, "avg_at_n": 0.5, "n": 2,
         "environment": with_commit(json.dumps(_stamp(dtype="bfloat16")), "2222")},
        {"stage": "rl", "benchmark": "arith", "pass_at_1": 0.5, "avg_at_n": None, "n": 0,
         "environment": json.dumps(_stamp(samples="cached", dtype="cached", device="cached", device_count=None))},
    ]  # fmt: skip
    instance = dg.DagsterInstance.ephemeral()
    instance.report_runless_asset_event(
        dg.AssetMaterialization("benchmark_scores", partition="e", metadata={"score_rows": dg.MetadataValue.json(rows)})
    )
    node = walk(instance, "benchmark_scores", "e")
    assert [s["environment"].get("code_commit") for s in node.as_dict()["scores"]] == ["1111", "2222", None]
    text = "\n".join(render(node))
    assert "base arith: pass@1 0.250, avg@2 0.500" in text
    assert "environment: transformers, float32 on cpu x1 (x86_64)" in text and "torch=2.5.0" in text
    assert "environment: transformers, bfloat16 on cpu x1" in text and "code 2222" in text
    assert "differs from base on dtype: comparing them is suspect" in text
    assert "rl arith: pass@1 0.500\n" in text and "dtype and device not recorded (samples from the cache)" in text
    assert text.count("differs from") == 1  # the cached score's unrecorded runtime is no difference
