"""A user's editor checks a profile against `redstar profile schema`; the schema comes from the same
typed sections that load the profile, so a file the editor accepts is one the pipeline reads."""

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from redstar_assets.config.errors import ProfileError
from redstar_assets.config.profile import load_profile

ROOT = Path(__file__).resolve().parents[1]
PROFILES = sorted((ROOT / "configs" / "profiles").glob("*.yaml"))


@pytest.fixture(scope="module")
def schema() -> dict:
    """The schema as a user gets it: from the command line."""
    out = subprocess.run(
        [sys.executable, "-m", "redstar_assets.cli.main", "profile", "schema"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.stem)
def test_every_shipped_profile_file_matches_the_schema_and_loads(schema, path):
    jsonschema.validate(yaml.safe_load(path.read_text()), schema)
    assert load_profile(str(path)).experiments


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("experimens: []\n", r"profile: unknown key 'experimens'"),
        ("launch: {parallel: two}\n", r"launch\.parallel must be an integer"),
        ("training_recipes: {sft-tiny: {epochs: 2}}\n", r"key 'epochs' is now 'num_train_epochs'"),
        ("rl_recipes: {dpo-tiny: {beta: high}}\n", r"dpo-tiny\.beta: expected float"),
        ("subset_recipes: {cot-random-20: {scale: 5, strategy: hardest}}\n", r"strategy 'hardest' is not one of"),
        ("automation: {training: {cron: '0 2 * * *', at: 3}}\n", r"automation\.training: .* is not eager, manual"),
    ],
)
def test_the_schema_and_the_loader_refuse_the_same_mistakes(schema, tmp_path, text, message):
    data = {"extends": "demo-tiny", **yaml.safe_load(text)}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, schema)
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ProfileError, match=message):
        load_profile(str(path))


def test_a_partial_mapping_entry_is_valid_as_written(schema):
    """A child profile may set one field of a parent's recipe: mappings merge key by key."""
    jsonschema.validate({"extends": "demo", "subset_recipes": {"cot-random-500": {"seed": 3}}}, schema)
