"""Trainer run configs are TRL's own: any TRL field of a recipe reaches the config the entry point
builds, the fields file the profile check reads matches the installed TRL, and a key TRL does not
know (or an old pipeline name) fails at load naming the key."""

import pytest
import yaml

from redstar_assets.config.errors import ProfileError
from redstar_assets.config.trl_recipes import FIELDS_FILE, check_recipe


def _entry_point_config(module, tmp_path, values: dict, overrides=(), monkeypatch=None):
    """The config object `module`'s entry point builds from a run config file (training stubbed out)."""
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump({"bf16": False, **values}))  # as the shipped recipes pin it
    built = []
    monkeypatch.setattr(module, "train", lambda cfg, pipes=None: built.append(cfg) or {})
    module.main(["--config", str(path), *overrides])
    return built[0]


def test_the_fields_file_matches_the_installed_trl():
    from redstar_training.trainers.trl_fields import render

    assert FIELDS_FILE.read_text() == render(), "run: python -m redstar_training.trainers.trl_fields"


def test_trl_fields_no_profile_sets_reach_the_trainers_config(tmp_path, monkeypatch):
    from trl import GRPOConfig, RLOOConfig, SFTConfig

    from redstar_training.trainers import grpo, sft

    cfg = _entry_point_config(
        grpo, tmp_path, {"model": "m", "loss_type": "dr_grpo", "epsilon_high": 0.28}, monkeypatch=monkeypatch
    )
    assert isinstance(cfg, GRPOConfig) and cfg.loss_type == "dr_grpo" and cfg.epsilon_high == 0.28
    rpp = _entry_point_config(grpo, tmp_path, {"model": "m", "algorithm": "reinforce_pp"}, monkeypatch=monkeypatch)
    assert isinstance(rpp, GRPOConfig) and rpp.scale_rewards == "batch"
    rloo = _entry_point_config(grpo, tmp_path, {"model": "m", "algorithm": "rloo"}, monkeypatch=monkeypatch)
    assert isinstance(rloo, RLOOConfig) and not isinstance(rloo, GRPOConfig)
    cfg = _entry_point_config(
        sft, tmp_path, {"base_model": "b", "max_grad_norm": 0.5}, ["packing=true"], monkeypatch=monkeypatch
    )
    assert isinstance(cfg, SFTConfig) and cfg.max_grad_norm == 0.5 and cfg.packing is True
    args = sft.trainer_run.trainer_args(cfg, tmp_path / "trainer", logging_steps=3)
    assert args.max_grad_norm == 0.5 and args.output_dir == str(tmp_path / "trainer") and args.logging_steps == 3
    assert cfg.output_dir != args.output_dir  # the run's own config keeps the run folder


def test_a_grpo_only_key_on_an_rloo_run_config_fails(tmp_path, monkeypatch):
    from redstar_training.trainers import grpo

    with pytest.raises(SystemExit, match=r"unknown config key 'scale_rewards' for RLOORunConfig"):
        _entry_point_config(grpo, tmp_path, {"algorithm": "rloo", "scale_rewards": "batch"}, monkeypatch=monkeypatch)
    with pytest.raises(SystemExit, match=r"reinforce_pp sets scale_rewards='batch' itself"):
        _entry_point_config(
            grpo, tmp_path, {"algorithm": "reinforce_pp", "scale_rewards": "group"}, monkeypatch=monkeypatch
        )


@pytest.mark.parametrize(
    ("method", "recipe", "message"),
    [
        ("sft", {"epochs": 1}, r"key 'epochs' is now 'num_train_epochs'"),
        ("dpo", {"batch_size": 4}, r"key 'batch_size' is now 'per_device_train_batch_size'"),
        ("sft", {"lr_scheduler": "cosine"}, r"key 'lr_scheduler' is now 'lr_scheduler_type'"),
        (
            "sft",
            {"max_grad_nrom": 0.5},
            r"unknown key 'max_grad_nrom' for SFTConfig \(did you mean 'max_grad_norm'\?\)",
        ),
        ("rloo", {"loss_type": "dr_grpo"}, r"unknown key 'loss_type' for RLOOConfig"),
        ("grpo", {"max_pairs": 3}, r"unknown key 'max_pairs' for GRPOConfig"),
        ("sft", {"learning_rate": "1e-5"}, r"sft-x\.learning_rate: expected float.*1\.0e-5"),
        ("sft", {"lr_scheduler_type": "cosine_forever"}, r"'cosine_forever' is not one of \['linear', 'cosine'"),
        ("sft", {"bf16": "yes"}, r"bf16: expected bool or none"),
        ("sft", {"logging_steps": 3}, r"key 'logging_steps' is set by the pipeline"),
        ("reinforce_pp", {"scale_rewards": "group"}, r"key 'scale_rewards' is set by the pipeline"),
    ],
)
def test_a_bad_recipe_fails_at_load_naming_file_entry_and_key(method, recipe, message):
    with pytest.raises(ProfileError, match=r"^p\.yaml: sft-x: |^p\.yaml: sft-x\."):
        check_recipe("p.yaml", "sft-x", recipe, method)
    with pytest.raises(ProfileError, match=message):
        check_recipe("p.yaml", "sft-x", recipe, method)


def test_trl_fields_pass_the_profile_check():
    check_recipe("p.yaml", "grpo-x", {"loss_type": "dr_grpo", "mask_truncated_completions": True}, "grpo")
    check_recipe("p.yaml", "sft-x", {"max_grad_norm": 0.5, "use_liger_kernel": False, "warmup_ratio": 0.1}, "sft")
    check_recipe("p.yaml", "dpo-x", {"loss_type": ["sigmoid"], "beta": 0.2, "max_pairs": 8}, "dpo", extra={"max_pairs"})


def test_an_old_key_in_a_profile_fails_at_load(tmp_path):
    from redstar_assets.config.profile import load_profile

    path = tmp_path / "old.yaml"
    path.write_text("extends: demo-tiny\nname: old\ntraining_recipes: {sft-tiny: {epochs: 2}}\n")
    with pytest.raises(ProfileError, match=r"old\.yaml: training_recipes\.sft-tiny: key 'epochs' is now"):
        load_profile(str(path))


def test_a_profile_recipe_reaches_the_trainers_config_through_the_typed_recipe(tmp_path, monkeypatch):
    """From the YAML to the entry point: the profile's recipe, as the asset turns it into a run config."""
    from trl import GRPOConfig, SFTConfig

    from redstar_assets.config.profile import load_profile
    from redstar_training.trainers import grpo, sft

    path = tmp_path / "p.yaml"
    path.write_text(
        "extends: demo-rl-tiny\n"
        "training_recipes: {sft-tiny: {max_grad_norm: 0.5}}\n"
        "rl_recipes: {dr: {method: grpo, loss_type: dr_grpo, max_problems: 8}}\n"
    )
    profile = load_profile(str(path))
    recipe = profile.rl_recipes["dr"]
    assert (recipe.method, recipe.max_problems, recipe.entry_point) == ("grpo", 8, "redstar_training.trainers.grpo")
    run = recipe.run_config(model="m", problems_file="p.parquet", output_dir=str(tmp_path / "rl"))
    cfg = _entry_point_config(grpo, tmp_path, run, monkeypatch=monkeypatch)
    assert isinstance(cfg, GRPOConfig) and cfg.loss_type == "dr_grpo" and cfg.algorithm == "grpo"
    run = profile.training_recipes["sft-tiny"].run_config(base_model="b", output_dir=str(tmp_path / "sft"))
    cfg = _entry_point_config(sft, tmp_path, run, monkeypatch=monkeypatch)
    assert isinstance(cfg, SFTConfig) and cfg.max_grad_norm == 0.5
