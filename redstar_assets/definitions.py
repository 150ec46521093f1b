"""The Dagster code location: the pipeline for the profile REDSTAR_PROFILE names (default `demo`).

`dagster dev`, the daemon and every run worker they start inherit REDSTAR_PROFILE (a profile name
under configs/profiles or a YAML path), so all of them build the same definitions. Light on purpose:
nothing here imports torch, transformers, trl or vllm; model work runs in launched processes.
"""

from redstar_assets.config.profile import profile_from_env
from redstar_assets.factory import build_definitions

defs = build_definitions(profile_from_env())
