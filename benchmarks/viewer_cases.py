"""Benchmark inputs for the viewer, built from the Colin27 T1 and the AAL atlas.

The volumes are cropped and padded (never resampled) to the BraTS grid of 240 x 240 x 155
voxels, and the mask is the AAL atlas on the same grid (116 labels, more than any tumour
mask). The 512 x 512 case pads the 0.5 mm Colin27 to 512 x 512 and keeps 60 slices.
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np

from engine.display.labels import DisplayLabelMap
from engine.io.nifti import load_nifti
from engine.io.volume import Volume

TEMPLATES = Path("/usr/share/mricron/templates")
BRATS_SHAPE = (240, 240, 155)
MODALITIES = ("T1", "T1CE", "T2", "FLAIR")


def require_templates() -> Path:
    if not (TEMPLATES / "ch2.nii.gz").exists():
        raise SystemExit(f"error: Colin27 templates not found in {TEMPLATES}; install the Debian package mricron-data")
    return TEMPLATES


def fit_to_shape(data: np.ndarray, affine: np.ndarray, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Crop or zero-pad ``data`` around its centre to ``shape``, moving the affine origin to match."""
    out = np.zeros(shape, dtype=data.dtype)
    source, target, shift = [], [], np.zeros(3)
    for axis, (have, want) in enumerate(zip(data.shape, shape)):
        if have >= want:
            start = (have - want) // 2
            source.append(slice(start, start + want))
            target.append(slice(0, want))
            shift[axis] = start
        else:
            start = (want - have) // 2
            source.append(slice(0, have))
            target.append(slice(start, start + have))
            shift[axis] = -start
    out[tuple(target)] = data[tuple(source)]
    moved = affine.copy()
    moved[:3, 3] = affine[:3, 3] + affine[:3, :3] @ shift
    return out, moved


def volume_from_array(data: np.ndarray, affine: np.ndarray, path: Path, modality: str) -> Volume:
    """Wrap ``data`` as a float32 Volume in Fortran order, the memory layout nibabel loads NIfTI in."""
    return Volume(data=np.asfortranarray(data, dtype=np.float32), affine=affine, source_path=path,
                  content_sha256="0" * 64, file_format="nifti", modality=modality)


def brats_like_case() -> tuple[list[Volume], DisplayLabelMap]:
    """Return four 240 x 240 x 155 float32 volumes and the AAL label map on their grid."""
    templates = require_templates()
    t1 = nib.load(str(templates / "ch2.nii.gz"))
    atlas = nib.load(str(templates / "aal.nii.gz"))
    data, affine = fit_to_shape(np.asarray(t1.dataobj, dtype=np.float32), t1.affine, BRATS_SHAPE)
    labels, _ = fit_to_shape(np.asarray(atlas.dataobj), atlas.affine, BRATS_SHAPE)
    contrasts = (data, data * 1.2 + 10.0, 255.0 - data, np.sqrt(data) * 16.0)
    volumes = [volume_from_array(c, affine, templates / "ch2.nii.gz", m) for c, m in zip(contrasts, MODALITIES)]
    return volumes, DisplayLabelMap.from_array(np.asfortranarray(labels), affine, name="AAL atlas")


def large_slice_case(slices: int = 60) -> tuple[Volume, DisplayLabelMap]:
    """Return a 512 x 512 x ``slices`` float32 volume (0.5 mm Colin27) and a 3-label map."""
    templates = require_templates()
    image = nib.load(str(templates / "ch2better.nii.gz"))
    data, affine = fit_to_shape(np.asarray(image.dataobj, dtype=np.float32), image.affine, (512, 512, slices))
    labels = np.asfortranarray((data > 40).astype(np.uint8) + (data > 80) + (data > 110))
    return volume_from_array(data, affine, templates / "ch2better.nii.gz", "T1"), DisplayLabelMap.from_array(labels, affine)


def write_case(folder: Path) -> list[Path]:
    """Write the four modalities (int16, gzip) and the label map of :func:`brats_like_case` as NIfTI."""
    volumes, labels = brats_like_case()
    paths = []
    for volume in volumes:
        path = folder / f"case_{volume.modality.lower()}.nii.gz"
        nib.save(nib.Nifti1Image(np.round(volume.data).astype(np.int16), volume.affine), str(path))
        paths.append(path)
    mask_path = folder / "case_seg.nii.gz"
    nib.save(nib.Nifti1Image(labels.values[labels.indices].astype(np.uint8), labels.affine), str(mask_path))
    return paths + [mask_path]


def load_case_volume(path: Path, modality: str) -> Volume:
    """Load one modality of the written case with the engine's NIfTI loader."""
    volume = load_nifti(path)
    volume.modality = modality
    return volume
