"""Real images for the viewer tests, read with the engine's NIfTI and label-map readers.

The Colin27 T1 (ch2) and the AAL atlas share one RAS 1 mm grid; nibabel's anatomical.nii is
a 2 mm LAS T1. Reoriented copies keep every voxel's world position, so only the voxel order
(and therefore the acquisition plane) changes.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import nibabel as nib
import numpy as np

from engine.display.labels import DisplayLabelMap
from engine.io.masks import read_label_map, read_sidecar_names
from engine.io.nifti import load_nifti
from engine.io.volume import Volume

ANATOMICAL = Path(nib.__file__).parent / "tests" / "data" / "anatomical.nii"


def load_volume(path: Path, modality: str = "T1") -> Volume:
    """Load a NIfTI file with the engine's loader, as a float32 :class:`Volume`."""
    volume = load_nifti(Path(path))
    volume.modality = modality
    return volume


def aal_names(templates: Path) -> dict[int, str]:
    """Return {value: name} from ``aal.nii.txt`` (lines ``<value> <name> <code>``)."""
    return read_sidecar_names(templates / "aal.nii.gz")


def load_aal(templates: Path) -> DisplayLabelMap:
    return DisplayLabelMap.from_label_map(read_label_map(templates / "aal.nii.gz"), names=aal_names(templates))


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
def shared_aal(templates: Path) -> DisplayLabelMap:
    """Load the AAL label map once per test session; tests must not modify the result."""
    return load_aal(templates)
