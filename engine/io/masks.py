"""Masks: NIfTI label maps, binary PNG/JPEG masks and YOLO polygons, checked against their image.

A mask must lie on its image's grid: same shape and, for NIfTI, the same affine within
:data:`AFFINE_TOLERANCE_MM`. A mismatch is an error; masks are never transposed,
resampled or cropped to fit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from engine.errors import InvalidInputError
from engine.io import image2d, nifti, yolo

LABEL_MAP = "label-map"
BINARY_IMAGE = "binary-image"
YOLO = "yolo"

# Affine entries of a mask and its image may differ by float32 rounding of the header.
AFFINE_TOLERANCE_MM = 1e-3
# MM-NeuroOnco rule for 2D mask images: a pixel is foreground when its gray value is > 127.
FOREGROUND_THRESHOLD = 127
FOREGROUND_NAME = "foreground"
# BraTS 2021 labels 1/2/4 and BraTS 2023 labels 1/2/3 (1 and 2 mean the same in both).
BRATS_LABEL_NAMES = {1: "necrotic core", 2: "oedema", 3: "enhancing tumour", 4: "enhancing tumour"}

_SIDECAR_LINE = re.compile(r"^\s*(\d+)\s+(\S+)")


@dataclass
class LabelMap:
    """A NIfTI label map: integer labels on a voxel grid."""

    labels: np.ndarray  # int32, shape (I, J, K)
    affine: np.ndarray
    path: Path

    def values(self) -> list[int]:
        """Return the label values present, without the background 0."""
        flat = self.labels.ravel()
        low = int(flat.min()) if flat.size else 0
        if low >= 0 and (int(flat.max()) if flat.size else 0) < 1 << 20:
            present = np.flatnonzero(np.bincount(flat))
        else:
            present = np.unique(flat)
        return [int(value) for value in present if value != 0]


def read_label_map(path: Path) -> LabelMap:
    """Read a 3D NIfTI label map; raise InvalidInputError unless all voxels are integers."""
    path = Path(path)
    image = nifti.open_nifti(path)
    affine = nifti.check_affine(image.affine, path)
    data = nifti.read_voxels(image, path, volume_index=None)
    if not np.isfinite(data).all() or not np.array_equal(data, np.rint(data)):
        raise InvalidInputError(
            f"mask '{path}' is not a label map: it has non-integer or non-finite values; "
            "import it as an image, or export integer labels"
        )
    return LabelMap(data.astype(np.int32), affine, path)


def label_names(values: Iterable[int], path: Path, brats: bool = False) -> dict[str, str]:
    """Name each label value: from a sidecar text file, BraTS names, else ``label N``.

    ``brats`` allows the BraTS names (for a ``_seg`` file or a BraTS case folder); they
    are used only when the values fit one BraTS scheme (1/2/4 or 1/2/3).
    """
    values = sorted(values)
    sidecar = read_sidecar_names(path)
    fits_brats = brats and set(values) <= {1, 2, 3, 4} and not {3, 4} <= set(values)
    names = {}
    for value in values:
        if value in sidecar:
            names[str(value)] = sidecar[value]
        elif fits_brats:
            names[str(value)] = BRATS_LABEL_NAMES[value]
        else:
            names[str(value)] = f"label {value}"
    return names


def sidecar_path(path: Path) -> Path | None:
    """Return the label-name text beside a label map (``aal.nii.txt`` or ``aal.txt``), if any."""
    name = path.name
    base = name[: -len(".gz")] if name.endswith(".gz") else name
    stem = base[: -len(".nii")] if base.endswith(".nii") else base
    for candidate in (path.with_name(base + ".txt"), path.with_name(stem + ".txt")):
        if candidate.is_file():
            return candidate
    return None


def read_sidecar_names(path: Path) -> dict[int, str]:
    """Read ``<value> <name> ...`` lines of the label-name text beside ``path`` (empty if none)."""
    sidecar = sidecar_path(Path(path))
    if sidecar is None:
        return {}
    names = {}
    for line in sidecar.read_text(encoding="utf-8", errors="replace").splitlines():
        match = _SIDECAR_LINE.match(line)
        if match:
            names[int(match.group(1))] = match.group(2)
    return names


def check_same_grid(mask_path: Path, mask_shape: tuple[int, ...], image_path: Path,
                    image_shape: tuple[int, ...], mask_affine: np.ndarray | None = None,
                    image_affine: np.ndarray | None = None) -> None:
    """Raise InvalidInputError naming both files unless the mask lies on the image's grid."""
    mask_shape, image_shape = tuple(int(n) for n in mask_shape), tuple(int(n) for n in image_shape)
    if mask_shape != image_shape:
        raise InvalidInputError(
            f"mask '{mask_path}' has shape {mask_shape} but image '{image_path}' has "
            f"{image_shape}; masks are never transposed or resampled, so export the mask "
            "on the image's grid"
        )
    if mask_affine is None or image_affine is None:
        return
    difference = float(np.abs(np.asarray(mask_affine) - np.asarray(image_affine)).max())
    if difference > AFFINE_TOLERANCE_MM:
        raise InvalidInputError(
            f"mask '{mask_path}' has the shape of image '{image_path}' {image_shape} but a "
            f"different affine (largest difference {difference:.4g}, tolerance "
            f"{AFFINE_TOLERANCE_MM:g} mm); masks are never resampled, so export the mask "
            "with the image's header"
        )


def foreground(gray: np.ndarray) -> np.ndarray:
    """Return the boolean foreground of a 2D mask image (gray value > 127)."""
    return gray > FOREGROUND_THRESHOLD


def read_mask(path: Path, kind: str, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Read a stored mask for analysis or display, in the array order of its image.

    Label maps give int32 labels; binary images and YOLO polygons a boolean foreground
    (YOLO needs ``shape``, the image's rows and columns).
    """
    path = Path(path)
    if kind == LABEL_MAP:
        return read_label_map(path).labels
    if kind == BINARY_IMAGE:
        return foreground(image2d.to_gray(image2d.decode_pixels(path.read_bytes(), path)))
    if kind == YOLO:
        if shape is None:
            raise ValueError("a YOLO mask needs the image shape to be rasterised")
        return yolo.rasterise(yolo.read_yolo(path), shape) > FOREGROUND_THRESHOLD
    raise ValueError(f"unknown mask kind {kind!r}")
