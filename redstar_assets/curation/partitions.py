import dagster as dg

from redstar_assets.config.sections import Profile


def recipe_partitions(profile: Profile) -> dg.StaticPartitionsDefinition:
    """One partition per subset recipe the profile declares."""
    return dg.StaticPartitionsDefinition(sorted(profile.subset_recipes))
