"""What trl_fields.json cannot check (one field against another) TRL itself checks at `--dry-run`, in a
child process; each test starts that child once (it imports TRL, about 10 s)."""

import subprocess
import sys
from pathlib import Path

from redstar_assets.cli import recipe_check
from redstar_assets.cli.dry_run import trl_recipes
from redstar_assets.cli.recipe_check import check_recipes_with_trl
from redstar_assets.config.profile import load_profile
from redstar_assets.config.trl_recipes import check_recipe

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

# Each passes the field file's checks; TRL's __post_init__ refuses it.
REFUSED = {
    "training_recipes.best": ("sft", {"load_best_model_at_end": True}),
    "rl_recipes.groups": ("grpo", {"num_generations": 3, "per_device_train_batch_size": 4}),
    "rl_recipes.both": ("rloo", {"steps_per_generation": 2, "generation_batch_size": 8}),
}


def test_a_recipe_the_field_file_passes_but_trl_refuses_fails_naming_the_entry_and_trls_words():
    for entry, (method, values) in REFUSED.items():
        check_recipe("p.yaml", entry, values, method)  # raises nothing
    errors = check_recipes_with_trl({**REFUSED, "training_recipes.fine": ("sft", {"num_train_epochs": 1})}, "p.yaml")
    assert len(errors) == 3 and all("\n" not in e for e in errors)
    by_entry = {e.split(": ")[1]: e for e in errors}
    assert "--load_best_model_at_end requires the save and eval strategy to match" in by_entry["training_recipes.best"]
    assert "generation_batch_size (4) must be divisible by num_generations (3)" in by_entry["rl_recipes.groups"]
    assert "can not be both configured" in by_entry["rl_recipes.both"]
    assert all(e.startswith("p.yaml: ") for e in errors)


def test_every_shipped_profiles_recipes_pass_trl():
    recipes = {}
    for path in sorted((ROOT / "configs" / "profiles").glob("*.yaml")):
        for entry, spec in trl_recipes(load_profile(path.stem)).items():
            recipes[f"{path.stem}:{entry}"] = spec
    assert recipes and check_recipes_with_trl(recipes, "configs/profiles") == []


def test_a_child_that_crashes_is_an_error_naming_its_command(monkeypatch):
    monkeypatch.setattr(recipe_check, "CHILD", "redstar_training.no_such_module")
    errors = recipe_check.check_recipes_with_trl({"training_recipes.x": ("sft", {})}, "p.yaml")
    assert len(errors) == 1
    assert errors[0].startswith("p.yaml: the TRL recipe check `") and "-m redstar_training.no_such_module" in errors[0]
    assert "No module named" in errors[0]


def test_dry_run_refuses_a_recipe_trl_refuses(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("extends: demo-tiny\nname: p\ntraining_recipes: {sft-tiny: {load_best_model_at_end: true}}\n")
    out = subprocess.run(
        [BIN / "redstar", "run", "--profile", str(path), "--dry-run"], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 2, out.stderr
    assert f"redstar: {path}: training_recipes.sft-tiny: TRL: SFTRunConfig: --load_best_model_at_end" in out.stderr
    assert "valid" not in out.stdout
