"""The `kubernetes` deployment, rendered and validated (there is no cluster here): the Job that
k8s_job_executor builds for redstar-math's SFT step, the pod PipesK8sClient would create for
single-node training, and the indexed Job + headless Service for a 32B run on two nodes; each read
back through the kubernetes client's models."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from redstar_assets.config.errors import ProfileError
from redstar_assets.config.profile import load_profile
from redstar_assets.deploy.k8s_specs import render_multinode_training, render_step_job, render_training_pod, validated
from redstar_assets.factory import build_definitions
from redstar_assets.launcher import launcher_resource

ROOT = Path(__file__).resolve().parents[1]
H100 = {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}


@pytest.fixture(scope="module")
def paper():
    profile = load_profile("redstar-math")
    return profile, profile.launch.kubernetes


def _volumes(pod_spec) -> dict:
    return {v.name: v for v in pod_spec.volumes}


def test_the_sft_step_job_of_a_32b_experiment_asks_for_its_gpus_node_and_data_volume(paper):
    profile, kube = paper
    experiment = next(e for e in profile.experiments if e.base_model == "qwen2.5-32b-instruct")
    job = validated(render_step_job(kube, "training", "sft_checkpoints", "run-1", experiment.base_model), "V1Job")
    pod = job.spec.template.spec
    container = pod.containers[0]
    assert container.image == "ghcr.io/your-org/redstar:0.1.0"
    assert container.resources.limits["nvidia.com/gpu"] == "8" and container.resources.requests["nvidia.com/gpu"] == "8"
    assert pod.node_selector == H100
    assert pod.tolerations[0].key == "nvidia.com/gpu" and pod.tolerations[0].effect == "NoSchedule"
    volumes = _volumes(pod)
    assert volumes["data"].persistent_volume_claim.claim_name == "redstar-data"
    assert volumes["dshm"].empty_dir.medium == "Memory" and volumes["dshm"].empty_dir.size_limit == "64Gi"
    mounts = {m.name: m.mount_path for m in container.volume_mounts}
    assert mounts == {"data": "/data", "dshm": "/dev/shm"}
    assert {"name": "REDSTAR_HOME", "value": "/data"} in [{"name": e.name, "value": e.value} for e in container.env]
    # a data step gets no GPU
    data_job = render_step_job(kube, "data", "problems", "run-1")
    assert "nvidia.com/gpu" not in (data_job.spec.template.spec.containers[0].resources.limits or {})


def test_single_node_training_is_one_pod_running_the_stage_command(paper):
    profile, kube = paper
    launcher = launcher_resource(profile.launch.stages())
    command = launcher.command(
        "training", "redstar_training.trainers.sft", "/data/sft_checkpoints/7b-cot-64k/run_config.yaml"
    )
    pod = validated(render_training_pod(kube, "redstar-sft-7b-cot-64k", command, "qwen2.5-7b-instruct"), "V1Pod")
    container = pod.spec.containers[0]
    assert container.command[:3] == [sys.executable, "-m", "accelerate.commands.launch"]
    assert "--num_processes" in container.command and container.resources.limits["nvidia.com/gpu"] == "8"
    assert pod.metadata.namespace == "redstar" and pod.spec.restart_policy == "Never"
    assert pod.spec.node_selector == H100 and pod.spec.service_account_name == "redstar"


def test_a_32b_run_on_two_nodes_is_an_indexed_job_with_a_torchrun_rendezvous(paper):
    _, kube = paper
    job, service = render_multinode_training(
        kube, "sft-32b-cot-64k", "redstar_training.trainers.sft", "/data/run.yaml", "qwen2.5-32b-instruct"
    )
    assert job.spec.completion_mode == "Indexed" and job.spec.completions == job.spec.parallelism == 2
    pod = job.spec.template.spec
    assert pod.subdomain == service.metadata.name == "sft-32b-cot-64k" and service.spec.cluster_ip == "None"
    assert service.spec.selector == job.spec.template.metadata.labels
    script = pod.containers[0].command[-1]
    assert "--nnodes 2 --nproc_per_node 8 --node_rank $JOB_COMPLETION_INDEX" in script
    assert "--rdzv_endpoint sft-32b-cot-64k-0.sft-32b-cot-64k:29500" in script
    assert pod.containers[0].resources.limits["nvidia.com/gpu"] == "8"  # per node
    assert _volumes(pod)["data"].persistent_volume_claim.claim_name == "redstar-data"


def test_the_definitions_carry_the_pod_shapes_and_the_k8s_executor(tmp_path):
    text = (ROOT / "configs" / "profiles" / "redstar-math.yaml").read_text()
    profile_path = tmp_path / "on-cluster.yaml"
    profile_path.write_text(
        text.replace("launch:\n", "launch:\n  executor: k8s\n", 1).replace("name: redstar-math", "name: c")
    )
    defs = build_definitions(load_profile(str(profile_path)), str(tmp_path))
    sft = defs.resolve_assets_def("sft_checkpoints")
    tags = json.loads(sft.op.tags["dagster-k8s/config"])
    assert tags["container_config"]["resources"]["limits"]["nvidia.com/gpu"] == "8"
    assert "dagster-k8s/config" not in defs.resolve_assets_def("sft_subsets").op.tags
    assert defs.resolve_implicit_global_asset_job_def().executor_def.name == "k8s"


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ("executor: k8s\n", r"launch: executor k8s needs a launch\.kubernetes block"),
        ("kubernetes: {namespace: x}\n", r"launch\.kubernetes\.image is required"),
        ("kubernetes: {image: i, training: {gpu: 8}}\n", r"launch\.kubernetes\.training: unknown key 'gpu'"),
        ("kubernetes: {image: i, training: {nodes: 0}}\n", r"launch\.kubernetes\.training\.nodes must be a positive"),
    ],
)
def test_a_wrong_kubernetes_block_names_the_key(tmp_path, block, message):
    path = tmp_path / "p.yaml"
    path.write_text("extends: demo-tiny\nname: p\nlaunch:\n  " + block.replace("\n", "\n  ").rstrip() + "\n")
    with pytest.raises(ProfileError, match=message):
        load_profile(str(path))


def test_the_dry_run_of_the_paper_profile_still_validates():
    result = subprocess.run(
        [str(Path(sys.executable).parent / "redstar"), "run", "--profile", "redstar-math", "--dry-run"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_the_schema_check_refuses_a_misspelt_field_and_a_missing_required_one():
    with pytest.raises(ValueError, match="does not match the Kubernetes schema"):
        validated({"apiVersion": "v1", "kind": "Pod", "spec": {"containers": [{"name": "x", "imagee": "y"}]}}, "V1Pod")
    with pytest.raises(ValueError, match="name"):
        validated({"apiVersion": "v1", "kind": "Pod", "spec": {"containers": [{"image": "y"}]}}, "V1Pod")
