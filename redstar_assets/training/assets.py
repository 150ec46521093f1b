import json

from dagster import (
    AllPartitionMapping,
    AssetCheckSpec,
    AssetDep,
    AssetExecutionContext,
    PipesSubprocessClient,
    asset,
)

from redstar_assets.curation.assets import sft_subsets
from redstar_assets.lineage import lineage_metadata
from redstar_assets.profile import active_profile
from redstar_assets.resources import RedstarHome, TrainingLauncher
from redstar_assets.traces.assets import verified_traces
from redstar_assets.training.base_models import base_model_ref
from redstar_assets.training.launch import checkpoint_results, run_entry_point
from redstar_assets.training.pairs import preference_pairs
from redstar_assets.training.partitions import (
    rl_experiment_partitions,
    sft_experiment_partitions,
    sft_to_rl,
    subset_to_experiments,
)
from redstar_training.checkpoints import folder_hash

LOADS_CHECK = "checkpoint_loads_and_generates"


@asset(
    partitions_def=sft_experiment_partitions,
    group_name="training",
    pool="gpu",
    deps=[AssetDep(sft_subsets, partition_mapping=subset_to_experiments)],
    check_specs=[
        AssetCheckSpec(
            LOADS_CHECK,
            asset="sft_checkpoints",
            blocking=True,
            description="The saved folder reloads from disk and generates.",
        )
    ],
)
def sft_checkpoints(
    context: AssetExecutionContext,
    redstar: RedstarHome,
    launcher: TrainingLauncher,
    pipes_subprocess_client: PipesSubprocessClient,
):
    """The experiment's student after supervised fine-tuning on its subset: a Hugging Face model
    folder (safetensors, tokenizer with chat template, generation config) whose model card names the
    base model, subset hash and recipe. Trained by TRL's SFTTrainer in its own process."""
    profile = active_profile()
    exp = profile.experiment(context.partition_key)
    store = redstar.store()
    base_path, tiny = base_model_ref(store, exp.base_model, profile.base_models[exp.base_model])
    subset_hash = store.read_json("sft_subsets", exp.subset)["subset_hash"]
    out_dir = store.folder("sft_checkpoints", exp.name)
    recipe = profile.training_recipes[exp.training]
    lineage = {
        "experiment": exp.name,
        "stage": "sft",
        "base_model": exp.base_model,
        "subset": exp.subset,
        "subset_hash": subset_hash,
        "training_recipe": exp.training,
        "teacher": profile.teacher,
    }
    run_config = {
        **recipe,
        "base_model": base_path,
        "tiny_spec": tiny,
        "threads": launcher.threads,
        "train_file": str(store.path("sft_subsets", exp.subset)),
        "output_dir": str(out_dir),
        "lineage": lineage,
    }
    run = run_entry_point(context, pipes_subprocess_client, launcher, "redstar_training.sft", run_config, out_dir)
    yield from checkpoint_results(
        run, lineage_metadata(recipe, {"sft_subsets": {exp.subset: subset_hash}}), plot_dir=out_dir
    )


@asset(
    partitions_def=rl_experiment_partitions,
    group_name="training",
    pool="gpu",
    deps=[
        AssetDep("sft_checkpoints", partition_mapping=sft_to_rl),
        AssetDep(verified_traces, partition_mapping=AllPartitionMapping()),
    ],
    check_specs=[
        AssetCheckSpec(
            LOADS_CHECK,
            asset="rl_checkpoints",
            blocking=True,
            description="The saved folder reloads from disk and generates.",
        )
    ],
)
def rl_checkpoints(
    context: AssetExecutionContext,
    redstar: RedstarHome,
    launcher: TrainingLauncher,
    pipes_subprocess_client: PipesSubprocessClient,
):
    """The experiment's student after the RL stage, from its SFT checkpoint: DPO (the paper's best RL
    variant) on pairs of a verified-correct and a wrong teacher trace of one problem, or GRPO
    (`method: grpo`) on the training problems with the shared verifier as reward."""
    profile = active_profile()
    exp = profile.experiment(context.partition_key)
    store = redstar.store()
    recipe = dict(profile.rl_recipes[exp.rl])
    method = recipe.pop("method", "dpo")
    max_pairs = recipe.pop("max_pairs", None)
    max_problems = recipe.pop("max_problems", 64)
    sources = store.partitions("verified_traces")
    verified = store.read_all("verified_traces", sources)
    if method == "grpo":
        data = verified.select("problem", "answer").unique(maintain_order=True).head(max_problems)
        data_name, entry_point = "rl_problems", "redstar_training.grpo"
    else:
        data = preference_pairs(verified, max_pairs)
        data_name, entry_point = "pairs", "redstar_training.rl"
    pairs_version = store.write(data, "rl_checkpoints", exp.name, name=data_name)
    sft_dir = store.folder("sft_checkpoints", exp.name) / "model"
    sft_lineage = json.loads((sft_dir / "redstar_lineage.json").read_text())
    out_dir = store.folder("rl_checkpoints", exp.name)
    lineage = {
        **sft_lineage,
        "sft_checkpoint_hash": folder_hash(sft_dir),
        "stage": "rl",
        "rl_recipe": exp.rl,
        "rl_method": method,
        "pairs_data_version": pairs_version,
        "pairs": data.height,
    }
    run_config = {
        **recipe,
        "model": str(sft_dir),
        **{
            "problems_file" if method == "grpo" else "pairs_file": str(
                store.path("rl_checkpoints", exp.name, data_name)
            )
        },
        "output_dir": str(out_dir),
        "threads": launcher.threads,
        "lineage": lineage,
    }
    run = run_entry_point(context, pipes_subprocess_client, launcher, entry_point, run_config, out_dir)
    yield from checkpoint_results(
        run,
        lineage_metadata(
            recipe,
            {
                "sft_checkpoints": {exp.name: lineage["sft_checkpoint_hash"]},
                "verified_traces": store.versions("verified_traces", sources),
                data_name: pairs_version,
            },
        ),
        plot_dir=out_dir,
    )
