import dagster as dg

from redstar_assets.profile import Profile


def stage_partitions(profile: Profile, stage: str) -> dg.StaticPartitionsDefinition:
    """The experiments that train a stage (`sft` or `rl`); the score asset covers every experiment."""
    return dg.StaticPartitionsDefinition(profile.experiments_with(stage))


def subset_to_experiments(profile: Profile) -> dg.StaticPartitionMapping:
    """Each SFT experiment reads the subset its recipe names."""
    return dg.StaticPartitionMapping(
        {
            recipe: [e.name for e in profile.experiments if e.subset == recipe and "sft" in e.stages]
            for recipe in profile.subset_recipes
        }
    )


def same_experiment(names: list[str]) -> dg.StaticPartitionMapping:
    """An experiment's stage reads the same experiment's earlier stage."""
    return dg.StaticPartitionMapping({name: name for name in names})
