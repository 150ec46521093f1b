"""The checks `redstar run --dry-run` adds to loading the profile: each source's first rows through
the run's own validation, and each trainer recipe through TRL itself (in a child process)."""

from __future__ import annotations

from redstar_assets.cli.recipe_check import check_recipes_with_trl
from redstar_assets.config.sections import Profile
from redstar_assets.problems.source_preview import preview_problems


def trl_recipes(profile: Profile) -> dict[str, tuple[str, dict]]:
    """Each trainer recipe as its trainer parses it: the method and the TRL values."""
    sections = {"training_recipes": profile.training_recipes, "rl_recipes": profile.rl_recipes}
    return {f"{s}.{name}": (r.method, dict(r.trl)) for s, recipes in sections.items() for name, r in recipes.items()}


def dry_run_checks(profile: Profile) -> tuple[list[str], list[str]]:
    """(errors, notes): an error stops the run before anything starts; a note is worth reading."""
    where = str(profile.path)
    errors: list[str] = []
    notes: list[str] = []
    for spec in profile.sources:
        found, noted = preview_problems(spec)
        errors += [f"{where}: {e}" for e in found]
        notes += [f"{where}: {n}" for n in noted]
    errors += check_recipes_with_trl(trl_recipes(profile), where)
    return errors, notes
