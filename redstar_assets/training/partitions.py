import dagster as dg

from redstar_assets.config.sections import Profile


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


def sft_to_rl(profile: Profile) -> dg.StaticPartitionMapping:
    """An RL stage reads the SFT checkpoint it starts from: its own experiment's, or for an RL arm
    with `sft_from`, that experiment's (one SFT partition feeds every arm that starts from it)."""
    arms: dict[str, list[str]] = {}
    for exp in profile.experiments:
        if "rl" in exp.stages:
            arms.setdefault(profile.stage_partition(exp, "sft"), []).append(exp.name)
    return dg.StaticPartitionMapping(arms)
