"""A problem's image, read the ways datasets store it (a Hugging Face Image struct, raw bytes, base64 with
or without a `data:` prefix, a path relative to the file) and decoded once with Pillow under fixed limits,
so a corrupt, truncated or empty file or a decompression bomb is refused with its reason before it costs
memory. The perceptual hash (a 64-bit difference hash) is what image decontamination compares: a figure
re-encoded, resized or lightly recoloured keeps nearly the same hash, which a byte hash does not."""

from __future__ import annotations

import base64
import binascii
import io
import re
from pathlib import Path
from typing import Any

MAX_IMAGE_BYTES = 20 * 1024 * 1024  # a 4K PNG figure is a few MB; more is not a problem's figure
MAX_IMAGE_PIXELS = 25_000_000  # 5000 x 5000; Pillow's own bomb limit is 89M, and only a warning below 179M
HASH_SIDE = 8  # the difference hash compares 8 x 9 grey pixels: 64 bits
_DATA_URI = re.compile(r"^data:image/[\w.+-]+;base64,", re.I)
_BASE64 = re.compile(r"^[A-Za-z0-9+/\s]+={0,2}\s*$")


class ImageError(ValueError):
    """An image that cannot be used, with the reason (the caller adds the file, row and field)."""


def image_bytes(value: Any, base: Path | None = None) -> bytes:
    """The encoded image a field holds: an Image struct's bytes (or its path), bytes, a base64 string,
    a path (relative to `base`, the folder of the file that names it), or a decoded PIL image."""
    if isinstance(value, dict):
        if value.get("bytes"):
            return image_bytes(value["bytes"], base)
        if value.get("path"):
            return image_bytes(str(value["path"]), base)
        raise ImageError("image struct has neither bytes nor a path")
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        if not data:
            raise ImageError("empty image (0 bytes)")
        return data
    if hasattr(value, "save") and hasattr(value, "size"):  # a PIL image a dataset already decoded
        out = io.BytesIO()
        value.save(out, format="PNG")
        return out.getvalue()
    if isinstance(value, str):
        return _from_text(value.strip(), base)
    raise ImageError(f"image must be bytes, a base64 string, a path or an image struct, got {type(value).__name__}")


def _from_text(text: str, base: Path | None) -> bytes:
    """A data URI or a path (relative to `base`), else base64 when it reads as base64."""
    if not text:
        raise ImageError("empty image field")
    uri = _DATA_URI.match(text)
    path = Path(text) if not uri and len(text) < 4096 else None
    if path is not None and base is not None:
        path = _inside(base, path)
    if path is not None and _is_file(path):
        size = path.stat().st_size
        if size > MAX_IMAGE_BYTES:
            raise ImageError(f"image file {str(path)!r} is {size} bytes, over the {MAX_IMAGE_BYTES}-byte limit")
        return image_bytes(path.read_bytes(), base)
    if uri or (len(text) >= 64 and _BASE64.match(text[:4096])):
        encoded = text[uri.end() :] if uri else text
        if len(encoded) * 3 // 4 > MAX_IMAGE_BYTES:
            raise ImageError(f"base64 image over {MAX_IMAGE_BYTES} bytes")
        try:
            return image_bytes(base64.b64decode(encoded, validate=False), base)
        except binascii.Error as exc:
            raise ImageError(f"not valid base64: {exc}") from None
    raise ImageError(f"image file {str(path)!r} does not exist")


def _inside(base: Path, path: Path) -> Path:
    """`path` read relative to `base`, the folder of the file that names it; a path that leads out
    of that folder (absolute, `../`, or a link) is someone else's file, refused."""
    if path.is_absolute():
        raise ImageError(f"image path {str(path)!r} is absolute: a file's image paths are relative to its folder")
    resolved = (base / path).resolve()
    if base.resolve() not in resolved.parents:
        raise ImageError(f"image path {str(path)!r} leads out of the file's folder {str(base)!r}")
    return base / path


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a name too long for the file system (a base64 string): not a path
        return False


def checked_image(data: bytes) -> bytes:
    """`data` unchanged when it decodes to a whole image within the size and pixel limits; the pixel
    count is read from the header before any pixel is decoded, so a bomb never expands."""
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise ImageError("empty image (0 bytes)")
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageError(f"image is {len(data)} bytes, over the {MAX_IMAGE_BYTES}-byte limit")
    try:
        with Image.open(io.BytesIO(data)) as im:
            width, height = im.size
            if width * height > MAX_IMAGE_PIXELS:
                raise ImageError(
                    f"image claims {width}x{height} pixels, over the {MAX_IMAGE_PIXELS}-pixel limit "
                    "(a decompression bomb or not a figure)"
                )
            im.load()  # decodes every pixel: a truncated or corrupt file fails here
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError("not an image Pillow can read") from None
    except Image.DecompressionBombError as exc:
        raise ImageError(f"decompression bomb: {exc}") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:  # Pillow's errors for broken data
        raise ImageError(f"image does not decode: {type(exc).__name__}: {exc}"[:300]) from None
    return data


def read_image(value: Any, base: Path | None = None) -> bytes:
    """A field's image as checked, encoded bytes (what tables store and the content id hashes)."""
    return checked_image(image_bytes(value, base))


def perceptual_hash(data: bytes) -> int:
    """64-bit difference hash: each bit says whether a grey pixel is brighter than its right-hand
    neighbour on a 9 x 8 thumbnail."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        grey = im.convert("L").resize((HASH_SIDE + 1, HASH_SIDE), Image.Resampling.LANCZOS)
        px = grey.tobytes()  # one byte a pixel in mode L
    bits = 0
    for row in range(HASH_SIDE):
        for col in range(HASH_SIDE):
            left, right = px[row * (HASH_SIDE + 1) + col], px[row * (HASH_SIDE + 1) + col + 1]
            bits = (bits << 1) | (left > right)
    return bits


def figure_hashes(images) -> list[int | None]:
    """Each figure's perceptual hash (None for a problem without one), computed once per curation
    pass and shared by near-duplicate detection and decontamination."""
    return [None if image is None else perceptual_hash(image) for image in images]


def hash_distance(a: int, b: int) -> int:
    """Bits that differ between two perceptual hashes (0 = the same picture to the hash)."""
    return (a ^ b).bit_count()
