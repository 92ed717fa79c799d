"""Pixels of pipeline samples: the displayed slice as 8-bit greyscale, and its mask.

Volume slices are shown in the radiological display frame (the frame of the mask
semantics) with an explicit window from the series' 1st to 99th intensity percentile.
Values outside the window are clipped. 2D images are decoded as stored and converted to
greyscale.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np

from engine.errors import InvalidInputError, NotFoundError
from engine.io.volume import slice_frame
from engine.pipeline.samples import Sample
from engine.semantics.store import read_mask_labels

# Volumes kept in memory: samples arrive sorted by image path, so slices of one volume
# follow each other, and a BraTS case's four sequences fit in one window of this size.
CACHED_VOLUMES = 4


@dataclass(frozen=True)
class MaskSource:
    """The columns of a Mask row that reading its labels needs."""

    mask_id: int
    source_path: str
    kind: str
    content_sha256: str
    shape: list[int] | None


class SliceImages:
    """Renders samples to uint8 arrays, keeping the last few loaded volumes."""

    def __init__(self) -> None:
        self._volumes: OrderedDict[tuple[str, int, str], np.ndarray] = OrderedDict()
        self._labels: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()

    def image(self, sample: Sample) -> np.ndarray:
        """Return the sample's slice as displayed, uint8 greyscale (rows, columns)."""
        if sample.series_kind != "volume":
            return read_image_file(Path(sample.source_path))
        volume = self._volume(sample)
        frame = slice_frame(np.asarray(sample.affine, dtype=float), sample.slice_axis)
        plane = frame.to_display(np.take(volume, sample.slice_index, axis=sample.slice_axis))
        return window_to_uint8(plane, sample.window)

    def mask(self, sample: Sample, source: MaskSource) -> np.ndarray:
        """Return the whole-lesion mask of a volume sample (every label above 0) as 0/255 uint8.

        The mask is read as the semantics stage reads it: a label map as stored, a DICOM SEG
        placed on the grid of the sample's series. Raises InvalidInputError when the mask
        file is missing or changed since its import.
        """
        labels = self._mask_labels(sample, source)
        frame = slice_frame(np.asarray(sample.affine, dtype=float), sample.slice_axis)
        plane = frame.to_display(np.take(labels, sample.slice_index, axis=sample.slice_axis))
        return np.where(plane > 0, 255, 0).astype(np.uint8)

    def _volume(self, sample: Sample) -> np.ndarray:
        key = (sample.source_path, sample.volume_index, sample.content_sha256)
        if key in self._volumes:
            self._volumes.move_to_end(key)
            return self._volumes[key]
        if sample.file_format == "nifti":
            data = _read_nifti(Path(sample.source_path), sample.volume_index)
        elif sample.file_format == "dicom":
            data = _read_dicom(sample)
        else:
            raise InvalidInputError(f"series {sample.series_id} has file format "
                                    f"{sample.file_format!r}; volumes must be NIfTI or DICOM")
        self._volumes[key] = data
        while len(self._volumes) > CACHED_VOLUMES:
            self._volumes.popitem(last=False)
        return data

    def _mask_labels(self, sample: Sample, source: MaskSource) -> np.ndarray:
        key = (source.mask_id, sample.series_id)
        if key not in self._labels:
            volume = self._volume(sample)
            grid = SimpleNamespace(shape=list(volume.shape), affine=sample.affine)
            self._labels[key] = read_mask_labels(source, grid)
            while len(self._labels) > CACHED_VOLUMES:
                self._labels.popitem(last=False)
        self._labels.move_to_end(key)
        return self._labels[key]


def window_to_uint8(plane: np.ndarray, window: tuple[float, float] | None) -> np.ndarray:
    """Map ``plane`` linearly from ``window`` (low, high) to 0-255, clipping outside values.

    Without a window, or with a window of zero width, the plane's finite minimum and
    maximum are used; a constant plane gives zeros. Non-finite values become 0.
    """
    plane = np.asarray(plane, dtype=np.float32)
    finite = np.isfinite(plane)
    low, high = window if window else (None, None)
    if low is None or not high > low:
        values = plane[finite]
        low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
    if not high > low:
        return np.zeros(plane.shape, dtype=np.uint8)
    scaled = (np.where(finite, plane, low) - low) * (255.0 / (high - low))
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def read_image_file(path: Path) -> np.ndarray:
    """Decode a 2D image file as uint8 greyscale. Raises InvalidInputError naming the file."""
    try:
        raw = np.fromfile(path, dtype=np.uint8)
    except FileNotFoundError:
        raise NotFoundError(f"image file '{path}' not found; the dataset's files have moved "
                            "or were deleted") from None
    # imdecode, because cv2.imread cannot open every non-ASCII path.
    image = cv2.imdecode(raw, cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise InvalidInputError(f"cannot decode '{path}' as an image")
    return image


def write_png(path: Path, image: np.ndarray) -> None:
    """Write a uint8 image as PNG, creating folders. Raises InvalidInputError on failure."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, encoded = cv2.imencode(".png", image)
    if not ok:
        raise InvalidInputError(f"cannot encode the image for '{path}' as PNG")
    encoded.tofile(path)


def _read_nifti(path: Path, volume_index: int) -> np.ndarray:
    from engine.io.nifti import load_nifti

    if not path.is_file():
        raise NotFoundError(f"NIfTI file '{path}' not found; the dataset's files have moved "
                            "or were deleted")
    return load_nifti(path, volume_index).data


def _read_dicom(sample: Sample) -> np.ndarray:
    from engine.io.dicom import read_dicom_folder

    folder = read_dicom_folder(sample.source_path)
    for item in folder.series:
        volume = item.volume
        if (volume.content_sha256 == sample.content_sha256
                and volume.volume_index == sample.volume_index):
            return volume.data
    raise NotFoundError(f"DICOM series {sample.series_id} is no longer in "
                        f"'{sample.source_path}' (its files changed); import it again")
