"""Training entry points as real processes: GRPO through Dagster Pipes with the shared verifier as
reward, SFT killed mid-run and resumed, and a cancelled Dagster run taking its trainer down."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
import yaml
from dagster import AssetCheckSpec, AssetExecutionContext, PipesSubprocessClient, asset, materialize
from support.scripted_model import build_scripted_model

from redstar_training.trainers.checkpoints import folder_hash

ROOT = Path(__file__).resolve().parents[1]


def _grpo_config(tmp_path: Path, algorithm: str = "grpo") -> Path:
    """4 online RL steps on a scripted model that answers 7 or 8 at random: a real reward signal."""
    model = build_scripted_model(tmp_path / "model")
    pl.DataFrame({"problem": ["Compute 3 + 4."] * 8, "answer": ["7"] * 8}).write_parquet(tmp_path / "p.parquet")
    config = tmp_path / "grpo.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "model": str(model),
                "problems_file": str(tmp_path / "p.parquet"),
                "output_dir": str(tmp_path / "out"),
                "max_steps": 4,
                "num_generations": 4,
                "per_device_train_batch_size": 8,
                "max_completion_length": 24,
                "learning_rate": 1e-3,
                "reward_weights": [1.0, 0.2],
                "bf16": False,
                "logging_steps": 1,
                "algorithm": algorithm,
            }
        )
    )
    return config


@pytest.mark.parametrize("algorithm", ["grpo", "rloo", "reinforce_pp"])
def test_online_rl_through_pipes_rewards_differ_within_groups_and_weights_move(tmp_path, algorithm):
    """GRPO, RLOO (TRL's RLOOTrainer) and the REINFORCE++-like arm, each through Pipes."""
    config = _grpo_config(tmp_path, algorithm)
    before = folder_hash(tmp_path / "model")

    @asset(check_specs=[AssetCheckSpec("checkpoint_loads_and_generates", asset="grpo_checkpoint")])
    def grpo_checkpoint(context: AssetExecutionContext, pipes: PipesSubprocessClient):
        command = [sys.executable, "-m", "redstar_training.trainers.grpo", "--config", str(config)]
        return pipes.run(context=context, command=command, env={"PYTHONUNBUFFERED": "1"}).get_results()

    result = materialize([grpo_checkpoint], resources={"pipes": PipesSubprocessClient(cwd=str(ROOT))})
    assert result.success
    meta = result.asset_materializations_for_node("grpo_checkpoint")[0].metadata
    assert meta["steps"].value == 4 and meta["groups"].value >= 4
    assert meta["completions"].value == 4 * meta["groups"].value  # groups of num_generations=4
    lineage = json.loads((tmp_path / "out" / "model" / "redstar_lineage.json").read_text())
    assert lineage["rl"] == algorithm
    assert meta["groups_with_unequal_rewards"].value > 0  # the verifier tells right from wrong inside a group
    assert folder_hash(tmp_path / "out" / "model") != before  # the policy moved
    [check] = result.get_asset_check_evaluations()
    assert check.passed and check.metadata["stopped_at_eos"].value is True


def _sft_config(tmp_path: Path, epochs: int) -> Path:
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"Compute {a} + {b}."},
                {"role": "assistant", "content": f"<think>\n{a}+{b}={a + b}\n</think>\n\\boxed{{{a + b}}}"},
            ]
        }
        for a in range(1, 16)
        for b in range(1, 9)
    ]
    pl.DataFrame(rows).write_parquet(tmp_path / "train.parquet")
    spec = {
        "hidden_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "intermediate_size": 128,
    }
    config = tmp_path / "sft.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "base_model": str(tmp_path / "base"),
                "tiny_spec": spec,
                "train_file": str(tmp_path / "train.parquet"),
                "output_dir": str(tmp_path / "out"),
                "num_train_epochs": epochs,
                "per_device_train_batch_size": 8,
                "learning_rate": 3e-3,
                "lr_scheduler_type": "cosine",
                "max_length": 256,
                "bf16": False,
                "activation_checkpointing": False,
                "assistant_only_loss": True,
            }
        )
    )
    return config


@pytest.mark.slow
def test_sft_killed_mid_training_resumes_from_its_last_checkpoint(tmp_path):
    config = _sft_config(tmp_path, epochs=6)
    cmd = [sys.executable, "-m", "redstar_training.trainers.sft", "--config", str(config)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not list((tmp_path / "out" / "trainer").glob("checkpoint-*/trainer_state.json")):
        assert time.monotonic() < deadline, "no checkpoint was saved"
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    saved = sorted((tmp_path / "out" / "trainer").glob("checkpoint-*"))
    assert saved and not (tmp_path / "out" / "model").exists()
    # a later save cut off by the kill: weights written, trainer state not yet; it is not resumed from
    partial = tmp_path / "out" / "trainer" / "checkpoint-9999"
    partial.mkdir(exist_ok=True)
    (partial / "config.json").write_text("{}")
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    metrics = json.loads((tmp_path / "out" / "model" / "redstar_metrics.json").read_text())
    assert metrics["resumed"] is True and metrics["steps"] == 6 * 15  # 120 rows / batch 8 = 15 steps per epoch
    assert metrics["last_loss"] < metrics["first_loss"]


def _processes_running(module: str) -> list[int]:
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if module.encode() in cmdline and b"-m" in cmdline:
            pids.append(int(pid))
    return pids


@pytest.mark.slow
@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL], ids=["run-cancelled", "run-worker-killed"])
def test_stopping_the_dagster_run_takes_the_trainer_down(tmp_path, how):
    """A cancelled run interrupts its run worker; a crashed or OOM-killed one gets SIGKILL and can pass
    nothing on. Either way the trainer the model launcher started must not outlive it (checked by PID)."""
    config = _sft_config(tmp_path, epochs=200)
    script = tmp_path / "run_asset.py"
    script.write_text(
        "import yaml\n"
        "from pathlib import Path\n"
        "from dagster import AssetExecutionContext, PipesSubprocessClient, asset, materialize\n"
        "from redstar_assets.launcher import ModelLauncher\n"
        "@asset\n"
        "def long_sft(context: AssetExecutionContext, launcher: ModelLauncher, pipes: PipesSubprocessClient):\n"
        f"    cfg = yaml.safe_load(Path({str(config)!r}).read_text())\n"
        "    run = launcher.run(\n"
        f"        context, pipes, 'training', 'redstar_training.trainers.sft', cfg, Path({str(tmp_path)!r})\n"
        "    )\n"
        "    return run.get_materialize_result()\n"
        f"resources = {{'launcher': ModelLauncher(grace_s=5), 'pipes': PipesSubprocessClient(cwd={str(ROOT)!r})}}\n"
        "materialize([long_sft], resources=resources, raise_on_error=False)\n"
    )
    worker = subprocess.Popen(
        [sys.executable, str(script)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 120
        trainers = []
        while not trainers and time.monotonic() < deadline:
            time.sleep(0.2)
            trainers = [p for p in _processes_running("redstar_training.trainers.sft") if p != worker.pid]
        assert trainers, "the trainer never started"
        time.sleep(3)  # let it get into training
        worker.send_signal(how)
        deadline = time.monotonic() + 60
        while any(Path(f"/proc/{p}").exists() for p in trainers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(Path(f"/proc/{p}").exists() for p in trainers), f"trainer {trainers} still running"
        worker.wait(timeout=60)
    finally:
        if worker.poll() is None:
            worker.kill()
        for p in _processes_running("redstar_training.trainers.sft"):
            os.kill(p, signal.SIGKILL)
    assert not (tmp_path / "out" / "model").exists()  # 200 epochs never finished


@pytest.mark.slow
def test_sft_under_accelerate_launch_with_the_zero2_config_on_cpu(tmp_path):
    config = _sft_config(tmp_path, epochs=1)
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        str(ROOT / "configs/accelerate/zero2.yaml"),
        "--num_processes",
        "1",
        "--mixed_precision",
        "no",
        "-m",
        "redstar_training.trainers.sft",
        "--config",
        str(config),
    ]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((tmp_path / "out" / "model" / "redstar_metrics.json").read_text())
    assert metrics["deepspeed_zero_stage"] == 2 and metrics["world_size"] == 1
    assert metrics["last_loss"] < metrics["first_loss"] and (tmp_path / "out" / "model" / "model.safetensors").exists()


@pytest.mark.slow
def test_two_process_sft_under_accelerate_reports_once_through_pipes(tmp_path):
    """A 2-process CPU run (accelerate, gloo) started by the model launcher as a profile's `launch:`
    block would: rank 0 alone opens the Pipes channel, so the asset gets one materialization, one
    check and one log stream, while both ranks trained (world size 2)."""
    from dagster import DagsterEventType, DagsterInstance, EventRecordsFilter

    from redstar_assets.config.launch import StageLaunch
    from redstar_assets.launcher import ModelLauncher

    cfg = yaml.safe_load(_sft_config(tmp_path, epochs=1).read_text())

    @asset(check_specs=[AssetCheckSpec("checkpoint_loads_and_generates", asset="two_rank_sft")])
    def two_rank_sft(context: AssetExecutionContext, launcher: ModelLauncher, pipes: PipesSubprocessClient):
        return launcher.run(context, pipes, "training", "redstar_training.trainers.sft", cfg, tmp_path).get_results()

    launcher = ModelLauncher(training=StageLaunch(launcher="accelerate", processes=2, threads=1))
    with DagsterInstance.ephemeral() as instance:
        result = materialize(
            [two_rank_sft],
            instance=instance,
            resources={"launcher": launcher, "pipes": PipesSubprocessClient(cwd=str(ROOT))},
        )
        assert result.success
        [materialization] = result.asset_materializations_for_node("two_rank_sft")
        assert materialization.metadata["world_size"].value == 2
        assert len(result.get_asset_check_evaluations()) == 1
        logs = [
            e.user_message
            for e in instance.all_logs(result.run_id)
            if e.dagster_event is None and e.user_message.startswith(("SFT ", "progress ", "done: "))
        ]
        records = instance.get_event_records(EventRecordsFilter(DagsterEventType.ASSET_MATERIALIZATION))
    assert len(records) == 1
    progress = [m for m in logs if m.startswith("progress ")]
    assert logs[0].startswith("SFT ") and logs[-1].startswith("done: ") and len(logs) == len(set(logs))
    assert sum(m.startswith("SFT ") for m in logs) == 1 and sum(m.startswith("done: ") for m in logs) == 1
    assert progress and all("/8 steps" in m for m in progress)  # 120 rows, batches of 8 on each of 2 ranks
    assert json.loads((tmp_path / "out" / "model" / "redstar_metrics.json").read_text())["world_size"] == 2


def test_assistant_only_loss_labels_cover_the_assistant_turn_and_its_eos(tmp_path):
    """The chat template's generation markers, through TRL's own dataset preparation: the loss sees
    the assistant's tokens and the closing <|im_end|> (so the model learns to stop), nothing else."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from redstar_training.models.base_model import ensure_base_model

    spec = {
        "hidden_size": 32,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "intermediate_size": 32,
    }
    folder = ensure_base_model(str(tmp_path / "m"), spec)
    tokenizer, model = AutoTokenizer.from_pretrained(folder), AutoModelForCausalLM.from_pretrained(folder)
    answer = "<think>\n1+2=3\n</think>\n\\boxed{3}"
    rows = [{"messages": [{"role": "user", "content": "Compute 1 + 2."}, {"role": "assistant", "content": answer}]}]
    args = SFTConfig(output_dir=str(tmp_path / "t"), assistant_only_loss=True, use_cpu=True, report_to="none")
    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tokenizer)
    batch = trainer.data_collator([trainer.train_dataset[0]])
    ids, labels = batch["input_ids"][0].tolist(), batch["labels"][0].tolist()
    trained = tokenizer.decode([i for i, lab in zip(ids, labels, strict=True) if lab != -100])
    masked = tokenizer.decode([i for i, lab in zip(ids, labels, strict=True) if lab == -100])
    assert trained == answer + "<|im_end|>" and tokenizer.eos_token == "<|im_end|>"
    assert "Compute 1 + 2." in masked and "<think>" not in masked


def test_bad_training_input_fails_before_training(tmp_path):
    config = _sft_config(tmp_path, epochs=1)
    run = lambda *extra: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "redstar_training.trainers.sft", "--config", str(config), *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    unknown = run("learning_rat=0.1")
    assert unknown.returncode != 0 and "override 'learning_rat=0.1'" in unknown.stderr
    missing = run("base_model=/nonexistent/base", "tiny_spec={}")
    assert missing.returncode != 0 and "/nonexistent/base" in missing.stderr
    pl.DataFrame(
        {"messages": []}, schema={"messages": pl.List(pl.Struct({"role": pl.String, "content": pl.String}))}
    ).write_parquet(tmp_path / "empty.parquet")
    empty = run(f"train_file={tmp_path / 'empty.parquet'}")
    assert empty.returncode != 0 and "the subset has no rows; nothing to train on" in empty.stderr
    assert not (tmp_path / "out" / "trainer").exists()


@pytest.mark.slow
def test_lora_sft_saves_a_merged_checkpoint_that_loads_and_generates(tmp_path):
    config = _sft_config(tmp_path, epochs=1)
    done = subprocess.run(
        [sys.executable, "-m", "redstar_training.trainers.sft", "--config", str(config), "lora=true", "lora_rank=4"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    model_dir = tmp_path / "out" / "model"
    assert (model_dir / "model.safetensors").exists() and not (model_dir / "adapter_config.json").exists()
    metrics = json.loads((model_dir / "redstar_metrics.json").read_text())
    assert metrics["last_loss"] < metrics["first_loss"]
    from transformers import AutoModelForCausalLM

    AutoModelForCausalLM.from_pretrained(model_dir)  # a plain model folder: the adapter was merged
