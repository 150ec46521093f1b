"""Entry-point configs fail before any work starts when a key is unknown, and overrides parse like YAML."""

import pytest

from redstar_training.files.run_config import ConfigError, config_hash, load_config
from redstar_training.trainers.sft import SFTRunConfig


def test_overrides_parse_like_yaml(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("base_model: m\nepochs: 2\n")
    cfg = load_config(SFTRunConfig, path, ["learning_rate=5e-3", "lora=true", "epochs=3"])
    assert cfg.learning_rate == 0.005 and cfg.lora is True and cfg.epochs == 3.0 and cfg.base_model == "m"
    assert config_hash(cfg) != config_hash(load_config(SFTRunConfig, path, []))


def test_unknown_keys_are_rejected_with_the_known_ones(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("base_model: m\nepoch: 2\n")
    with pytest.raises(ConfigError, match=r"unknown config key\(s\) \['epoch'\]"):
        load_config(SFTRunConfig, path, [])
    with pytest.raises(ConfigError, match="override 'lr=1'"):
        load_config(SFTRunConfig, None, ["lr=1"])
