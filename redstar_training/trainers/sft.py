"""Supervised fine-tuning of a student on a Long-CoT subset with TRL's SFTTrainer; a killed run resumes.
    CPU:    python -m redstar_training.trainers.sft --config run.yaml
    1 GPU:  python -m redstar_training.trainers.sft --config run.yaml bf16=true threads=8
    8 GPUs: accelerate launch --config_file configs/accelerate/zero2.yaml --num_processes 8 \
                -m redstar_training.trainers.sft --config run.yaml bf16=true
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trl import SFTConfig

from redstar_training.entry import run_entry_point
from redstar_training.files.run_config import RunInputError
from redstar_training.models.base_model import ensure_base_model
from redstar_training.trainers import trainer_run


@dataclass
class SFTRunConfig(SFTConfig, trainer_run.RunFields):
    """One SFT run: TRL's SFTConfig plus the pipeline's fields; the asset writes it, a person can too."""

    base_model: str = ""
    tiny_spec: dict[str, Any] = field(default_factory=dict)  # build base_model from this if missing
    train_file: str = ""
    # warmup over this share of the run's full batches (sets TRL's warmup_steps from the row count)
    warmup_ratio: float = 0.03
    lora: bool = False
    lora_rank: int = 16
    blank_images: bool = False  # the image-blind arm: every figure replaced by a blank one


# TRL fields the SFT trainer sets itself: the resume keeps the last epoch, the rest follow the rows.
PIPELINE_SET = (*trainer_run.PIPELINE_SET, "save_strategy", "save_total_limit", "warmup_steps", "logging_steps")


def load_messages(train_file: str, blank_images: bool = False):
    """The subset's chat rows as a datasets.Dataset, in trace id order when the file has trace ids
    (the subset writer keeps the trace files' order; the data order a seed shuffles is the same
    whichever way the file was written); an empty subset fails before training starts. Rows of image
    problems carry their figure (`images`, blank for the image-blind arm) and an image part."""
    import polars as pl
    from datasets import Dataset

    from redstar_training.models.chat_template import with_image
    from redstar_training.models.folders import pil_image

    frame = pl.read_parquet(train_file)
    if frame.height == 0:
        raise RunInputError(f"{train_file}: the subset has no rows; nothing to train on")
    if "trace_id" in frame.columns:
        frame = frame.sort("trace_id")
    if "image" not in frame.columns or frame["image"].null_count() == frame.height:
        return Dataset.from_list(frame.select("messages").to_dicts())
    rows = []
    for messages, image in frame.select("messages", "image").iter_rows():
        figure = pil_image(image) if image is not None else None
        if figure is not None and blank_images:
            figure = figure.point(lambda _: 255)
        rows.append({"messages": with_image(messages, figure is not None), "images": [figure] if figure else []})
    return Dataset.from_list(rows)


def _complete(checkpoint: Path) -> bool:
    """The Trainer writes trainer_state.json after the weights, optimizer and RNG state."""
    import json

    try:
        json.loads((checkpoint / "trainer_state.json").read_text())
        return True
    except (OSError, ValueError):
        return False


def _prepare_trainer_dir(trainer_dir: Path, cfg: SFTRunConfig) -> bool:
    """True when a checkpoint of this very config exists to resume from; stale ones are cleared."""
    stamp = trainer_dir / "run_config_hash"
    if stamp.exists() and stamp.read_text() == trainer_run.run_hash(cfg):
        for partial in [c for c in trainer_dir.glob("checkpoint-*") if not _complete(c)]:
            shutil.rmtree(partial)  # killed while saving: resume from the last whole one
        return any(trainer_dir.glob("checkpoint-*"))
    shutil.rmtree(trainer_dir, ignore_errors=True)
    trainer_dir.mkdir(parents=True)
    stamp.write_text(trainer_run.run_hash(cfg))
    return False


def check_inputs(cfg: SFTRunConfig) -> None:
    """Bad input fails here, in a second, before torch, transformers and TRL are even imported."""
    import polars as pl

    if not cfg.tiny_spec and not Path(cfg.base_model).exists() and cfg.base_model.count("/") != 1:
        raise RunInputError(f"base_model {cfg.base_model!r} is neither a model folder nor a hub id (org/name)")
    if not Path(cfg.train_file).exists():
        raise RunInputError(f"train_file {cfg.train_file!r} does not exist")
    if pl.scan_parquet(cfg.train_file).select(pl.len()).collect().item() == 0:
        raise RunInputError(f"{cfg.train_file}: the subset has no rows; nothing to train on")


def train(cfg: SFTRunConfig, pipes: Any = None) -> dict[str, Any]:
    """Trains, saves a Hugging Face folder with lineage card, reloads it and generates once."""
    check_inputs(cfg)
    with cfg.main_process_first(desc="the tiny base model"):  # one rank builds it, the others read it
        ensure_base_model(cfg.base_model, cfg.tiny_spec)
    reused = trainer_run.reuse_if_finished(cfg, pipes, cfg.trust_remote_code)
    if reused is not None:
        return reused
    dataset = load_messages(cfg.train_file, cfg.blank_images)
    trainer_dir = trainer_run.run_dir(cfg) / "trainer"
    trainer, tokenizer, history = _trainer(cfg, dataset, trainer_dir, pipes)
    resume = _prepare_trainer_dir(trainer_dir, cfg)

    def metrics(result: Any, seconds: float) -> dict[str, Any]:
        tokens = _text_tokens(trainer, tokenizer, dataset)
        return {
            "tokens_per_second": round(tokens * cfg.num_train_epochs / max(seconds, 1e-9), 1)
            if tokens is not None
            else None,
            "train_rows": len(dataset),
            "resumed": resume,
            "deepspeed_zero_stage": _zero_stage(trainer),
            "world_size": int(trainer.args.world_size),
        }

    def merge_lora() -> None:
        if cfg.lora:
            trainer.model = trainer.model.merge_and_unload()

    lineage = {"base_model": cfg.base_model}
    return trainer_run.train_and_save(
        trainer, tokenizer, cfg, pipes, history, metrics, lineage, resume, cfg.trust_remote_code, merge_lora
    )


def _trainer(cfg: SFTRunConfig, dataset: Any, trainer_dir: Path, pipes: Any) -> tuple[Any, Any, list]:
    """TRL's SFTTrainer over the subset, with LoRA adapters when the recipe asks for them."""
    import torch
    from trl import SFTTrainer

    from redstar_training.models.folders import load_model

    dtype = torch.bfloat16 if cfg.bf16 else torch.float32
    tokenizer, model = load_model(cfg.base_model, dtype=dtype, trust_remote_code=cfg.trust_remote_code)
    peft_config = None
    if cfg.lora:
        from peft import LoraConfig

        peft_config = LoraConfig(r=cfg.lora_rank, lora_alpha=2 * cfg.lora_rank, target_modules="all-linear")
    full_batches = max(1, len(dataset) // (cfg.per_device_train_batch_size * cfg.gradient_accumulation_steps))
    args = trainer_run.trainer_args(
        cfg,
        trainer_dir,
        warmup_steps=int(cfg.warmup_ratio * full_batches * cfg.num_train_epochs),
        logging_steps=max(1, full_batches // 4),
        save_strategy="epoch",
        save_total_limit=1,
    )
    callback, history = trainer_run.history_callback(pipes, lambda logs: f"loss {logs['loss']:.4f}")
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=[callback],
    )
    return trainer, tokenizer, history


def _text_tokens(trainer: Any, tokenizer: Any, dataset: Any) -> int | None:
    """Text tokens in one epoch, for tokens per second, counted once on rank 0 (None elsewhere): from
    the token ids TRL already prepared, or, for a vision model's rows (prepared by its collator), by
    tokenizing the chat text without its figures."""
    if not trainer.is_world_process_zero():
        return None
    prepared = trainer.train_dataset
    if "input_ids" in prepared.column_names:
        return sum(len(ids) for ids in prepared["input_ids"])
    from redstar_training.models.folders import text_tokenizer

    text = text_tokenizer(tokenizer)
    return sum(
        len(text.apply_chat_template(r["messages"], tokenize=True, return_dict=True)["input_ids"]) for r in dataset
    )


def _zero_stage(trainer) -> int | None:
    """The DeepSpeed ZeRO stage the run used (launched with an accelerate DeepSpeed config), else None."""
    if not getattr(trainer, "is_deepspeed_enabled", False):
        return None
    plugin = trainer.accelerator.state.deepspeed_plugin
    return int(plugin.zero_stage) if plugin is not None else None


def describe(cfg: SFTRunConfig) -> str:
    shown = {k: v for k, v in trainer_run.changed_fields(cfg).items() if k != "lineage"}
    return f"SFT {cfg.base_model} on {cfg.train_file}: {json.dumps(shown, default=str)}"


def main(argv: list[str] | None = None) -> None:
    run_entry_point(__doc__, SFTRunConfig, train, describe, argv)


if __name__ == "__main__":
    main()
