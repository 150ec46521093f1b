"""The chat format students are trained and evaluated in, shared so the two never drift apart.

The template is Qwen2's ChatML with `{% generation %}` markers around assistant turns, which TRL
needs for assistant-only loss, and it closes every assistant turn with `<|im_end|>`, the model's
EOS: a template/EOS mismatch is what makes fine-tuned models repeat forever.
"""

from __future__ import annotations

EOS_TOKEN = "<|im_end|>"
PAD_TOKEN = "<|endoftext|>"
SPECIAL_TOKENS = [PAD_TOKEN, "<|im_start|>", EOS_TOKEN]

CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{%- if message['role'] == 'assistant' %}"
    "{{- '<|im_start|>assistant\\n' }}"
    "{% generation %}{{- message['content'] + '<|im_end|>' }}{% endgeneration %}"
    "{{- '\\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


def prompt_messages(problem: str, system_prompt: str | None = None) -> list[dict[str, str]]:
    """The conversation up to the assistant turn, as both SFT data and evaluation prompts use it."""
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    return messages + [{"role": "user", "content": problem}]
