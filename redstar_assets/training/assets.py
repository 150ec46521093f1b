"""Stage 4: students are fine-tuned (SFT, then RL) in their own processes, launched through Pipes."""

import json

import dagster as dg

from redstar_assets.config.errors import ProfileError
from redstar_assets.config.sections import Profile
from redstar_assets.deploy.placement import model_placement
from redstar_assets.launcher import ModelLauncher
from redstar_assets.lineage.metadata import lineage_metadata
from redstar_assets.lineage.provenance import (
    TRAINED_FROM,
    problems_by_source,
    scan_by_source,
    source_versions,
    trained_on_metadata,
)
from redstar_assets.problems.inbox import written_sources
from redstar_assets.resources import RedstarHome
from redstar_assets.training.base_models import base_model_ref
from redstar_assets.training.pairs import online_rl_problems, pair_ids, write_pairs
from redstar_assets.training.partitions import sft_to_rl, stage_partitions, subset_to_experiments
from redstar_assets.training.results import checkpoint_results
from redstar_assets.training.student_choice import evaluation_sampling, student_choice
from redstar_training.trainers.checkpoints import folder_hash

LOADS_CHECK = "checkpoint_loads_and_generates"
SFT_VERSION = "sft-v2"
RL_VERSION = "rl-v5"  # bumped when what an RL checkpoint is trained on changes


def seeded(exp) -> dict:
    """The run config's `seed` for one seed's run of an arm (over the recipe's); nothing without seeds."""
    return {} if exp.seed is None else {"seed": exp.seed}


def _checkpoint_asset(profile: Profile, name: str, stage: str, deps: list, code_version: str, condition):
    """The decorator of a trainer's asset: a model step with a blocking 'loads and generates' check."""
    loads = dg.AssetCheckSpec(
        LOADS_CHECK, asset=name, blocking=True, description="The saved folder reloads from disk and generates."
    )
    return dg.asset(
        name=name,
        partitions_def=stage_partitions(profile, stage),
        group_name="training",
        **model_placement(profile, "training"),
        deps=deps,
        code_version=code_version,
        automation_condition=condition,
        check_specs=[loads],
    )


def build_training_assets(
    profile: Profile, condition, rl_condition, subsets: dg.AssetsDefinition, verified: dg.AssetsDefinition
) -> list[dg.AssetsDefinition]:
    subset_dep = dg.AssetDep(subsets, partition_mapping=subset_to_experiments(profile))

    @_checkpoint_asset(profile, "sft_checkpoints", "sft", [subset_dep], SFT_VERSION, condition)
    def sft_checkpoints(
        context: dg.AssetExecutionContext,
        redstar: RedstarHome,
        launcher: ModelLauncher,
        pipes_subprocess_client: dg.PipesSubprocessClient,
    ):
        """The experiment's student after supervised fine-tuning on its subset: a Hugging Face model
        folder (safetensors, tokenizer with chat template, generation config) whose model card names the
        base model, subset hash and recipe. Trained by TRL's SFTTrainer in its own process."""
        exp = profile.experiment(context.partition_key)
        if exp.subset is None or exp.training is None:  # the profile check requires both for an sft stage
            raise ProfileError(f"experiment {exp.name!r}: an sft stage needs a subset and a training recipe")
        store = redstar.store()
        base_path, tiny = base_model_ref(store, exp.base_model, profile.base_models[exp.base_model])
        subset_hash = store.read_json("sft_subsets", exp.subset)["subset_hash"]
        out_dir = store.folder("sft_checkpoints", exp.name)
        recipe = profile.training_recipes[exp.training]
        lineage = {
            "experiment": exp.name,
            "arm": exp.arm,
            "training_seed": exp.seed,
            "stage": "sft",
            "base_model": exp.base_model,
            "subset": exp.subset,
            "subset_hash": subset_hash,
            "training_recipe": exp.training,
            "teacher": profile.teacher.written(),
        }
        run_config = recipe.run_config(
            base_model=base_path,
            tiny_spec=tiny,
            trust_remote_code=getattr(profile.base_models[exp.base_model], "trust_remote_code", False),
            train_file=str(store.path("sft_subsets", exp.subset)),
            output_dir=str(out_dir),
            lineage=lineage,
            **seeded(exp),
        )
        run = launcher.run(context, pipes_subprocess_client, "training", recipe.entry_point, run_config, out_dir)
        trained = {"sft_subsets": {exp.subset: subset_hash}}
        yield from checkpoint_results(
            run,
            lineage_metadata({**recipe.written(), **seeded(exp)}, trained)
            | trained_on_metadata(trained)
            | {"training_recipe": exp.training},
            plot_dir=out_dir,
        )

    rl_deps = [
        dg.AssetDep(sft_checkpoints, partition_mapping=sft_to_rl(profile)),
        dg.AssetDep(verified, partition_mapping=dg.AllPartitionMapping()),
    ]

    @_checkpoint_asset(profile, "rl_checkpoints", "rl", rl_deps, RL_VERSION, rl_condition)
    def rl_checkpoints(
        context: dg.AssetExecutionContext,
        redstar: RedstarHome,
        launcher: ModelLauncher,
        pipes_subprocess_client: dg.PipesSubprocessClient,
    ):
        """The experiment's student after the RL stage, from its SFT checkpoint: DPO (the paper's best RL
        variant) on pairs of a verified-correct and a wrong teacher trace of one problem, or an online
        method (`method: grpo`, `rloo` or `reinforce_pp`) on the training problems with the shared
        verifier as reward. It re-runs when
        its SFT checkpoint changes; new traces alone do not retrain it."""
        exp = profile.experiment(context.partition_key)
        if exp.rl is None:  # the profile check requires it for an rl stage
            raise ProfileError(f"experiment {exp.name!r}: an rl stage needs an rl recipe")
        store = redstar.store()
        recipe = profile.rl_recipes[exp.rl]
        method = recipe.method
        sources = written_sources(profile, store, "verified_traces")
        allowed = profile.subset_recipes[exp.subset].sources if exp.subset else None
        if allowed is not None:  # RL keeps to the sources its SFT subset drew from
            sources = [s for s in sources if s in allowed]
        files = [store.path("verified_traces", s) for s in sources]
        # what the pairs or problems are chosen on holds no trace text; the pairs' texts are streamed
        verdicts = scan_by_source(store, sources)
        sft_partition = profile.stage_partition(exp, "sft")  # an RL arm's start may be another experiment's
        sft_dir = store.folder("sft_checkpoints", sft_partition) / "model"
        sft_lineage = json.loads((sft_dir / "redstar_lineage.json").read_text())
        sft_hash = folder_hash(sft_dir)
        data_name, data_key = ("rl_problems", "problems_file") if recipe.online else ("pairs", "pairs_file")
        chosen_by: dict = {}
        if recipe.samples == "student":  # the student's own samples choose the problems (and DPO's pairs)
            chosen_by = student_choice(
                context, redstar, launcher, pipes_subprocess_client, profile, exp, (sft_dir, sft_hash), verdicts
            )
            data = chosen_by.pop("data")
            pairs_version, rows = store.write(data, "rl_checkpoints", exp.name, name=data_name), data.height
        elif recipe.online:  # problems with reference answers, the verifier as reward
            data = online_rl_problems(verdicts, recipe.max_problems)
            pairs_version, rows = store.write(data, "rl_checkpoints", exp.name, name=data_name), data.height
        else:
            writer = store.writer("rl_checkpoints", exp.name, name=data_name)
            chosen = pair_ids(verdicts, recipe.max_pairs)
            rows = write_pairs(files, chosen, writer)
            pairs_version = writer.close()
        used = problems_by_source(
            store.read("rl_checkpoints", exp.name, data_name, columns=["problem_id"])["problem_id"], verdicts
        )
        out_dir = store.folder("rl_checkpoints", exp.name)
        lineage = {
            **sft_lineage,
            "experiment": exp.name,
            "arm": exp.arm,
            "training_seed": exp.seed,
            "sft_experiment": sft_partition,
            "sft_checkpoint_hash": sft_hash,
            "stage": "rl",
            "rl_recipe": exp.rl,
            "rl_method": method,
            "rl_control": recipe.control,
            "rl_samples": recipe.samples,
            "pairs_data_version": pairs_version,
            "pairs": rows,
        }
        data_file = {data_key: str(store.path("rl_checkpoints", exp.name, data_name))}
        run_config = recipe.run_config(
            model=str(sft_dir),
            **data_file,
            output_dir=str(out_dir),
            lineage=lineage,
            **seeded(exp),
            **evaluation_sampling(profile, exp, recipe),
        )
        run = launcher.run(context, pipes_subprocess_client, "training", recipe.entry_point, run_config, out_dir)
        yield from checkpoint_results(
            run,
            lineage_metadata(
                recipe.run_config(**seeded(exp)),
                {
                    "sft_checkpoints": {sft_partition: lineage["sft_checkpoint_hash"]},
                    "verified_traces": store.versions("verified_traces", sources),
                    data_name: pairs_version,
                },
            )
            | trained_on_metadata(
                {
                    "sft_checkpoints": {sft_partition: lineage["sft_checkpoint_hash"]},
                    TRAINED_FROM: source_versions(store, used),
                },
                used,
            )
            | {"rl_recipe": exp.rl, "rl_method": method, "rl_control": recipe.control or "none"}
            | chosen_by,
            plot_dir=out_dir,
        )

    return [sft_checkpoints, rl_checkpoints]
