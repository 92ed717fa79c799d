"""Rebuild the demo study from Debian's mricron-data package.

The demo T1 is the brain-extracted Colin27 template (``ch2bet.nii.gz``, 1 mm, RAS),
cropped to the brain with a small margin and stored as uint8 NIfTI. Its voxels are
unchanged. The lesion is synthetic: a seeded, irregular BraTS-style label map (1 necrotic
core, 2 oedema, 4 enhancing tumour) in the right frontal white matter. The image is not
altered to show the lesion, so the mask outlines tissue that is in fact healthy; the
application labels the mask as synthetic.

    python resources/demo/make_demo.py [--templates /usr/share/mricron/templates]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import nibabel as nib
import numpy as np

HERE = Path(__file__).resolve().parent
MARGIN_VOXELS = 4
SEED = 20260226


def crop_to_brain(image: nib.Nifti1Image) -> nib.Nifti1Image:
    data = np.asarray(image.dataobj)
    nonzero = np.argwhere(data > 0)
    low = np.maximum(nonzero.min(axis=0) - MARGIN_VOXELS, 0)
    high = np.minimum(nonzero.max(axis=0) + MARGIN_VOXELS + 1, data.shape)
    cropped = data[low[0]:high[0], low[1]:high[1], low[2]:high[2]]
    # Shift the origin so every kept voxel keeps its world position.
    affine = image.affine.copy()
    affine[:3, 3] = image.affine[:3, :3] @ low + image.affine[:3, 3]
    header = image.header.copy()
    header.set_data_dtype(np.uint8)
    return nib.Nifti1Image(cropped.astype(np.uint8), affine, header)


def synthetic_lesion(image: nib.Nifti1Image) -> np.ndarray:
    """Return a uint8 label map: 1 necrotic core, 2 oedema, 4 enhancing tumour."""
    rng = np.random.default_rng(SEED)
    data = np.asarray(image.dataobj)
    inverse = np.linalg.inv(image.affine)
    # Right frontal white matter in MNI-like world coordinates (mm).
    centre = (inverse @ np.array([24.0, 18.0, 22.0, 1.0]))[:3]
    grid = np.indices(data.shape, dtype=np.float32)
    offset = [grid[axis] - centre[axis] for axis in range(3)]
    radii = np.array([13.0, 16.0, 11.0])
    distance = np.sqrt(sum((offset[axis] / radii[axis]) ** 2 for axis in range(3)))

    # Low-frequency angular noise makes the outline lobulated instead of a smooth ellipsoid.
    theta = np.arctan2(offset[1], offset[0])
    phi = np.arctan2(offset[2], np.hypot(offset[0], offset[1]))
    wobble = np.zeros_like(distance)
    for k in range(1, 5):
        amplitude, phase_t, phase_p = rng.uniform(0.03, 0.09), rng.uniform(0, 6.28), rng.uniform(0, 6.28)
        wobble += amplitude * np.sin(k * theta + phase_t) * np.cos(k * phi + phase_p)
    radius = distance * (1.0 + wobble)

    brain = data > 0
    labels = np.zeros(data.shape, dtype=np.uint8)
    labels[(radius < 1.55) & brain] = 2
    labels[(radius < 1.0) & brain] = 4
    labels[(radius < 0.62) & brain] = 1
    return labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--templates", type=Path, default=Path("/usr/share/mricron/templates"))
    args = parser.parse_args()

    source = nib.load(args.templates / "ch2bet.nii.gz")
    t1 = crop_to_brain(source)
    t1.header["descrip"] = b"Colin27 ch2bet (mricron-data), cropped"
    nib.save(t1, HERE / "colin27_t1.nii.gz")

    seg = nib.Nifti1Image(synthetic_lesion(t1), t1.affine)
    seg.header.set_data_dtype(np.uint8)
    seg.header["descrip"] = b"SYNTHETIC lesion, not a real finding"
    nib.save(seg, HERE / "synthetic_lesion_seg.nii.gz")

    counts = {int(v): int(n) for v, n in zip(*np.unique(seg.get_fdata(), return_counts=True))}
    print(f"T1 {t1.shape}, labels (voxels): {counts}")


if __name__ == "__main__":
    main()
