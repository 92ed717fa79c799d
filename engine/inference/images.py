"""Image loading and the image-size policy shared by inference and fine-tuning.

The policy: an image is converted to RGB and, if it has more than ``max_pixels`` pixels,
shrunk (never enlarged) with its aspect ratio kept, using bicubic resampling. Inference,
the instruction pipeline and the training data collator all call :func:`apply_size_policy`
so a model sees the same pixels in training and in evaluation. Each backend's own
processor may resize further (a LLaVA processor to 336 px, Qwen2-VL to multiples of 28).
"""

from __future__ import annotations

import base64
import hashlib
import io
import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from engine.errors import InvalidInputError

# 768 x 768, the default pixel cap of LLaMA-Factory's multimodal settings; a 240 x 240
# BraTS slice or a 512 x 512 DICOM frame passes unchanged.
DEFAULT_MAX_PIXELS = 768 * 768


def apply_size_policy(image: Image.Image, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Return ``image`` as RGB with at most ``max_pixels`` pixels (None: no limit)."""
    if image.mode != "RGB":
        image = image.convert("RGB")
    if max_pixels is None:
        return image
    if max_pixels < 1:
        raise InvalidInputError(f"max_pixels is {max_pixels}; use a positive number of pixels")
    width, height = image.size
    if width * height <= max_pixels:
        return image
    scale = math.sqrt(max_pixels / (width * height))
    new_size = (max(1, math.floor(width * scale)), max(1, math.floor(height * scale)))
    return image.resize(new_size, Image.BICUBIC)


def load_image(source: Any) -> Image.Image:
    """Open an image from a path, encoded bytes, a PIL image or a uint8 array (H, W[, 3|4])."""
    if isinstance(source, Image.Image):
        return source
    if isinstance(source, np.ndarray):
        if source.dtype != np.uint8 or source.ndim not in (2, 3):
            raise InvalidInputError(f"an image array must be uint8 with shape (H, W) or (H, W, C); "
                                    f"got {source.dtype} {source.shape}")
        return Image.fromarray(source)
    if isinstance(source, (bytes, bytearray)):
        return _open(io.BytesIO(source), "the image bytes")
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise InvalidInputError(f"image {path} does not exist")
        return _open(path, str(path))
    raise InvalidInputError(f"cannot use a {type(source).__name__} as an image; pass a path, "
                            "bytes, a PIL image or a uint8 array")


def _open(file: Any, name: str) -> Image.Image:
    try:
        image = Image.open(file)
        image.load()
    except (UnidentifiedImageError, OSError) as error:
        raise InvalidInputError(f"{name} is not a readable image ({error})") from None
    return image


@dataclass(frozen=True)
class PreparedImage:
    """An image after the size policy, with the encodings backends need."""

    image: Image.Image

    @cached_property
    def png(self) -> bytes:
        buffer = io.BytesIO()
        self.image.save(buffer, format="PNG")
        return buffer.getvalue()

    @cached_property
    def sha256(self) -> str:
        """Hash of the mode, size and pixels (not of a file encoding)."""
        digest = hashlib.sha256(f"{self.image.mode}:{self.image.width}x{self.image.height}:".encode())
        digest.update(self.image.tobytes())
        return digest.hexdigest()

    @property
    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


def prepare_image(source: Any, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> PreparedImage:
    """Load ``source`` and apply the size policy."""
    if isinstance(source, PreparedImage):
        return source
    return PreparedImage(apply_size_policy(load_image(source), max_pixels))
