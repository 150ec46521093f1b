"""Entry-point configs fail before any work starts when a key is unknown, and overrides parse like the
command line."""

import pytest

from redstar_training.files.run_config import ConfigError, load_config
from redstar_training.trainers.sft import SFTRunConfig
from redstar_training.trainers.trainer_run import run_hash


def test_overrides_parse_like_the_command_line(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("base_model: m\nnum_train_epochs: 2\nlearning_rate: 5e-3\n")
    cfg = load_config(SFTRunConfig, path, ["warmup_ratio=0.1", "lora=true", "num_train_epochs=3"])
    assert cfg.learning_rate == 0.005 and cfg.lora is True and cfg.num_train_epochs == 3.0 and cfg.base_model == "m"
    assert cfg.warmup_ratio == 0.1
    assert run_hash(cfg) != run_hash(load_config(SFTRunConfig, path, []))
    assert run_hash(load_config(SFTRunConfig, path, [])) == run_hash(load_config(SFTRunConfig, path, []))


def test_unknown_and_renamed_keys_are_rejected_naming_the_key(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("base_model: m\nnum_train_epoch: 2\n")
    with pytest.raises(ConfigError, match=r"unknown config key 'num_train_epoch'.*did you mean 'num_train_epochs'"):
        load_config(SFTRunConfig, path, [])
    with pytest.raises(ConfigError, match="key 'epochs' is now TRL's 'num_train_epochs'"):
        load_config(SFTRunConfig, None, ["epochs=1"])
    with pytest.raises(ConfigError, match="override 'lr': expected key=value"):
        load_config(SFTRunConfig, None, ["lr"])
