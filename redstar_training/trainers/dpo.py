"""DPO on verified-correct against wrong traces of one problem, on top of an SFT checkpoint.
    CPU:    python -m redstar_training.trainers.dpo --config run.yaml
    8 GPUs: accelerate launch --config_file configs/accelerate/zero2.yaml --num_processes 8 \
                -m redstar_training.trainers.dpo --config run.yaml bf16=true
"""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass
from typing import Any

from trl import DPOConfig

from redstar_training.entry import run_entry_point
from redstar_training.files.run_config import ConfigError, RunInputError
from redstar_training.models.chat_template import prompt_messages
from redstar_training.trainers import trainer_run


@dataclass
class DPORunConfig(DPOConfig, trainer_run.RunFields):
    """One DPO run: TRL's DPOConfig plus the pipeline's fields."""

    model: str = ""
    pairs_file: str = ""  # parquet: prompt, chosen, rejected (strings)
    control: str = ""  # "swapped_pairs": DPO's control (chosen and rejected swapped in a random half)
    curve_every: int = 0  # keep the policy every N optimizer steps (curve/step-N), to score along the way


# TRL fields the DPO trainer sets itself (the curve's saves follow curve_every).
PIPELINE_SET = (*trainer_run.PIPELINE_SET, *trainer_run.CURVE_KEYS)


def swapped(rows: list[dict], seed: int) -> list[dict]:
    """DPO's control: each pair's chosen and rejected swapped with probability 1/2 (seeded), so the
    preference carries no signal while the texts, lengths and steps stay those of the real arm."""
    rng = random.Random(seed)
    return [{**r, "chosen": r["rejected"], "rejected": r["chosen"]} if rng.random() < 0.5 else r for r in rows]


def load_pairs(pairs_file: str, control: str = "", seed: int = 0):
    """The pairs as a datasets.Dataset, in problem id order when the file has problem ids (the pair
    writer keeps the trace files' order), so a seed shuffles the same data order either way."""
    import polars as pl
    from datasets import Dataset

    frame = pl.read_parquet(pairs_file)
    if frame.height == 0:
        raise RunInputError(f"{pairs_file}: no preference pairs; DPO needs problems with a correct and a wrong trace")
    if "problem_id" in frame.columns:
        frame = frame.sort("problem_id")
    rows = list(frame.iter_rows(named=True))
    if control:
        if control != "swapped_pairs":
            raise ConfigError(f"control {control!r}: DPO's control is 'swapped_pairs'")
        rows = swapped(rows, seed)
    return Dataset.from_list(
        [
            {
                "prompt": prompt_messages(r["prompt"]),
                "chosen": [{"role": "assistant", "content": r["chosen"]}],
                "rejected": [{"role": "assistant", "content": r["rejected"]}],
            }
            for r in rows
        ]
    )


def train(cfg: DPORunConfig, pipes: Any = None) -> dict[str, Any]:
    from trl import DPOTrainer

    from redstar_training.models.folders import load_model

    reused = trainer_run.reuse_if_finished(cfg, pipes)
    if reused is not None:
        return reused
    dataset = load_pairs(cfg.pairs_file, cfg.control, cfg.seed)
    trainer_dir = trainer_run.run_dir(cfg) / "trainer"
    shutil.rmtree(trainer_dir, ignore_errors=True)
    tokenizer, model = load_model(cfg.model)  # safetensors only, no remote code
    args = trainer_run.trainer_args(cfg, trainer_dir, **trainer_run.curve_args(cfg.curve_every))
    callback, history = trainer_run.history_callback(
        pipes, lambda logs: f"loss {logs['loss']:.4f} margin {logs.get('rewards/margins', float('nan')):.3f}"
    )
    trainer = DPOTrainer(
        model=model, args=args, train_dataset=dataset, processing_class=tokenizer, callbacks=[callback]
    )

    def metrics(_result: Any, _seconds: float) -> dict[str, Any]:
        return {
            "pairs": len(dataset),
            "completions": round(2 * len(dataset) * cfg.num_train_epochs),  # a pair is two completions, every epoch
            "last_reward_margin": history[-1].get("rewards/margins") if history else None,
            "control": cfg.control or None,
            # DPO's training reward: how often the implicit reward ranks the chosen answer above the rejected
            "reward_curve": [(int(h["step"]), h["rewards/accuracies"]) for h in history if "rewards/accuracies" in h],
        }

    return trainer_run.train_and_save(trainer, tokenizer, cfg, pipes, history, metrics, {"sft_model": cfg.model})


def main(argv: list[str] | None = None) -> None:
    run_entry_point(__doc__, DPORunConfig, train, lambda cfg: f"DPO on {cfg.model} with {cfg.pairs_file}", argv)


if __name__ == "__main__":
    main()
