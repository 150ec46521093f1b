"""Prompt templates per domain, each with a version that enters the cache key: changing a word of
a prompt makes new samples instead of silently mixing old and new ones."""

from __future__ import annotations

from dataclasses import dataclass

from redstar_training.models.chat_template import prompt_messages


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    version: str
    system: str
    user: str  # format string with {problem}

    @property
    def id(self) -> str:
        return f"{self.name}@{self.version}"

    def messages(self, problem: str) -> tuple[dict, ...]:
        return tuple(prompt_messages(self.user.format(problem=problem), self.system or None))

    def chatml(self, problem: str) -> str:
        """The conversation as raw ChatML with the assistant turn opened (Qwen-family models)."""
        turns = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in self.messages(problem))
        return turns + "<|im_start|>assistant\n"


MATH = PromptTemplate(
    name="math-long-cot",
    version="v1",
    system=(
        "You are a careful mathematician. Think step by step at length inside <think> </think>: explore, "
        "check your work and correct mistakes. Then give a concise solution and put the final answer in \\boxed{}."
    ),
    user="{problem}",
)
CODE = PromptTemplate(
    name="code-long-cot",
    version="v1",
    system=(
        "You are an expert programmer. Think step by step at length inside <think> </think> about the problem, "
        "edge cases and complexity. Then give the complete solution in one ```python fenced block."
    ),
    user="{problem}",
)
PLAIN = PromptTemplate(name="plain", version="v1", system="", user="{problem}")  # the demo's tiny models

TEMPLATES = {t.name: t for t in (MATH, CODE, PLAIN)}


def template(name: str) -> PromptTemplate:
    if name not in TEMPLATES:
        raise ValueError(f"unknown prompt template {name!r}; known: {sorted(TEMPLATES)}")
    return TEMPLATES[name]
