"""The RL stage on top of an SFT checkpoint: DPO on verified-correct vs wrong traces of one problem.

DPO on rule-verified pairs was the paper's best RL variant. Run it on its own or through the
`rl_checkpoints` asset (Dagster Pipes):

    CPU:    python -m redstar_training.dpo --config run.yaml
    8 GPUs: accelerate launch --config_file configs/accelerate/zero2.yaml --num_processes 8 \
                -m redstar_training.dpo --config run.yaml bf16=true
"""

from __future__ import annotations

import resource
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redstar_training.chat import prompt_messages
from redstar_training.checkpoints import reuse_finished, save_checkpoint
from redstar_training.entry import run_entry_point
from redstar_training.pipes import log, progress
from redstar_training.runconfig import RunInputError, config_hash
from redstar_training.tracking import log_result, mlflow_run


@dataclass
class DPORunConfig:
    model: str = ""
    pairs_file: str = ""  # parquet: prompt, chosen, rejected (strings)
    output_dir: str = ""
    beta: float = 0.1
    epochs: float = 1.0
    learning_rate: float = 5e-4
    lr_scheduler: str = "cosine"
    batch_size: int = 16
    max_length: int = 256
    bf16: bool = False
    gradient_checkpointing: bool = False  # TRL turns it on by default; it only costs time on a tiny model
    seed: int = 0
    threads: int = 1
    report_to: str = "none"
    smoke_prompt: str = "Compute 12 + 34."
    lineage: dict[str, Any] = field(default_factory=dict)


def load_pairs(pairs_file: str):
    """The pairs as a datasets.Dataset, in problem id order when the file has problem ids (the pair
    writer keeps the trace files' order), so a seed shuffles the same data order either way."""
    import polars as pl
    from datasets import Dataset

    frame = pl.read_parquet(pairs_file)
    if frame.height == 0:
        raise RunInputError(f"{pairs_file}: no preference pairs; DPO needs problems with a correct and a wrong trace")
    if "problem_id" in frame.columns:
        frame = frame.sort("problem_id")
    return Dataset.from_list(
        [
            {
                "prompt": prompt_messages(r["prompt"]),
                "chosen": [{"role": "assistant", "content": r["chosen"]}],
                "rejected": [{"role": "assistant", "content": r["rejected"]}],
            }
            for r in frame.iter_rows(named=True)
        ]
    )


def train(cfg: DPORunConfig, pipes: Any = None) -> dict[str, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import DPOConfig, DPOTrainer

    torch.set_num_threads(cfg.threads)
    dataset = load_pairs(cfg.pairs_file)
    out = Path(cfg.output_dir)
    reused = reuse_finished(out / "model", config_hash(cfg), cfg.smoke_prompt)
    if reused is not None:
        log(pipes, f"{out / 'model'} was trained with this exact config and data: reusing it")
        return reused
    trainer_dir = out / "trainer"
    shutil.rmtree(trainer_dir, ignore_errors=True)
    tokenizer = AutoTokenizer.from_pretrained(cfg.model)
    model = AutoModelForCausalLM.from_pretrained(cfg.model)
    args = DPOConfig(
        output_dir=str(trainer_dir),
        beta=cfg.beta,
        num_train_epochs=cfg.epochs,
        learning_rate=cfg.learning_rate,
        lr_scheduler_type=cfg.lr_scheduler,
        per_device_train_batch_size=cfg.batch_size,
        max_length=cfg.max_length,
        bf16=cfg.bf16,
        use_cpu=not torch.cuda.is_available(),
        logging_steps=5,
        save_strategy="no",
        activation_checkpointing=cfg.gradient_checkpointing,
        report_to=cfg.report_to,
        seed=cfg.seed,
        disable_tqdm=True,
        dataloader_num_workers=0,
    )
    history: list[dict[str, float]] = []

    class Progress(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                history.append(
                    {"step": state.global_step, **{k: float(v) for k, v in logs.items() if isinstance(v, (int, float))}}
                )
                margin = logs.get("rewards/margins", float("nan"))
                progress(
                    pipes, state.global_step, state.max_steps, "steps", f"loss {logs['loss']:.4f} margin {margin:.3f}"
                )

    trainer = DPOTrainer(
        model=model, args=args, train_dataset=dataset, processing_class=tokenizer, callbacks=[Progress()]
    )
    with mlflow_run(cfg.report_to, cfg.lineage, pipes) as tracked:
        start = time.time()
        result = trainer.train()
        seconds = time.time() - start
        metrics = {
            "train_loss": float(result.training_loss),
            "steps": int(result.global_step),
            "pairs": len(dataset),
            "train_seconds": round(seconds, 1),
            "first_loss": history[0]["loss"] if history else None,
            "last_loss": history[-1]["loss"] if history else None,
            "last_reward_margin": history[-1].get("rewards/margins") if history else None,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "loss_curve": [(h["step"], h["loss"]) for h in history],
        }
        lineage = {**cfg.lineage, "sft_model": cfg.model, "run_config_hash": config_hash(cfg), **(tracked or {})}
        saved = save_checkpoint(trainer, tokenizer, out, lineage, metrics, cfg.smoke_prompt)
        log_result(tracked, saved)
    return saved


def main(argv: list[str] | None = None) -> None:
    run_entry_point(__doc__, DPORunConfig, train, lambda cfg: f"DPO on {cfg.model} with {cfg.pairs_file}", argv)


if __name__ == "__main__":
    main()
