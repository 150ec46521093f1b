from dagster import StaticPartitionMapping, StaticPartitionsDefinition

from redstar_assets.profile import active_profile

_profile = active_profile()

# Every experiment is scored, baselines included.
experiment_partitions = StaticPartitionsDefinition([e.name for e in _profile.experiments])
sft_to_scores = StaticPartitionMapping({name: name for name in _profile.experiments_with("sft")})
rl_to_scores = StaticPartitionMapping({name: name for name in _profile.experiments_with("rl")})
