"""Reading 2D PNG and JPEG images as float32 gray arrays.

Colour handling: medical images exported as RGB usually carry the same value in all three
channels, and then that channel is the gray value. When the channels differ (a coloured
overlay, a colour photograph, chroma noise of a JPEG), the gray value is the ITU-R BT.601
luma ``0.299 R + 0.587 G + 0.114 B``. An alpha channel is dropped. Pixels are read as
stored: the EXIF orientation tag of a JPEG is not applied, so an image and its mask keep
the same pixel grid.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from engine.errors import InvalidInputError
from engine.io import detect
from engine.io.volume import Volume, sha256_bytes

# ITU-R BT.601 luma weights in OpenCV's channel order (blue, green, red).
_LUMA_BGR = np.array([0.114, 0.587, 0.299], dtype=np.float32)
_JPEG_END = b"\xff\xd9"
_FORMAT_NAMES = {detect.PNG: "PNG", detect.JPEG: "JPEG"}


@contextmanager
def _quiet_opencv() -> Iterator[None]:
    # OpenCV logs a warning for every damaged file; the caller raises one error instead.
    previous = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(previous)


def decode_pixels(content: bytes, path: Path) -> np.ndarray:
    """Decode PNG or JPEG bytes to the stored array (gray, BGR or BGRA; uint8 or uint16).

    Raises InvalidInputError naming ``path`` when the bytes are not a complete PNG/JPEG.
    """
    file_type = image_file_type(content)
    if file_type is None:
        raise InvalidInputError(
            f"'{path}' is not a PNG or JPEG image (unknown content); "
            "remove it from the folder or convert it to PNG"
        )
    with _quiet_opencv():
        pixels = cv2.imdecode(np.frombuffer(content, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    incomplete_jpeg = file_type == detect.JPEG and not _jpeg_complete(content)
    if pixels is None or pixels.size == 0 or incomplete_jpeg:
        name = _FORMAT_NAMES[file_type]
        raise InvalidInputError(
            f"{name} image '{path}' could not be decoded (the file is truncated or damaged); "
            "export or copy it again, or remove it from the folder"
        )
    return pixels


def image_file_type(content: bytes) -> str | None:
    """Return detect.PNG or detect.JPEG from the first bytes of ``content``, else None."""
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return detect.PNG
    if content.startswith(b"\xff\xd8\xff"):
        return detect.JPEG
    return None


def _jpeg_complete(content: bytes) -> bool:
    """Check that a JPEG is not cut short (OpenCV 4 decodes a truncated JPEG with gray fill)."""
    if _JPEG_END in content[-1024:]:
        return True
    # Data after the end marker (camera trailers) is legal; let Pillow decide the rest.
    from io import BytesIO

    from PIL import Image

    try:
        with Image.open(BytesIO(content)) as image:
            image.load()
    except (OSError, SyntaxError):
        return False
    return True


def to_gray(pixels: np.ndarray) -> np.ndarray:
    """Return ``pixels`` (H x W, or H x W x C in BGR(A) order) as a float32 gray H x W array."""
    if pixels.ndim == 2:
        return pixels.astype(np.float32)
    if pixels.shape[2] < 3:  # gray + alpha
        return pixels[:, :, 0].astype(np.float32)
    colour = pixels[:, :, :3]
    blue, green, red = colour[:, :, 0], colour[:, :, 1], colour[:, :, 2]
    if np.array_equal(blue, green) and np.array_equal(green, red):
        return blue.astype(np.float32)
    return colour.astype(np.float32) @ _LUMA_BGR


def load_image(path: Path, content: bytes | None = None, modality: str = "unknown") -> Volume:
    """Load a PNG or JPEG file as a 2D float32 :class:`Volume` without geometry.

    ``content`` is the file's bytes when the caller has read them already (read and hash
    once). Raises InvalidInputError naming the file for undecodable content.
    """
    path = Path(path)
    if content is None:
        content = path.read_bytes()
    pixels = decode_pixels(content, path)
    return Volume(
        data=to_gray(pixels),
        affine=np.eye(4),
        source_path=path,
        content_sha256=sha256_bytes(content),
        file_format=image_file_type(content),
        modality=modality,
        has_geometry=False,
        original_dtype=str(pixels.dtype),
    )
