"""The `kubernetes` deployment: what dagster-k8s submits for each model step (a Job per step, a pod per
single-node training, an indexed Job behind a headless Service for torchrun across nodes), from the
profile's `launch.kubernetes` block. Every dagster-k8s helper is imported here alone, so an upgrade
touches one module; no cluster is reachable here, so the specs are validated against the
`kubernetes` client's models, never submitted."""

from __future__ import annotations

import json
from typing import Any

from redstar_assets.config.kubernetes import KubeSettings, PodShape

RENDEZVOUS_PORT = 29500


def _resources(shape: PodShape) -> dict[str, dict[str, str]]:
    amounts = {"cpu": shape.cpu, "memory": shape.memory, **({"nvidia.com/gpu": str(shape.gpus)} if shape.gpus else {})}
    amounts = {k: v for k, v in amounts.items() if v}
    return {"requests": dict(amounts), "limits": dict(amounts)} if amounts else {}


def _volumes(kube: KubeSettings) -> tuple[list[dict], list[dict]]:
    volumes = [{"name": "dshm", "empty_dir": {"medium": "Memory", "size_limit": kube.shm_size}}]
    mounts = [{"name": "dshm", "mount_path": "/dev/shm"}]
    if kube.data_volume_claim:
        volumes.append({"name": "data", "persistent_volume_claim": {"claim_name": kube.data_volume_claim}})
        mounts.append({"name": "data", "mount_path": kube.data_root})
    return volumes, mounts


def step_config(kube: KubeSettings, stage: str, base_model: str | None = None) -> dict[str, Any]:
    """The `dagster-k8s/config` op tag for a step of `stage`: its pod's resources and placement."""
    shape = kube.shape(stage, base_model)
    volumes, mounts = _volumes(kube)
    pod_spec: dict[str, Any] = {"volumes": volumes}
    if shape.node_selector:
        pod_spec["node_selector"] = dict(shape.node_selector)
    if shape.tolerations:
        pod_spec["tolerations"] = list(shape.tolerations)
    container = {
        "resources": _resources(shape),
        "volume_mounts": mounts,
        "env": [{"name": "REDSTAR_HOME", "value": kube.data_root}],
    }
    return {"container_config": container, "pod_spec_config": pod_spec}


def k8s_executor(kube: KubeSettings):
    """`k8s_job_executor`, one Job per step in the profile's namespace and image."""
    from dagster_k8s import k8s_job_executor

    config: dict[str, Any] = {"job_image": kube.image, "job_namespace": kube.namespace}
    if kube.service_account:
        config["service_account_name"] = kube.service_account
    return k8s_job_executor.configured(config)


def render_step_job(kube: KubeSettings, stage: str, step_key: str, run_id: str, base_model: str | None = None):
    """The V1Job that `k8s_job_executor` builds for one step, with its op tags (`construct_dagster_k8s_job`)."""
    from dagster_k8s import DagsterK8sJobConfig, construct_dagster_k8s_job
    from dagster_k8s.job import get_k8s_job_name, get_user_defined_k8s_config

    tags = {"dagster-k8s/config": json.dumps(step_config(kube, stage, base_model))}
    job_config = DagsterK8sJobConfig(job_image=kube.image, service_account_name=kube.service_account or None)
    name = f"dagster-step-{get_k8s_job_name(run_id, step_key)}"
    args = ["dagster", "api", "execute_step"]
    return construct_dagster_k8s_job(
        job_config=job_config,
        args=args,
        job_name=name,
        pod_name=f"{name}-pod",
        component="step_worker",
        user_defined_k8s_config=get_user_defined_k8s_config(tags),
        labels={"dagster/step": step_key},
    )


def _training_container(kube: KubeSettings, shape: PodShape, command: list[str]) -> dict[str, Any]:
    _, mounts = _volumes(kube)
    return {
        "name": "trainer",
        "image": kube.image,
        "command": command,
        "resources": _resources(shape),
        "volume_mounts": mounts,
        "env": [{"name": "REDSTAR_HOME", "value": kube.data_root}],
    }


def _training_pod_spec(kube: KubeSettings, shape: PodShape, command: list[str]) -> dict[str, Any]:
    """A training pod's spec (snake_case, as dagster-k8s reads it): one container, never restarted."""
    volumes, _ = _volumes(kube)
    spec = {
        "containers": [_training_container(kube, shape, command)],
        "volumes": volumes,
        "node_selector": dict(shape.node_selector),
        "tolerations": list(shape.tolerations),
        "restart_policy": "Never",
    }
    if kube.service_account:
        spec["service_account_name"] = kube.service_account
    return spec


def render_training_pod(kube: KubeSettings, pod_name: str, command: list[str], base_model: str | None = None):
    """The pod `PipesK8sClient.run(base_pod_spec=...)` creates for single-node training."""
    from dagster_k8s.pipes import build_pod_body  # not public: kept to this module

    spec = _training_pod_spec(kube, kube.shape("training", base_model), command)
    return build_pod_body(pod_name, None, None, {}, {"namespace": kube.namespace}, spec)


def torchrun_command(module: str, config_path: str, nodes: int, gpus: int, job: str) -> list[str]:
    """torchrun on every node of the indexed Job `job`: node rank from the completion index, the c10d
    rendezvous at pod 0's stable name behind the headless Service of the same name."""
    endpoint = f"{job}-0.{job}:{RENDEZVOUS_PORT}"
    return [
        "sh", "-c",
        f"exec torchrun --nnodes {nodes} --nproc_per_node {gpus} --node_rank $JOB_COMPLETION_INDEX "
        f"--rdzv_backend c10d --rdzv_endpoint {endpoint} --rdzv_id {job} -m {module} --config {config_path}",
    ]  # fmt: skip


def render_multinode_training(kube: KubeSettings, name: str, module: str, config_path: str, base_model: str):
    """An indexed Job (one pod per node) and its headless Service, for training past one node."""
    from dagster_k8s.models import k8s_model_from_dict
    from kubernetes import client

    shape = kube.shape("training", base_model)
    labels = {"app.kubernetes.io/name": "redstar-training", "redstar/job": name}
    command = torchrun_command(module, config_path, shape.nodes, shape.gpus, name)
    pod_spec = {**_training_pod_spec(kube, shape, command), "subdomain": name}  # pod 0 is {name}-0.{name}
    meta = client.V1ObjectMeta(name=name, namespace=kube.namespace, labels=labels)
    job = client.V1Job(
        api_version="batch/v1",
        kind="Job",
        metadata=meta,
        spec=client.V1JobSpec(
            completion_mode="Indexed",
            completions=shape.nodes,
            parallelism=shape.nodes,
            backoff_limit=0,
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels), spec=k8s_model_from_dict(client.V1PodSpec, pod_spec)
            ),
        ),
    )
    service = client.V1Service(
        api_version="v1",
        kind="Service",
        metadata=client.V1ObjectMeta(name=name, namespace=kube.namespace, labels=labels),
        spec=client.V1ServiceSpec(
            cluster_ip="None", selector=labels, ports=[client.V1ServicePort(name="rdzv", port=RENDEZVOUS_PORT)]
        ),
    )
    return validated(job, "V1Job"), validated(service, "V1Service")


def validated(obj: Any, kind: str):
    """`obj` (a model or a camelCase dict) read back through the kubernetes client's deserializer:
    unknown fields are dropped and wrong types raise, so a spec that survives the round trip
    unchanged is one the API server's schema accepts (required fields are checked by the models)."""
    from kubernetes import client

    api = client.ApiClient()
    body = api.sanitize_for_serialization(obj)

    class _Response:
        data = json.dumps(body)

    model = api.deserialize(_Response(), kind)
    again = api.sanitize_for_serialization(model)
    if again != body:
        raise ValueError(f"{kind} spec does not match the Kubernetes schema: {json.dumps(body)[:300]}")
    return model
