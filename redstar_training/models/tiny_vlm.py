"""A tiny vision-language student for the Geo demo, built from configs, no downloads: LLaVA's layout (a
two-layer CLIP vision tower, a projector and the math demo's tiny Qwen2) with a byte-level BPE trained
here plus the `<image>` token, and its processor saved beside the weights, so the folder reloads with
`AutoProcessor` and `AutoModelForImageTextToText`. LLaVA rather than Qwen2-VL because Qwen2-VL's processor
needs a video processor, which needs torchvision (a multi-GB CUDA build on this machine's package index)."""

from __future__ import annotations

import json
import os
import random
import shutil
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from redstar_training.models.chat_template import EOS_TOKEN, IMAGE_TOKEN, VISION_CHAT_TEMPLATE
from redstar_training.models.tiny_lm import TinyQwen2Spec, publish_built, qwen2_config, train_tokenizer


@dataclass(frozen=True)
class TinyVLMSpec(TinyQwen2Spec):
    """Sizes of the Geo demo's student: the tiny Qwen2 text model's (a larger vocabulary and context
    for the figures' tokens) plus the vision tower's; about a million parameters at the defaults."""

    vocab_size: int = field(
        default=600, metadata={"description": "Tokens in the vocabulary the tokenizer is trained to."}
    )
    max_position_embeddings: int = field(default=1024, metadata={"description": "Longest sequence in tokens."})
    image_size: int = field(
        default=112, metadata={"description": "Side in pixels of the square each figure is resized and cropped to."}
    )
    # (112 / 14)^2 = 64 image tokens per figure
    patch_size: int = field(
        default=14, metadata={"description": "Side in pixels of one image patch (one image token)."}
    )
    vision_hidden_size: int = field(default=64, metadata={"description": "Width of the vision tower."})
    vision_layers: int = field(default=2, metadata={"description": "Layers of the vision tower."})
    vision_heads: int = field(default=4, metadata={"description": "Attention heads of the vision tower."})


def geo_corpus(seed: int, n: int = 1500) -> list[str]:
    """Text in the shape the Geo pipeline produces: generated questions and the geometry teacher's
    traces (with misreadings and their corrections), so both tokenize compactly."""
    from redstar_training.synthetic.geometry import KINDS, GeoTeacherConfig, make_problem, solve

    rng = random.Random(seed)
    cfg = GeoTeacherConfig(misread_rate=0.3, seed=seed)
    lines = []
    for i in range(n):
        made = make_problem(KINDS[i % len(KINDS)], [20, 30, 40, 50, 60, 70, 80], rng, size=16)
        trace = solve(made.problem, made.image, i, "corpus", cfg).text
        lines.append(f"user\n{made.problem}\nassistant\n{trace}")
    return lines


def build_tiny_vlm(spec: TinyVLMSpec, out_dir: Path) -> Path:
    """Writes a randomly initialized, seeded LLaVA-layout model folder with its processor; atomic."""
    import torch
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        GenerationConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    out_dir = Path(out_dir)
    if (out_dir / "config.json").exists():
        return out_dir
    text_spec = TinyQwen2Spec(**{f.name: getattr(spec, f.name) for f in fields(TinyQwen2Spec)})
    tokenizer = train_tokenizer(text_spec, geo_corpus(spec.seed), extra_special=(IMAGE_TOKEN,))
    tokenizer.chat_template = VISION_CHAT_TEMPLATE
    side = spec.image_size
    images = CLIPImageProcessor(size={"shortest_edge": side}, crop_size={"height": side, "width": side})
    processor = LlavaProcessor(
        image_processor=images,
        tokenizer=tokenizer,
        patch_size=spec.patch_size,
        vision_feature_select_strategy="default",  # patch embeddings without CLIP's class token
        chat_template=VISION_CHAT_TEMPLATE,
        image_token=IMAGE_TOKEN,
        num_additional_image_tokens=1,
    )
    vision = CLIPVisionConfig(
        hidden_size=spec.vision_hidden_size,
        intermediate_size=2 * spec.vision_hidden_size,
        num_hidden_layers=spec.vision_layers,
        num_attention_heads=spec.vision_heads,
        image_size=side,
        patch_size=spec.patch_size,
        projection_dim=spec.vision_hidden_size,
        initializer_range=spec.initializer_range,
    )
    text = qwen2_config(text_spec, tokenizer)
    config = LlavaConfig(
        vision_config=vision,
        text_config=text,
        image_token_index=tokenizer.convert_tokens_to_ids(IMAGE_TOKEN),
        vision_feature_select_strategy="default",
        vision_feature_layer=-1,
        tie_word_embeddings=True,
    )
    torch.manual_seed(spec.seed)
    model = LlavaForConditionalGeneration(config)
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.convert_tokens_to_ids(EOS_TOKEN), pad_token_id=tokenizer.pad_token_id, do_sample=False
    )
    tmp = out_dir.with_name(f"{out_dir.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    processor.save_pretrained(tmp)
    (tmp / "tiny_spec.json").write_text(json.dumps({"kind": "tiny_vlm", **asdict(spec)}, indent=2))
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    publish_built(tmp, out_dir)
    return out_dir
