"""Loading a model folder the way its kind needs: a text model with its tokenizer, or a
vision-language model with its processor (tokenizer plus image processor). Training, the smoke
test and local generation all load through here, so a VLM student goes where a text one goes."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def is_vision_model(path: str | Path) -> bool:
    """A folder that carries an image processor: loaded with AutoProcessor and
    AutoModelForImageTextToText, and fed each problem's figure."""
    folder = Path(path)
    return (folder / "preprocessor_config.json").exists() or (folder / "processor_config.json").exists()


def load_model(
    path: str, revision: str | None = None, dtype: Any = None, trust_remote_code: bool = False
) -> tuple[Any, Any]:
    """(tokenizer or processor, model) of a folder or hub id. Weights are read from safetensors only:
    a pickled `pytorch_model.bin` can run code when unpickled, so a folder without safetensors is
    refused. `trust_remote_code` runs the model repository's own Python (InternVL2): only where a
    profile's base model entry sets it."""
    remote = {"trust_remote_code": trust_remote_code}
    if is_vision_model(path):
        from transformers import AutoModelForImageTextToText, AutoProcessor

        processor = AutoProcessor.from_pretrained(path, revision=revision, **remote)
        return processor, AutoModelForImageTextToText.from_pretrained(
            path, revision=revision, dtype=dtype, use_safetensors=True, **remote
        )
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path, revision=revision, **remote)
    model = AutoModelForCausalLM.from_pretrained(path, revision=revision, dtype=dtype, use_safetensors=True, **remote)
    return tokenizer, model


def text_tokenizer(processing: Any) -> Any:
    """The tokenizer inside a processor, or the tokenizer itself."""
    return getattr(processing, "tokenizer", processing)


def blank_image(processing: Any):
    """A white square the size the processor crops to: the figure of a problem that has none
    (the smoke test) and of the image-blind arm."""
    from PIL import Image

    crop = getattr(getattr(processing, "image_processor", None), "crop_size", None) or {"height": 224}
    side = int(crop["height"] if isinstance(crop, dict) else getattr(crop, "height", 224))
    return Image.new("RGB", (side, side), "white")


def encode_prompts(processing: Any, texts: list[str], images: list[Any] | None = None) -> dict:
    """Left-padded model inputs for rendered prompts; a vision model also gets each prompt's figure
    (PIL images, one per prompt)."""
    tok = text_tokenizer(processing)
    tok.padding_side = "left"
    if images is None:
        return dict(tok(texts, return_tensors="pt", padding=True, add_special_tokens=False))
    return dict(processing(text=texts, images=images, return_tensors="pt", padding=True))


def pil_image(data: bytes):
    """An encoded figure as the RGB image processors take."""
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        return im.convert("RGB")


def image_mime(data: bytes) -> str:
    """The MIME type of an encoded figure, for a data URI."""
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        return Image.MIME.get(im.format or "PNG", "image/png")
