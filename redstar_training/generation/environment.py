"""The environment stamp of a benchmark score: libraries, backend, dtype and device, sampling, verifier and
prompt template. Scores made with different software are not comparable (scorers differ by points, bf16
results shift with batch size, parallelism and vLLM version), so each score says what made it. Library
versions come from package metadata: nothing here imports torch, transformers, TRL or vLLM."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import urllib.request
from typing import Any

LIBRARIES = ("torch", "transformers", "trl")
PROBE_PROBLEM = "Compute 3 + 4."  # rendered through the template, so any change to its text changes the hash
CACHED = "cached"  # the runtime of cached samples: an earlier run generated them, and it is not recorded here
UNKNOWN = "unknown"
SERVER_VERSION_TIMEOUT_S = 3.0


def library_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def uses_vllm(backend: dict[str, Any]) -> bool:
    """vLLM generates for the offline `vllm` backend and for a server started from the `vllm` preset."""
    serve = backend.get("serve") or {}
    served_vllm = bool(serve) and not serve.get("command") and serve.get("preset", "vllm") == "vllm"
    return backend.get("kind") == "vllm" or served_vllm


def library_versions(backend: dict[str, Any]) -> dict[str, str]:
    names = LIBRARIES + (("vllm",) if uses_vllm(backend) else ())
    return {name: library_version(name) for name in names}


def prompt_template_hash(name: str) -> str:
    """The template's id and the conversation it renders for a fixed problem, hashed: a changed word of
    the system or user text changes it even when nobody bumped the template's version."""
    from redstar_training.generation.prompts import template

    t = template(name)
    rendered = {"id": t.id, "messages": list(t.messages(PROBE_PROBLEM)), "chatml": t.chatml(PROBE_PROBLEM)}
    return hashlib.sha256(json.dumps(rendered, sort_keys=True).encode()).hexdigest()[:16]


def server_root(base_url: str) -> str:
    """An OpenAI base URL without its API prefix: http://host:port/v1 -> http://host:port."""
    url = base_url.rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url


def server_version(base_url: str, timeout_s: float = SERVER_VERSION_TIMEOUT_S) -> str:
    """What the server says its version is (vLLM answers GET /version with {"version": ...}), else
    `unknown`: a server without that route, or one that does not answer in time."""
    try:
        with urllib.request.urlopen(f"{server_root(base_url)}/version", timeout=timeout_s) as response:
            version = json.loads(response.read()).get("version")
    except (OSError, ValueError, AttributeError):
        return UNKNOWN
    return str(version) if version else UNKNOWN


def fleet_version(urls: list[str]) -> str:
    """One version for a fleet of replicas: theirs, or each distinct one when they differ."""
    return ", ".join(sorted({server_version(u) for u in urls}))


def runtime(dtype: str, device: str, name: str | None = None, count: int | None = None, server: str | None = None):
    """What a backend ran on; `server` is a server's version, None for generation in this process."""
    return {"server_version": server, "dtype": dtype, "device": device, "device_name": name, "device_count": count}


def unknown_runtime() -> dict[str, Any]:
    return runtime(UNKNOWN, UNKNOWN)


def server_runtime(urls: list[str]) -> dict[str, Any]:
    """A server's runtime: its version when it says; its dtype and device no server route says."""
    return runtime(UNKNOWN, UNKNOWN, server=fleet_version(urls))


def torch_runtime(model: Any) -> dict[str, Any]:
    """The dtype and devices of a loaded torch model, read from its parameters."""
    import platform

    import torch

    devices = sorted({p.device for p in model.parameters()}, key=str) or [torch.device("cpu")]
    kind = devices[0].type
    name = torch.cuda.get_device_name(devices[0]) if kind == "cuda" else platform.machine() if kind == "cpu" else None
    return runtime(str(next(model.parameters()).dtype).removeprefix("torch."), kind, name, len(devices))


def engine_runtime(engine: Any, gpus: int) -> dict[str, Any]:
    """vLLM's offline engine: the dtype its model config resolved, on `gpus` GPUs (tensor parallel).
    Written to `LLM.llm_engine.model_config` and untested here: vLLM does not install on CPU machines."""
    config = getattr(getattr(engine, "llm_engine", None), "model_config", None)
    if config is None:
        return unknown_runtime()
    import torch

    name = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return runtime(str(getattr(config, "dtype", UNKNOWN)).removeprefix("torch."), "cuda", name, gpus)


def cached_runtime(backend: dict[str, Any]) -> dict[str, Any]:
    """No backend ran: the samples came from the cache, generated earlier by a run not recorded here."""
    return runtime(CACHED, CACHED, server=CACHED if backend.get("kind") == "openai" else None)


def backend_runtime(backend: Any) -> dict[str, Any]:
    """The backend's own account of what it ran on (its `runtime()`), or unknown where it has none."""
    own = getattr(backend, "runtime", None)
    return own() if own is not None else unknown_runtime()


def stamp(
    backend: dict[str, Any],
    runtime: dict[str, Any],
    samples: str,
    prompt_template: str,
    verifier_version: str,
    score: dict[str, Any],
) -> dict[str, Any]:
    """One score's stamp. `runtime` is what the model's backend reported (or `cached_runtime`); `samples`
    says whether the score's samples were all generated by it (`generated`), all cached (`cached`) or
    some of each (`mixed`: the runtime is this run's; the cached ones came from earlier). Sampling is
    read from the score row, so the stamp and the row cannot disagree."""
    seeds = score.get("seeds")
    return {
        **runtime,
        "backend": backend.get("kind", "transformers"),
        "libraries": library_versions(backend),
        "samples": samples,
        "prompt_template": prompt_template,
        "prompt_template_hash": prompt_template_hash(prompt_template),
        "verifier_version": verifier_version,
        "seeds": json.loads(seeds) if isinstance(seeds, str) else seeds,
        "temperature": score.get("temperature"),
        "top_p": score.get("top_p"),
        "max_new_tokens": score.get("max_new_tokens"),
    }


def samples_origin(keys: list[str], cached: set[str]) -> str:
    """`generated` (this run made every sample), `cached` (none), `mixed`, or `none` (no samples)."""
    if not keys:
        return "none"
    from_cache = sum(k in cached for k in keys)
    return "cached" if from_cache == len(keys) else "mixed" if from_cache else "generated"


def stamp_json(
    backend: dict[str, Any],
    runtime: dict[str, Any] | None,
    samples: str,
    prompt_template: str,
    verifier_version: str,
    score: dict[str, Any],
) -> str:
    """The stamp as sorted JSON, for a score row; samples no backend of this run made get `cached_runtime`."""
    ran = runtime if runtime is not None and samples in ("generated", "mixed") else cached_runtime(backend)
    return json.dumps(stamp(backend, ran, samples, prompt_template, verifier_version, score), sort_keys=True)
