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


IMAGE_TOKEN = "<image>"

# The same ChatML for a vision-language student: a message's content is text or a list of parts
# ({"type": "image"} or {"type": "text", "text": ...}); each image part becomes the image token the
# processor expands into the vision tower's patch embeddings.
VISION_CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' }}"
    "{%- if message['content'] is string %}{%- set parts = [{'type': 'text', 'text': message['content']}] %}"
    "{%- else %}{%- set parts = message['content'] %}{%- endif %}"
    "{%- if message['role'] == 'assistant' %}"
    "{% generation %}{%- for p in parts %}{{- p['text'] }}{%- endfor %}{{- '<|im_end|>' }}{% endgeneration %}"
    "{{- '\\n' }}"
    "{%- else %}"
    "{%- for p in parts %}{%- if p['type'] == 'image' %}{{- '" + IMAGE_TOKEN + "\\n' }}"
    "{%- else %}{{- p['text'] }}{%- endif %}{%- endfor %}"
    "{{- '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


def with_image(messages: list[dict], image: bool) -> list[dict]:
    """`messages` for a problem with a figure: every content a list of parts (one type per column
    for Arrow), with the image part before the first user turn's text. Unchanged without a figure."""
    if not image:
        return messages
    out, placed = [], False
    for m in messages:
        parts: list[dict] = [{"type": "text", "text": m["content"]}]
        if m["role"] == "user" and not placed:
            parts, placed = [{"type": "image", "text": None}, *parts], True
        out.append({"role": m["role"], "content": parts})
    return out


def image_url_messages(messages: list[dict], image: bytes | None) -> list[dict]:
    """`messages` in the OpenAI image format (what vLLM's `LLM.chat`, `vllm serve` and other
    OpenAI-compatible servers take): the first user turn's content becomes an `image_url` part holding
    the figure as a data URI, then its text. Unchanged without a figure."""
    if image is None:
        return messages
    import base64

    from redstar_training.models.folders import image_mime

    url = f"data:{image_mime(image)};base64,{base64.b64encode(image).decode()}"
    out, placed = [], False
    for m in messages:
        if m["role"] == "user" and not placed:
            parts = [{"type": "image_url", "image_url": {"url": url}}, {"type": "text", "text": m["content"]}]
            m, placed = {"role": "user", "content": parts}, True
        out.append(m)
    return out


def prompt_messages(problem: str, system_prompt: str | None = None) -> list[dict[str, str]]:
    """The conversation up to the assistant turn, as both SFT data and evaluation prompts use it."""
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    return messages + [{"role": "user", "content": problem}]
