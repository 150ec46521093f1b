"""Tiny Qwen2-architecture students for the embedded default, built from a config, no downloads.

The tokenizer is a byte-level BPE trained here on text the procedural teacher writes, with Qwen2's
normalizer and pre-tokenizer (digits split one per token), so that transformers 5 reloads it as a
`Qwen2Tokenizer` that tokenizes exactly as it did when it was trained.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from redstar_training.models.chat_template import CHAT_TEMPLATE, EOS_TOKEN, PAD_TOKEN, SPECIAL_TOKENS

QWEN2_SPLIT_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)


@dataclass(frozen=True)
class TinyQwen2Spec:
    """Sizes of the demo student; about a million parameters at the defaults."""

    vocab_size: int = field(
        default=400, metadata={"description": "Tokens in the vocabulary the tokenizer is trained to."}
    )
    hidden_size: int = field(default=128, metadata={"description": "Width of the hidden states."})
    intermediate_size: int = field(default=384, metadata={"description": "Width of the MLP layers."})
    num_hidden_layers: int = field(default=4, metadata={"description": "Number of transformer layers."})
    num_attention_heads: int = field(default=8, metadata={"description": "Attention heads per layer."})
    num_key_value_heads: int = field(
        default=4, metadata={"description": "Key/value heads per layer (grouped-query attention)."}
    )
    max_position_embeddings: int = field(default=512, metadata={"description": "Longest sequence in tokens."})
    initializer_range: float = field(
        default=0.02, metadata={"description": "Standard deviation of the initial weights."}
    )
    # written into config.json, so every loader (SFT, RL, evaluation) uses it
    attn_implementation: str = field(
        default="",
        metadata={"description": "Attention implementation, e.g. sdpa or eager; empty keeps transformers' default."},
    )
    seed: int = field(default=0, metadata={"description": "Seed of the weights and the tokenizer."})


def tokenizer_corpus(seed: int, n: int = 3000) -> list[str]:
    """Text in the shape the pipeline produces: prompts, teacher traces and the chat markup, of the
    arithmetic family and (one line in three) of the code family, so both tokenize compactly."""
    from redstar_training.synthetic.procedural import ProceduralTeacherConfig, solve
    from redstar_training.synthetic.procedural_code import code_problem, solve_code

    rng = random.Random(seed)
    cfg = ProceduralTeacherConfig(slip_per_column=0.1, slip_per_carry=0.1, seed=seed)
    lines = []
    for i in range(n):
        if i % 3 == 2:
            problem = code_problem(rng.randint(2, 3), rng.randrange(0, 10 ** rng.randint(1, 3)), rng.randrange(1000))
            lines.append(f"user\n{problem}\nassistant\n{solve_code(problem, i, 'corpus', cfg).text}")
            continue
        a, b = rng.randrange(0, 10 ** rng.randint(1, 4)), rng.randrange(0, 10 ** rng.randint(1, 4))
        op = rng.choice("+-")
        a, b = (a, b) if op == "+" or a >= b else (b, a)
        problem = f"Compute {a} {op} {b}."
        lines.append(f"user\n{problem}\nassistant\n{solve(problem, i, 'corpus', cfg).text}")
    return lines


def train_tokenizer(spec: TinyQwen2Spec, corpus: list[str] | None = None, extra_special: tuple[str, ...] = ()):
    """A byte-level BPE with Qwen2's normalizer and pre-tokenizer, wrapped as a transformers tokenizer;
    trained on `corpus` (by default the arithmetic and code families' text), with `extra_special`
    tokens (a vision model's `<image>`) after the chat markup's."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(byte_fallback=False))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_SPLIT_PATTERN), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()  # takes no options (tokenizers ignored the ones once passed here)
    trainer = trainers.BpeTrainer(
        vocab_size=spec.vocab_size,
        special_tokens=[*SPECIAL_TOKENS, *extra_special],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus if corpus is not None else tokenizer_corpus(spec.seed), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token=EOS_TOKEN, pad_token=PAD_TOKEN, unk_token=None, bos_token=None
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def qwen2_config(spec: TinyQwen2Spec, tokenizer):
    """The tiny text model's config: the demo's student, and the text half of the Geo demo's."""
    from transformers import Qwen2Config

    return Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_hidden_layers,
        num_attention_heads=spec.num_attention_heads,
        num_key_value_heads=spec.num_key_value_heads,
        max_position_embeddings=spec.max_position_embeddings,
        initializer_range=spec.initializer_range,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
    )


def build_tiny_qwen2(spec: TinyQwen2Spec, out_dir: Path) -> Path:
    """Writes a randomly initialized, seeded Qwen2 model folder; atomic, so a kill leaves nothing half-made."""
    import torch
    from transformers import GenerationConfig, Qwen2ForCausalLM

    out_dir = Path(out_dir)
    if (out_dir / "config.json").exists():
        return out_dir
    tokenizer = train_tokenizer(spec)
    torch.manual_seed(spec.seed)
    config = qwen2_config(spec, tokenizer)
    model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, do_sample=False
    )
    tmp = out_dir.with_name(f"{out_dir.name}.tmp-{os.getpid()}")  # one per process: every rank may build it
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    # Declares the tokenizer as Qwen2's, so any Qwen2 tooling loads it by name.
    _update_json(tmp / "tokenizer_config.json", {"tokenizer_class": "Qwen2Tokenizer"})
    if spec.attn_implementation:  # transformers reads it from config.json; the config object drops it on save
        _update_json(tmp / "config.json", {"attn_implementation": spec.attn_implementation})
    (tmp / "tiny_spec.json").write_text(json.dumps(asdict(spec), indent=2))
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    publish_built(tmp, out_dir)
    return out_dir


def publish_built(tmp: Path, out_dir: Path) -> None:
    """Renames a freshly built model folder into place. Every rank of a distributed run builds the
    same seeded model at once; the first rename wins and the others discard their copy."""
    try:
        tmp.rename(out_dir)
    except OSError:
        if not (out_dir / "config.json").exists():
            raise
        shutil.rmtree(tmp, ignore_errors=True)


def _update_json(path: Path, updates: dict) -> None:
    """Sets keys in a JSON file that `save_pretrained` wrote."""
    path.write_text(json.dumps({**json.loads(path.read_text()), **updates}, indent=2))
