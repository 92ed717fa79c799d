"""Real images for the viewer tests, read with nibabel straight into the engine's types.

The Colin27 T1 (ch2) and the AAL atlas share one RAS 1 mm grid; nibabel's anatomical.nii is
a 2 mm LAS T1. Reoriented copies keep every voxel's world position, so only the voxel order
(and therefore the acquisition plane) changes.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import nibabel as nib
import numpy as np

from engine.display.labels import LabelMap
from engine.io.volume import Volume, sha256_file

ANATOMICAL = Path(nib.__file__).parent / "tests" / "data" / "anatomical.nii"


def load_volume(path: Path, modality: str = "T1") -> Volume:
    """Load a NIfTI file as a float32 :class:`Volume` with its affine."""
    image = nib.load(str(path))
    data = np.asarray(image.get_fdata(dtype=np.float32))
    return Volume(data=data, affine=image.affine.copy(), source_path=Path(path),
                  content_sha256=sha256_file(Path(path)), file_format="nifti", modality=modality,
                  original_dtype=str(image.get_data_dtype()))


def aal_names(templates: Path) -> dict[int, str]:
    """Read ``aal.nii.txt`` (lines ``<value> <name> <code>``) into {value: name}."""
    names = {}
    for line in (templates / "aal.nii.txt").read_text().splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0].isdigit():
            names[int(fields[0])] = fields[1]
    return names


def load_aal(templates: Path) -> LabelMap:
    image = nib.load(str(templates / "aal.nii.gz"))
    return LabelMap.from_array(np.asarray(image.dataobj), image.affine, names=aal_names(templates),
                               name="label map 'aal.nii.gz'")


def reordered(volume: Volume, axes: tuple[int, int, int], modality: str | None = None) -> Volume:
    """Return ``volume`` with its voxel axes permuted to ``axes``; the world positions stay."""
    data = np.ascontiguousarray(np.transpose(volume.data, axes))
    affine = volume.affine.copy()
    affine[:3, :3] = volume.affine[:3, list(axes)]
    return Volume(data=data, affine=affine, source_path=volume.source_path,
                  content_sha256=volume.content_sha256, file_format=volume.file_format,
                  modality=modality or volume.modality)


def flipped(volume: Volume, axis: int) -> Volume:
    """Return ``volume`` with voxel axis ``axis`` reversed; the world positions stay."""
    data = np.ascontiguousarray(np.flip(volume.data, axis))
    affine = volume.affine.copy()
    size = volume.data.shape[axis]
    affine[:3, 3] = volume.affine[:3, 3] + volume.affine[:3, axis] * (size - 1)
    affine[:3, axis] = -volume.affine[:3, axis]
    return Volume(data=data, affine=affine, source_path=volume.source_path,
                  content_sha256=volume.content_sha256, file_format=volume.file_format,
                  modality=volume.modality)


@lru_cache(maxsize=4)
def shared_volume(path: Path) -> Volume:
    """Load ``path`` once per test session; tests must not modify the result."""
    return load_volume(path)


@lru_cache(maxsize=2)
def shared_aal(templates: Path) -> LabelMap:
    """Load the AAL label map once per test session; tests must not modify the result."""
    return load_aal(templates)
