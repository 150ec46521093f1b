"""A real (tiny) Qwen2 checkpoint whose weights make it write a chosen answer: attention and MLP
outputs are zeroed, embeddings are one-hot, and the LM head maps each token to its successor, so
greedy or sampled decoding walks a fixed chain of tokens. At a branch (several successors with
equal logits) sampling picks one at random, which gives rejection sampling real variation.

Served by a real `transformers serve`, it lets the distillation tests check exact texts."""

from __future__ import annotations

import itertools
from pathlib import Path

from redstar_training.models.base_model import ensure_base_model

SPEC = {"hidden_size": 64, "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 2,
        "intermediate_size": 64}  # fmt: skip
THINK = "<think>Compute 3+4.</think>\n"


def _pieces(tokenizer, text: str) -> list[int]:
    return tokenizer.encode(text, add_special_tokens=False)


def build_scripted_model(folder: Path, answers: tuple[str, ...] = ("7", "8")) -> Path:
    """A model that answers `<think>Compute 3+4.</think>\\n\\boxed{A}` with A drawn from `answers`
    (greedy picks the first), then `<|im_end|>`; after any prompt ending in the assistant header."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    ensure_base_model(str(folder), SPEC)
    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder)
    prompt = tok.apply_chat_template([{"role": "user", "content": "x"}], tokenize=False, add_generation_prompt=True)
    start = _pieces(tok, prompt)[-1]
    # Spelled so that no token repeats: "<think" ">" "Compute" " " "3" "+" "4" "." "</" "think" ">\n" ...
    head = [start, *_pieces(tok, "<think"), tok.convert_tokens_to_ids(">"), *_pieces(tok, "Compute 3+4.")]
    head += [*_pieces(tok, "</"), *_pieces(tok, "think"), *_pieces(tok, ">\n"), *_pieces(tok, "\\boxed{")]
    branch = [_pieces(tok, a) for a in answers]
    tail = [*_pieces(tok, "}"), tok.convert_tokens_to_ids("<|im_end|>")]
    assert all(len(b) == 1 for b in branch), "each answer must be one token"
    chain_tokens = head + [b[0] for b in branch] + tail
    assert len(set(chain_tokens)) == len(chain_tokens), "the chain needs distinct tokens"
    assert len(chain_tokens) <= SPEC["hidden_size"]
    edges = {a: [b] for a, b in itertools.pairwise(head)}
    edges[head[-1]] = [b[0] for b in branch]
    for b in branch:
        edges[b[0]] = [tail[0]]
    edges[tail[0]] = [tail[1]]
    slot = {t: i for i, t in enumerate(chain_tokens)}
    model.config.tie_word_embeddings = False
    if hasattr(model.config, "get_text_config"):
        model.config.get_text_config().tie_word_embeddings = False
    model.lm_head.weight = torch.nn.Parameter(model.get_input_embeddings().weight.detach().clone())
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        for name, p in model.named_parameters():
            if "norm" in name:
                p.fill_(1.0)
        emb = model.get_input_embeddings().weight
        for t, i in slot.items():
            emb[t, i] = 1.0
        head_w = model.get_output_embeddings().weight
        for cur, nxts in edges.items():
            for nxt in nxts:
                head_w[nxt, slot[cur]] = 4.0  # x sqrt(64) after RMSNorm: logit 32 over 0 for the rest
    model.save_pretrained(folder)
    return folder
