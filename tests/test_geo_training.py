"""The tiny vision-language student through the same entry points as text students: built from
configs, fine-tuned by `redstar_training.trainers.sft` on image + messages rows (and with the figures blanked,
the image-blind arm), reloaded with its processor, and evaluated by `redstar_training.generation.evaluate` on a
geo benchmark whose items carry their figures."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import yaml

from redstar_assets.config.sources import source_of
from redstar_assets.problems.benchmark_files import read_benchmark
from redstar_assets.problems.sources import load_source
from redstar_training.generation.local_backends import TransformersBackend
from redstar_training.generation.types import SampleRequest
from redstar_training.models.chat_template import prompt_messages
from redstar_training.models.folders import load_model
from redstar_training.synthetic.geometry import GeoTeacherConfig, solve

ROOT = Path(__file__).resolve().parents[1]
TINY_VLM = {"kind": "tiny_vlm", "vocab_size": 300, "hidden_size": 64, "intermediate_size": 128,
            "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "image_size": 56,
            "vision_hidden_size": 32, "vision_layers": 1, "vision_heads": 2}  # fmt: skip


def _train_file(path: Path, count: int) -> Path:
    problems, _ = load_source(source_of({"name": "geo", "kind": "geometry", "count": count, "size": 56, "seed": 2}))
    rows = []
    for i, p in enumerate(problems.iter_rows(named=True)):
        trace = solve(p["problem"], p["image"], 0, f"p{i}", GeoTeacherConfig()).text
        messages = [*prompt_messages(p["problem"]), {"role": "assistant", "content": trace}]
        rows.append({"trace_id": f"t{i:03d}", "messages": messages, "image": p["image"]})
    pl.DataFrame(rows).write_parquet(path)
    return path


def _run(module: str, config: dict, path: Path) -> str:
    path.write_text(yaml.safe_dump(config))
    out = subprocess.run(
        [sys.executable, "-m", module, "--config", str(path)], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    return out.stdout


@pytest.mark.slow
def test_tiny_vlm_sft_and_evaluation_on_figures(tmp_path):
    train = _train_file(tmp_path / "train.parquet", 48)
    sft = {"base_model": str(tmp_path / "base"), "tiny_spec": TINY_VLM, "train_file": str(train),
           "num_train_epochs": 2, "per_device_train_batch_size": 8, "learning_rate": 3e-3, "max_length": 320,
           "lr_scheduler_type": "cosine", "bf16": False, "activation_checkpointing": False, "assistant_only_loss": True,
           "smoke_prompt": "In the figure, line a is parallel to line b. What is angle 2?"}  # fmt: skip
    _run("redstar_training.trainers.sft", {**sft, "output_dir": str(tmp_path / "cot")}, tmp_path / "sft.yaml")
    _run(
        "redstar_training.trainers.sft",
        {**sft, "output_dir": str(tmp_path / "blind"), "blank_images": True},
        tmp_path / "b.yaml",
    )
    for arm in ("cot", "blind"):
        model = tmp_path / arm / "model"
        assert (model / "processor_config.json").exists() and (model / "chat_template.jinja").exists()
        metrics = json.loads((model / "redstar_metrics.json").read_text())
        assert metrics["steps"] == 12 and metrics["last_loss"] < metrics["first_loss"]
    # the blind arm saw other pixels, so it learned other weights from the same text
    assert (tmp_path / "cot" / "model" / "model.safetensors").read_bytes() != (
        tmp_path / "blind" / "model" / "model.safetensors"
    ).read_bytes()

    held = read_benchmark("geo-heldout", count=12).items
    assert held["image"].null_count() == 0
    held.write_parquet(tmp_path / "geo.parquet")
    models = [{"stage": arm, "path": str(tmp_path / arm / "model")} for arm in ("cot", "blind")]
    cfg = {"models": models, "benchmarks": [{"name": "geo-heldout", "file": str(tmp_path / "geo.parquet"), "n": 0}],
           "output_dir": str(tmp_path / "eval"), "max_new_tokens": 120,
           "backend": {"kind": "transformers", "batch_size": 6}, "threads": 2}  # fmt: skip
    done = json.loads(
        re.search(r"^done: (\{.*\})$", _run("redstar_training.generation.evaluate", cfg, tmp_path / "e.yaml"), re.M)[1]
    )
    assert done["requested"] == 2 * 12
    outputs = pl.read_parquet(tmp_path / "eval" / "outputs.parquet")
    assert outputs.height == 24 and set(outputs["status"]) <= {"correct", "wrong", "no_answer"}
    # what the model was given: each prompt's figure, as the image token expanded to 4 x 4 patches
    backend = TransformersBackend(
        str(tmp_path / "cot" / "model"), images=dict(zip(held["problem_id"], held["image"], strict=True))
    )
    backend._loaded = load_model(backend.model)
    requests = [SampleRequest(str(i), pid, 0, tuple(prompt_messages(text)), text) for i, (pid, text) in
                enumerate(held.select("problem_id", "problem").head(3).iter_rows())]  # fmt: skip
    inputs = backend._inputs(requests)
    image_token = backend._loaded[1].config.image_token_id
    assert tuple(inputs["pixel_values"].shape) == (3, 3, 56, 56)
    assert (inputs["input_ids"] == image_token).sum(dim=1).tolist() == [16, 16, 16]
    # the same checkpoint behind a real `transformers serve`, the figures sent as image_url data URIs
    # (openai backend), against in-process generation one prompt at a time: the same greedy texts
    one = {
        **cfg,
        "models": models[:1],
        "backend": {"kind": "transformers", "batch_size": 1},
        "output_dir": str(tmp_path / "one"),
    }
    serve = {"preset": "transformers", "args": ["--device", "cpu"], "timeout_s": 180}
    served = {
        **one,
        "backend": {"kind": "openai", "concurrency": 2, "serve": serve},
        "output_dir": str(tmp_path / "srv"),
    }
    _run("redstar_training.generation.evaluate", one, tmp_path / "one.yaml")
    _run("redstar_training.generation.evaluate", served, tmp_path / "srv.yaml")
    local, remote = (pl.read_parquet(tmp_path / d / "outputs.parquet") for d in ("one", "srv"))
    assert local.select("problem_id", "status").rows() == remote.select("problem_id", "status").rows()
    assert [re.sub(r"\s+", "", t) for t in local["output"]] == [re.sub(r"\s+", "", t) for t in remote["output"]]
    again = json.loads(
        re.search(r"^done: (\{.*\})$", _run("redstar_training.generation.evaluate", cfg, tmp_path / "e.yaml"), re.M)[1]
    )
    assert again["requested"] == 0  # every sample cached under its figure's content id
