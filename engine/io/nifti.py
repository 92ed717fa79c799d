"""Reading NIfTI-1/NIfTI-2 images (``.nii``, ``.nii.gz``) as float32 volumes.

The affine is kept as stored (no reorientation), so any orientation (RAS, LAS, oblique)
survives; the display frame is worked out from the affine later. Voxels are cast to
float32 before any arithmetic, so int16 extremes such as -32768 survive and scaling
never runs in the stored integer type or in float64.
"""

from __future__ import annotations

import logging
import zlib
from pathlib import Path

import nibabel as nib
import numpy as np

from engine.errors import InvalidInputError
from engine.io.volume import Volume, sha256_file

log = logging.getLogger(__name__)

# A 3x3 affine part whose determinant is this small relative to the product of its
# column lengths has voxel axes that do not span 3D space.
_SINGULAR_RATIO = 1e-6
_READ_ERRORS = (OSError, EOFError, ValueError, zlib.error, nib.filebasedimages.ImageFileError)


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def open_nifti(path: Path) -> nib.Nifti1Image:
    """Open the NIfTI header of ``path``; raise InvalidInputError naming the file if unreadable."""
    try:
        image = nib.load(str(path))
    except _READ_ERRORS as error:
        raise InvalidInputError(
            f"NIfTI file '{path}' could not be read ({_one_line(error)}); "
            "check that it is a complete .nii or .nii.gz file and copy or export it again"
        ) from error
    if not isinstance(image, (nib.Nifti1Image, nib.Nifti2Image)):
        raise InvalidInputError(
            f"'{path}' is a {type(image).__name__}, not a single-file NIfTI image; "
            "convert it to .nii.gz and import that"
        )
    return image


def check_affine(affine: np.ndarray, path: Path) -> np.ndarray:
    """Return ``affine`` as a float64 4x4 array; raise InvalidInputError if it is singular."""
    affine = np.asarray(affine, dtype=np.float64)
    linear = affine[:3, :3]
    lengths = np.sqrt((linear**2).sum(axis=0))
    finite = bool(np.isfinite(affine).all())
    determinant = float(np.linalg.det(linear)) if finite else float("nan")
    if not finite or np.any(lengths == 0) or abs(determinant) < _SINGULAR_RATIO * float(np.prod(lengths)):
        rows = "; ".join(" ".join(f"{value:g}" for value in row) for row in affine[:3])
        raise InvalidInputError(
            f"NIfTI file '{path}' has a singular affine [{rows}], so its voxels have no "
            "position in space; fix the sform/qform of its header and import it again"
        )
    return affine


def read_voxels(image: nib.Nifti1Image, path: Path, volume_index: int | None) -> np.ndarray:
    """Return the stored voxels of ``image`` as float32 with the header scaling applied.

    ``volume_index`` picks one volume of a 4D image (None: the image must have at most one).
    Raises InvalidInputError for an index out of range, non-scalar voxels or a damaged file.
    """
    shape = image.shape
    if len(shape) > 4 or len(shape) < 2:
        raise InvalidInputError(
            f"NIfTI file '{path}' has {len(shape)} dimensions {tuple(shape)}; "
            "only 2D, 3D and 4D images are imported"
        )
    dtype = image.get_data_dtype()
    if dtype.fields is not None or dtype.kind == "c":
        raise InvalidInputError(
            f"NIfTI file '{path}' stores {dtype} voxels (RGB or complex); "
            "only scalar images are imported; convert it to one value per voxel first"
        )
    count = volume_count(image)
    if volume_index is None and count > 1:
        raise InvalidInputError(
            f"NIfTI file '{path}' has {count} volumes, but a label map must have one; "
            "save the label map as a single 3D volume"
        )
    index = 0 if volume_index is None else volume_index
    if not 0 <= index < count:
        raise InvalidInputError(
            f"NIfTI file '{path}' has {count} volume{'s' if count != 1 else ''}; volume index "
            f"{index} is out of range (choose 0 to {count - 1} with --volume)"
        )

    proxy = image.dataobj
    try:
        # Unscaled: a memory map for .nii, the decompressed array for .nii.gz.
        raw = np.asanyarray(proxy.get_unscaled())
    except _READ_ERRORS as error:
        raise InvalidInputError(
            f"NIfTI file '{path}' could not be read: it is truncated or damaged "
            f"({_one_line(error)}); copy or export it again"
        ) from error
    if raw.ndim == 4:
        raw = raw[..., index]
    if raw.ndim == 2:
        raw = raw[..., np.newaxis]
    data = np.array(raw, dtype=np.float32)  # a copy in memory, never a view of the file

    # nibabel moves scl_slope/scl_inter from a loaded header to the array proxy.
    slope, intercept = float(proxy.slope), float(proxy.inter)
    if slope != 1:
        data *= np.float32(slope)
    if intercept != 0:
        data += np.float32(intercept)
    return data


def volume_count(image: nib.Nifti1Image) -> int:
    """Return the number of volumes (the 4th dimension; 1 for a 2D or 3D image)."""
    return int(image.shape[3]) if len(image.shape) == 4 else 1


def mark_nonfinite(data: np.ndarray) -> int:
    """Turn +/-Inf into NaN in place (NaN stays) and return how many voxels are not finite."""
    infinite = np.isinf(data)
    data[infinite] = np.nan
    return int(np.isnan(data).sum())


def load_nifti(path: Path, volume_index: int = 0, content_sha256: str | None = None) -> Volume:
    """Load volume ``volume_index`` of the NIfTI image at ``path`` as a float32 :class:`Volume`.

    Raises InvalidInputError (naming the file) for damaged or truncated files, a singular
    affine, an out-of-range volume index or non-scalar voxels.
    """
    path = Path(path)
    image = open_nifti(path)
    affine = check_affine(image.affine, path)
    data = read_voxels(image, path, volume_index)
    nonfinite = mark_nonfinite(data) if image.get_data_dtype().kind == "f" else 0
    if nonfinite:
        log.warning("NIfTI file '%s': %d voxels are NaN or infinite; infinities are read as NaN",
                    path, nonfinite)
    return Volume(
        data=data,
        affine=affine,
        source_path=path,
        content_sha256=content_sha256 or sha256_file(path),
        file_format="nifti",
        volume_index=volume_index,
        volume_count=volume_count(image),
        nonfinite_count=nonfinite,
        original_dtype=str(image.get_data_dtype().newbyteorder("=")),
    )
