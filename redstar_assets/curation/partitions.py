from dagster import StaticPartitionsDefinition

from redstar_assets.profile import Profile


def recipe_partitions(profile: Profile) -> StaticPartitionsDefinition:
    """One partition per subset recipe the profile declares."""
    return StaticPartitionsDefinition(sorted(profile.subset_recipes))
