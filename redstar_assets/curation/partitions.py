from dagster import StaticPartitionsDefinition

from redstar_assets.profile import active_profile

# One partition per subset recipe declared in the active profile.
recipe_partitions = StaticPartitionsDefinition(sorted(active_profile().subset_recipes))
