from dagster import StaticPartitionMapping, StaticPartitionsDefinition

from redstar_assets.profile import active_profile

_profile = active_profile()

# Experiments that train an SFT stage / an RL stage; the score asset covers every experiment.
sft_experiment_partitions = StaticPartitionsDefinition(_profile.experiments_with("sft"))
rl_experiment_partitions = StaticPartitionsDefinition(_profile.experiments_with("rl"))

# Each SFT experiment reads the subset its recipe names.
subset_to_experiments = StaticPartitionMapping(
    {
        recipe: [e.name for e in _profile.experiments if e.subset == recipe and "sft" in e.stages]
        for recipe in _profile.subset_recipes
    }
)
sft_to_rl = StaticPartitionMapping({name: name for name in _profile.experiments_with("rl")})
