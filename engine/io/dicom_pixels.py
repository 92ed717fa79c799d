"""Decoding DICOM pixel data to rescaled float32 values.

Stored values are cast to float32 before any arithmetic (int16 and uint16 arithmetic
wraps), then RescaleSlope and RescaleIntercept are applied per frame.

MONOCHROME1 (minimum value shown white) is converted to MONOCHROME2 by inverting the
values: ``v' = S - v`` with ``S`` the sum of the smallest and largest rescaled value of
the series, so the value range stays the same. Header windows get the same mirror
(centre ``S - c``, width unchanged), which shows exactly the image that a MONOCHROME1
display of the original values and windows shows. Inverting the values, rather than
flagging the series for an inverted display, keeps one meaning ("higher is brighter")
for every consumer: viewer, statistics and rendered model inputs. The metadata records
``MonochromeInverted`` and ``MonochromeInversionSum`` (``S``), so the original values are
``S - v'``.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from engine.errors import InvalidInputError
from engine.io.deid import scrub
from engine.io.dicom_files import quiet_pydicom
from engine.io.dicom_frames import Frame

# The packages that add a decoder to pydicom, by transfer syntax family.
DECODER_PACKAGES = {
    "JPEG-LS": "pyjpegls (or pylibjpeg with pylibjpeg-libjpeg)",
    "JPEG 2000": "pylibjpeg with pylibjpeg-openjpeg (or a Pillow build with OpenJPEG)",
    "High-Throughput JPEG 2000": "pylibjpeg with pylibjpeg-openjpeg",
    "JPEG Lossless": "pylibjpeg with pylibjpeg-libjpeg",
    "JPEG Extended": "pylibjpeg with pylibjpeg-libjpeg",
    "JPEG Baseline": "Pillow (or pylibjpeg with pylibjpeg-libjpeg)",
    "RLE": "pylibjpeg with pylibjpeg-rle",
}
MONOCHROME = ("MONOCHROME1", "MONOCHROME2")


def _decoder_hint(syntax_name: str) -> str:
    for family, package in DECODER_PACKAGES.items():
        if syntax_name.startswith(family):
            return package
    return "gdcm or pylibjpeg"


def check_decodable(frame: Frame) -> None:
    """Raise InvalidInputError when the pixel data of ``frame`` cannot be decoded here.

    The message names the file, the transfer syntax and the package that adds a decoder.
    """
    from pydicom.pixels import get_decoder

    header = frame.header
    syntax = header.file_meta.get("TransferSyntaxUID") if hasattr(header, "file_meta") else None
    if syntax is None or not syntax.is_compressed:
        return
    try:
        decoder = get_decoder(syntax)
    except NotImplementedError:
        raise InvalidInputError(
            f"DICOM file {frame.path} uses transfer syntax {syntax.name} ({syntax}), which pydicom "
            "cannot decode; convert the file to an uncompressed transfer syntax"
        ) from None
    if not decoder.is_available:
        raise InvalidInputError(
            f"DICOM file {frame.path} uses transfer syntax {syntax.name} ({syntax}) and no decoder "
            f"for it is installed; install {_decoder_hint(syntax.name)} and import again"
        )


def check_greyscale(frame: Frame) -> str:
    """Return the photometric interpretation; raise for colour images."""
    header = frame.header
    photometric = str(header.get("PhotometricInterpretation", "MONOCHROME2")).strip()
    samples = int(header.get("SamplesPerPixel") or 1)
    if samples != 1 or photometric not in MONOCHROME:
        raise InvalidInputError(
            f"DICOM file {frame.path} is a colour image ({photometric}, {samples} samples per "
            "pixel); only greyscale (MONOCHROME1 or MONOCHROME2) images can be imported"
        )
    return photometric


def stored_dtype(frame: Frame) -> str:
    """Return the numpy name of the stored pixel type, e.g. "int16" or "uint16"."""
    bits = int(frame.header.get("BitsAllocated") or 16)
    signed = int(frame.header.get("PixelRepresentation") or 0) == 1
    if bits == 1:
        return "bool"
    return f"{'int' if signed else 'uint'}{max(8, bits)}"


def decode_frames(frames: list[Frame], progress=None) -> np.ndarray:
    """Return the rescaled frames as float32, shape (K, rows, columns), in the given order.

    Each file is decoded once. Raises InvalidInputError naming the file for a missing
    decoder, truncated or undecodable pixel data, or a colour image.
    """
    by_path: dict[object, list[int]] = defaultdict(list)
    for position, frame in enumerate(frames):
        check_greyscale(frame)
        by_path[frame.path].append(position)

    first = frames[0]
    stack = np.empty((len(frames), first.rows, first.columns), dtype=np.float32)
    for path, positions in by_path.items():
        pixels = _decode_file(frames[positions[0]])
        for position in positions:
            frame = frames[position]
            raw = pixels if frame.frame_index is None and pixels.ndim == 2 else pixels[frame.frame_index or 0]
            values = raw.astype(np.float32)
            if frame.slope != 1.0:
                values *= np.float32(frame.slope)
            if frame.intercept != 0.0:
                values += np.float32(frame.intercept)
            stack[position] = values
        if progress is not None:
            progress.advance()
    return stack


def _decode_file(frame: Frame) -> np.ndarray:
    check_decodable(frame)
    header = frame.header
    try:
        with quiet_pydicom():
            pixels = header.pixel_array
    except (ValueError, RuntimeError, AttributeError, OSError, EOFError, NotImplementedError) as error:
        reason = scrub(str(error).splitlines()[0] if str(error) else type(error).__name__, [header])
        raise InvalidInputError(
            f"pixel data of DICOM file {frame.path} could not be decoded ({reason}); the file is "
            "damaged or truncated, so export it again"
        ) from None
    expected_frames = int(header.get("NumberOfFrames") or 1)
    if expected_frames > 1 and pixels.ndim == 2:
        pixels = pixels[np.newaxis]
    return pixels


def invert_monochrome1(stack: np.ndarray, windows: list[dict]) -> tuple[np.ndarray, list[dict], float]:
    """Invert MONOCHROME1 values and windows in place of a flag; return data, windows and ``S``."""
    finite = stack[np.isfinite(stack)]
    total = float(finite.min() + finite.max()) if finite.size else 0.0
    inverted = np.float32(total) - stack
    mirrored = [{"center": total - window["center"], "width": window["width"]} for window in windows]
    return inverted, mirrored, total
