"""Online RL on top of an SFT checkpoint: groups of sampled completions per problem, rewarded by the
shared verifier (1 for a verified-correct final answer) plus a format reward (a closed think block
then a boxed answer). `algorithm` picks how a group's rewards become advantages:

- `grpo`: TRL's GRPOTrainer, rewards centred on the group's mean and scaled by the group's std;
- `rloo`: TRL's RLOOTrainer, each completion's baseline the mean of the others in its group;
- `reinforce_pp`: "REINFORCE++-baseline (approx.)", GRPOTrainer with the group's mean as baseline
  and the whole batch's std as scale (`scale_rewards="batch"`). OpenRLHF's REINFORCE++ has no TRL
  trainer; the README lists how this differs from it.

    CPU:    python -m redstar_training.trainers.grpo --config run.yaml
    1 GPU:  python -m redstar_training.trainers.grpo --config run.yaml bf16=true use_vllm=true
    8 GPUs: accelerate launch --config_file configs/accelerate/zero2.yaml --num_processes 8 \\
                -m redstar_training.trainers.grpo --config run.yaml bf16=true use_vllm=true

vLLM generation (colocated) is for GPU machines; on CPU generation runs through transformers.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from redstar_training.entry import run_entry_point
from redstar_training.files.run_config import RunInputError
from redstar_training.models.chat_template import prompt_messages
from redstar_training.trainers import trainer_run

if TYPE_CHECKING:
    from collections.abc import Callable


ALGORITHMS = ("grpo", "rloo", "reinforce_pp")


@dataclass
class GRPORunConfig(trainer_run.TrainerRunConfig):
    model: str = ""
    problems_file: str = ""  # parquet: problem, answer (answer_format, tolerance, verify_mode optional)
    algorithm: str = "grpo"  # grpo | rloo | reinforce_pp (see the module docstring)
    num_generations: int = 4  # the group size
    max_completion_length: int = 96
    temperature: float = 1.0
    max_steps: int = 10
    batch_size: int = 8  # completions per step; a multiple of num_generations
    learning_rate: float = 1e-5
    beta: float = 0.0
    format_reward_weight: float = 0.2
    curve_every: int = 0  # keep the policy every N optimizer steps (curve/step-N), to score along the way
    use_vllm: bool = False


def load_problems(problems_file: str):
    import polars as pl
    from datasets import Dataset

    frame = pl.read_parquet(problems_file)
    if frame.height == 0:
        raise RunInputError(f"{problems_file}: no problems; online RL needs prompts with reference answers")
    judging = [c for c in ("answer_format", "tolerance", "verify_mode") if c in frame.columns]
    return Dataset.from_list(
        [
            {"prompt": prompt_messages(r["problem"]), "answer": str(r["answer"]), **{c: r[c] for c in judging}}
            for r in frame.to_dicts()
        ]
    )


def train(cfg: GRPORunConfig, pipes: Any = None) -> dict[str, Any]:
    if not Path(cfg.model).exists():
        raise RunInputError(f"model {cfg.model!r}: no such folder (GRPO starts from an SFT checkpoint)")
    if cfg.algorithm not in ALGORITHMS:
        raise RunInputError(f"algorithm {cfg.algorithm!r} is not one of {ALGORITHMS}")
    if cfg.batch_size % cfg.num_generations:
        raise RunInputError(f"batch_size {cfg.batch_size} must be a multiple of num_generations {cfg.num_generations}")
    reused = trainer_run.reuse_if_finished(cfg, pipes)
    if reused is not None:
        return reused
    trainer, tokenizer, history, groups = _trainer(cfg, load_problems(cfg.problems_file), pipes)

    def metrics(_result: Any, _seconds: float) -> dict[str, Any]:
        return {
            "mean_reward_first": history[0].get("reward") if history else None,
            "mean_reward_last": history[-1].get("reward") if history else None,
            "groups": len(groups),
            "groups_with_unequal_rewards": sum(len(set(g)) > 1 for g in groups),
            "completions": sum(len(g) for g in groups),  # sampled and rewarded, the RL budget's unit
            "reward_groups": groups,
        }

    return trainer_run.train_and_save(
        trainer, tokenizer, cfg, pipes, history, metrics, {"sft_model": cfg.model, "rl": cfg.algorithm}
    )


def _trainer(cfg: GRPORunConfig, dataset: Any, pipes: Any) -> tuple[Any, Any, list, list[list[float]]]:
    """TRL's GRPOTrainer or RLOOTrainer with the verifier's reward and the format reward; it also
    returns the reward groups it fills (one list of rewards per prompt's completions)."""
    from trl import GRPOConfig, GRPOTrainer, RLOOConfig, RLOOTrainer

    from redstar_training.models.folders import load_model
    from redstar_training.trainers.rewards import accuracy_reward, format_reward

    trainer_dir = Path(cfg.output_dir) / "trainer"
    shutil.rmtree(trainer_dir, ignore_errors=True)
    tokenizer, model = load_model(cfg.model)  # safetensors only, no remote code
    tokenizer.padding_side = "left"
    settings: dict[str, Any] = {
        **trainer_run.shared_args(cfg, trainer_dir),
        "num_generations": cfg.num_generations,
        "per_device_train_batch_size": cfg.batch_size,
        "max_completion_length": cfg.max_completion_length,
        "temperature": cfg.temperature,
        "max_steps": cfg.max_steps,
        "learning_rate": cfg.learning_rate,
        "beta": cfg.beta,
        "reward_weights": [1.0, cfg.format_reward_weight],
        "use_vllm": cfg.use_vllm,
        "logging_steps": 1,
        **trainer_run.curve_args(cfg.curve_every),
    }
    if cfg.algorithm == "rloo":
        args: Any = RLOOConfig(**settings)
        trainer_cls: Any = RLOOTrainer
    else:  # REINFORCE++-baseline (approx.): the group's mean as baseline, the batch's std as scale
        scale = "batch" if cfg.algorithm == "reinforce_pp" else "group"
        args, trainer_cls = GRPOConfig(**settings, scale_rewards=scale), GRPOTrainer
    groups: list[list[float]] = []

    def verifier_reward(completions, answer, **kwargs):
        rewards = accuracy_reward(completions, answer, **kwargs)
        groups.extend(rewards[i : i + cfg.num_generations] for i in range(0, len(rewards), cfg.num_generations))
        return rewards

    verifier_reward.__name__ = "verifier_accuracy"
    callback, history = trainer_run.history_callback(
        pipes, lambda logs: f"loss {logs['loss']:.4f} reward {logs.get('reward', float('nan')):.3f}"
    )
    trainer = trainer_cls(
        model=model,
        # TRL's reward functions return list[float | None]: format_reward's list[float] is one (TRL only reads it)
        reward_funcs=[verifier_reward, cast("Callable[..., list[float | None]]", format_reward)],
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        callbacks=[callback],
    )
    return trainer, tokenizer, history, groups


def main(argv: list[str] | None = None) -> None:
    run_entry_point(
        __doc__, GRPORunConfig, train, lambda cfg: f"{cfg.algorithm} on {cfg.model} with {cfg.problems_file}", argv
    )


if __name__ == "__main__":
    main()
