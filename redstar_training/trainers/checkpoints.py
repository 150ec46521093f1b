"""What every trained checkpoint folder gets: a lineage model card, a content hash and a smoke test."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path
from typing import Any

# Beside the model but about its making (paths, times, speeds): not part of its content hash.
RUN_RECORDS = {"trainer_state.json", "redstar_lineage.json", "redstar_metrics.json"}


def folder_hash(folder: Path) -> str | None:
    """Content hash of a model folder's weights, config and tokenizer; the checkpoint's data version
    (None if absent). The same weights trained in another data root hash the same."""
    if not Path(folder).is_dir():
        return None
    digest = hashlib.sha256()
    for path in sorted(Path(folder).iterdir()):
        if path.suffix in {".safetensors", ".json", ".jinja"} and path.name not in RUN_RECORDS:
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def write_model_card(folder: Path, lineage: dict[str, Any], metrics: dict[str, Any]) -> None:
    """README.md with the YAML-ish lineage block a person or `redstar lineage` can read back."""
    lines = [
        "---",
        "library_name: transformers",
        "tags: [redstar, long-cot]",
        "---",
        "",
        f"# {lineage.get('experiment', 'checkpoint')} ({lineage.get('stage', '')})",
        "",
        "Trained by the RedStar pipeline. Lineage:",
        "",
        "```json",
        json.dumps(lineage, indent=2, sort_keys=True, default=str),
        "```",
        "",
        "Metrics:",
        "",
        "```json",
        json.dumps(metrics, indent=2, sort_keys=True, default=str),
        "```",
        "",
    ]
    (Path(folder) / "README.md").write_text("\n".join(lines))
    (Path(folder) / "redstar_lineage.json").write_text(json.dumps(lineage, indent=2, sort_keys=True, default=str))
    (Path(folder) / "redstar_metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True, default=str))


def finished_metrics(model_dir: Path, run_config_hash: str) -> dict[str, Any] | None:
    """The metrics of a finished run of exactly this config (its hash covers the data hashes), else None.

    A re-run with an unchanged config and data then reuses the checkpoint instead of training twice.
    """
    lineage, metrics = Path(model_dir) / "redstar_lineage.json", Path(model_dir) / "redstar_metrics.json"
    if not (lineage.exists() and metrics.exists()):
        return None
    if json.loads(lineage.read_text()).get("run_config_hash") != run_config_hash:
        return None
    return json.loads(metrics.read_text())


def publish(tmp: Path, final: Path) -> None:
    """Replaces `final` with `tmp` in one rename, so readers never see half a checkpoint."""
    if final.exists():
        old = final.with_name(final.name + f".old-{int(time.time())}")
        final.rename(old)
        shutil.rmtree(old, ignore_errors=True)
    tmp.rename(final)


def smoke_generate(
    folder: Path, prompt: str, max_new_tokens: int = 64, trust_remote_code: bool = False
) -> dict[str, Any]:
    """Loads the folder from disk afresh and generates greedily: the 'loads and generates' check (a
    vision model over a blank figure)."""
    import torch

    from redstar_training.models.chat_template import prompt_messages, with_image
    from redstar_training.models.folders import blank_image, encode_prompts, is_vision_model, load_model, text_tokenizer

    processing, model = load_model(str(folder), trust_remote_code=trust_remote_code)
    model.eval()
    tokenizer, vision = text_tokenizer(processing), is_vision_model(folder)
    messages = with_image(prompt_messages(prompt), vision)
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    ids = encode_prompts(processing, [text], [blank_image(processing)] if vision else None)
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=max_new_tokens, do_sample=False)
    new = out[0, ids["input_ids"].shape[1] :].tolist()
    return {
        "new_tokens": len(new),
        "stopped_at_eos": tokenizer.eos_token_id in new,
        "text": tokenizer.decode(new, skip_special_tokens=True),
    }


def reuse_finished(
    model_dir: Path, run_config_hash: str, smoke_prompt: str, trust_remote_code: bool = False
) -> dict[str, Any] | None:
    """A finished checkpoint of this exact config, re-checked, ready to report; None means train."""
    metrics = finished_metrics(model_dir, run_config_hash)
    if metrics is None:
        return None
    return {
        **metrics,
        "reused": True,
        "smoke": smoke_generate(model_dir, smoke_prompt, trust_remote_code=trust_remote_code),
        "checkpoint_hash": folder_hash(model_dir),
    }


def save_checkpoint(
    trainer: Any,
    tokenizer: Any,
    out: Path,
    lineage: dict[str, Any],
    metrics: dict[str, Any],
    smoke_prompt: str,
    trust_remote_code: bool = False,
) -> dict[str, Any]:
    """Saves weights, tokenizer, generation config and card to a temporary folder, publishes it with
    one rename, then reloads it from disk to generate: the 'loads and generates' evidence."""
    tmp = out / "model.tmp"
    trainer.save_model(str(tmp))  # every rank: ZeRO-3 gathers the shards here; only rank 0 writes
    if not trainer.is_world_process_zero():
        return {**metrics, "rank_zero": False}
    tokenizer.save_pretrained(str(tmp))
    trainer.model.generation_config.save_pretrained(str(tmp))
    metrics = {**metrics, "reused": False}
    write_model_card(tmp, lineage, metrics)
    publish(tmp, out / "model")
    return {
        **metrics,
        "smoke": smoke_generate(out / "model", smoke_prompt, trust_remote_code=trust_remote_code),
        "checkpoint_hash": folder_hash(out / "model"),
    }
