"""Online RL (GRPO, RLOO, REINFORCE++-baseline) on top of an SFT checkpoint, rewarded by the verifier.
    CPU:    python -m redstar_training.trainers.grpo --config run.yaml
    8 GPUs: accelerate launch --config_file configs/accelerate/zero2.yaml --num_processes 8 \
                -m redstar_training.trainers.grpo --config run.yaml bf16=true use_vllm=true
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from trl import GRPOConfig, RLOOConfig

from redstar_training.entry import run_entry_point
from redstar_training.files.run_config import ConfigError, RunInputError
from redstar_training.models.chat_template import prompt_messages
from redstar_training.trainers import trainer_run

if TYPE_CHECKING:
    from collections.abc import Callable


@dataclass
class OnlineRLFields(trainer_run.RunFields):
    """The pipeline's fields of an online RL run."""

    model: str = ""
    problems_file: str = ""  # parquet: problem, answer (answer_format, tolerance, verify_mode optional)
    algorithm: str = "grpo"  # grpo | rloo | reinforce_pp (see the module docstring)
    control: str = ""  # "shuffled_rewards": the family's control (rewards permuted across completions)
    curve_every: int = 0  # keep the policy every N optimizer steps (curve/step-N), to score along the way


@dataclass
class GRPORunConfig(GRPOConfig, OnlineRLFields):
    """A GRPO (or REINFORCE++-baseline) run: TRL's GRPOConfig plus the pipeline's fields."""


@dataclass
class RLOORunConfig(RLOOConfig, OnlineRLFields):
    """An RLOO run: TRL's RLOOConfig plus the pipeline's fields."""


# Each algorithm's run config class and the TRL values the algorithm itself sets.
ALGORITHMS: dict[str, tuple[type, dict[str, Any]]] = {
    "grpo": (GRPORunConfig, {}),
    "rloo": (RLOORunConfig, {}),
    "reinforce_pp": (GRPORunConfig, {"scale_rewards": "batch"}),
}
# TRL fields the trainer sets itself (the curve's saves follow curve_every).
PIPELINE_SET = (*trainer_run.PIPELINE_SET, *trainer_run.CURVE_KEYS)


class OnlineRLRunConfig:
    """Reads an online RL run config into the class its `algorithm` names, which also decides how a
    group's rewards (verifier, then format, weighted by `reward_weights`) become advantages."""

    # grpo: TRL's GRPOTrainer, rewards centred on the group's mean and scaled by its std.
    # rloo: TRL's RLOOTrainer, each completion's baseline the mean of the others in its group.
    # reinforce_pp: REINFORCE++-baseline (approx.), GRPOTrainer with the group's mean as baseline and
    #   the batch's std as scale (scale_rewards: batch); OpenRLHF's REINFORCE++ has no TRL trainer.
    # vLLM generation (use_vllm, colocated) is for GPU machines; on CPU it runs through transformers.

    @classmethod
    def from_run_config(cls, path: str | Path | None, overrides: list[str]) -> Any:
        data = trainer_run.read_run_config(path)
        chosen = [o.partition("=")[2] for o in overrides if o.startswith("algorithm=")]
        algorithm = chosen[-1] if chosen else data.get("algorithm", "grpo")
        if algorithm not in ALGORITHMS:
            raise ConfigError(f"{path}: algorithm {algorithm!r} is not one of {sorted(ALGORITHMS)}")
        config_cls, method_set = ALGORITHMS[algorithm]
        for key, value in method_set.items():
            if data.get(key, value) != value:
                raise ConfigError(f"{path}: {algorithm} sets {key}={value!r} itself; got {data[key]!r}")
        where = str(path or "run config")
        return trainer_run.parse_run_config(config_cls, {**data, **method_set}, overrides, where)


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


def train(cfg: GRPORunConfig | RLOORunConfig, pipes: Any = None) -> dict[str, Any]:
    if not Path(cfg.model).exists():
        raise RunInputError(f"model {cfg.model!r}: no such folder (GRPO starts from an SFT checkpoint)")
    reused = trainer_run.reuse_if_finished(cfg, pipes)
    if reused is not None:
        return reused
    trainer, tokenizer, history, groups = _trainer(cfg, load_problems(cfg.problems_file), pipes)

    def metrics(_result: Any, _seconds: float) -> dict[str, Any]:
        rewards = [(int(h["step"]), h["reward"]) for h in history if "reward" in h]  # generation steps only
        return {
            "mean_reward_first": rewards[0][1] if rewards else None,
            "mean_reward_last": rewards[-1][1] if rewards else None,
            "groups": len(groups),
            "groups_with_unequal_rewards": sum(len(set(g)) > 1 for g in groups),
            "completions": sum(len(g) for g in groups),  # sampled and rewarded, the RL budget's unit
            "reward_groups": groups,
            "control": cfg.control or None,
            "reward_curve": rewards,
        }

    return trainer_run.train_and_save(
        trainer, tokenizer, cfg, pipes, history, metrics, {"sft_model": cfg.model, "rl": cfg.algorithm}
    )


def _trainer(cfg: GRPORunConfig | RLOORunConfig, dataset: Any, pipes: Any) -> tuple[Any, Any, list, list[list[float]]]:
    """TRL's GRPOTrainer or RLOOTrainer with the verifier's reward and the format reward; it also
    returns the reward groups it fills (one list of rewards per prompt's completions)."""
    from trl import GRPOTrainer, RLOOTrainer

    from redstar_training.models.folders import load_model
    from redstar_training.trainers.rewards import ShuffledRewards, accuracy_reward, format_reward

    trainer_dir = trainer_run.run_dir(cfg) / "trainer"
    shutil.rmtree(trainer_dir, ignore_errors=True)
    tokenizer, model = load_model(cfg.model)  # safetensors only, no remote code
    tokenizer.padding_side = "left"
    args = trainer_run.trainer_args(cfg, trainer_dir, **trainer_run.curve_args(cfg.curve_every))
    trainer_cls: Any = RLOOTrainer if isinstance(cfg, RLOOConfig) else GRPOTrainer
    groups: list[list[float]] = []

    def verifier_reward(completions, answer, **kwargs):
        rewards = accuracy_reward(completions, answer, **kwargs)
        groups.extend(rewards[i : i + cfg.num_generations] for i in range(0, len(rewards), cfg.num_generations))
        return rewards

    verifier_reward.__name__ = "verifier_accuracy"
    rewards: list[Callable[..., list[float]]] = [verifier_reward, format_reward]
    if cfg.control:
        if cfg.control != "shuffled_rewards":
            raise ConfigError(f"control {cfg.control!r}: the online methods' control is 'shuffled_rewards'")
        shuffler = ShuffledRewards(cfg.seed)
        rewards = [shuffler.wrap(r) for r in rewards]
    callback, history = trainer_run.history_callback(
        pipes, lambda logs: f"loss {logs['loss']:.4f}" + (f" reward {logs['reward']:.3f}" if "reward" in logs else "")
    )
    trainer = trainer_cls(
        model=model,
        # TRL's reward functions return list[float | None]: a list[float] is one (TRL only reads it)
        reward_funcs=[cast("Callable[..., list[float | None]]", r) for r in rewards],
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        callbacks=[callback],
    )
    return trainer, tokenizer, history, groups


def main(argv: list[str] | None = None) -> None:
    run_entry_point(
        __doc__,
        OnlineRLRunConfig,  # type: ignore[arg-type]  # it reads itself into GRPORunConfig or RLOORunConfig
        train,
        lambda cfg: f"{cfg.algorithm} on {cfg.model} with {cfg.problems_file}",
        argv,
    )


if __name__ == "__main__":
    main()
