"""Databases for the pipeline tests, built from real images.

- A volume dataset: the Colin27 T1 template (``ch2.nii.gz`` from Debian's mricron-data)
  once per case, with a synthetic BraTS-style label map (1 necrotic core, 2 oedema,
  4 enhancing tumour) at a different place per case, or no mask for healthy cases.
- A 2D dataset in the MM-NeuroOnco layout: axial ch2 slices saved as PNG under
  ``<class>/<NN>_t1[_mask]/<n>.png`` with a drawn mask ``<n>_mask.png`` beside each tumour
  image.

Images are loaded with the importers' loaders, rows written through ``engine.io.store``,
and the semantics and coarse descriptions computed and stored by
``engine.semantics.store.compute_dataset``, as after an import.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import nibabel as nib
import numpy as np

from db.models import Mask, Slice
from engine.io.image2d import load_image
from engine.io.nifti import load_nifti
from engine.io.store import add_series, get_or_create_case, get_or_create_dataset
from engine.io.volume import sha256_file
from engine.semantics.store import compute_dataset

# (pseudonym, tumour type, lesion centre in voxels or None for a healthy case)
VOLUME_CASES = (
    ("vol-glioma-1", "glioma", (60, 120, 90)),
    ("vol-glioma-2", "glioma", (120, 90, 80)),
    ("vol-glioma-3", "glioma", (90, 150, 100)),
    ("vol-meningioma-1", "meningioma", (70, 80, 95)),
    ("vol-meningioma-2", "meningioma", (110, 140, 85)),
    ("vol-healthy-1", "healthy", None),
)


def lesion_labels(shape: tuple[int, ...], centre: tuple[int, int, int], seed: int) -> np.ndarray:
    """Return a uint8 BraTS-style label map with an irregular lesion around ``centre``."""
    rng = np.random.default_rng(seed)
    grid = np.indices(shape, dtype=np.float32)
    radii = rng.uniform(7.0, 13.0, size=3)
    distance = np.sqrt(sum(((grid[axis] - centre[axis]) / radii[axis]) ** 2 for axis in range(3)))
    theta = np.arctan2(grid[1] - centre[1], grid[0] - centre[0])
    distance = distance * (1.0 + 0.12 * np.sin(3 * theta + rng.uniform(0, 6.28)))
    labels = np.zeros(shape, dtype=np.uint8)
    labels[distance < 1.5] = 2
    labels[distance < 1.0] = 4
    labels[distance < 0.55] = 1
    return labels


def build_volume_dataset(db, folder: Path, mricron: Path, name: str = "volumes",
                         cases=VOLUME_CASES) -> dict[str, int]:  # noqa: ANN001 - a Database
    """Insert the volume cases; return {pseudonym: case id}."""
    volume = load_nifti(mricron / "ch2.nii.gz")
    folder.mkdir(parents=True, exist_ok=True)
    ids = {}
    with db.session(write=True) as session:
        dataset = get_or_create_dataset(session, name, "nifti")
        for number, (pseudonym, tumour_type, centre) in enumerate(cases):
            case = get_or_create_case(session, dataset, pseudonym, tumour_type=tumour_type,
                                      source="16")
            series = add_series(session, case, volume, modality="T1")
            ids[pseudonym] = case.id
            if centre is None:
                continue
            labels = lesion_labels(volume.data.shape, centre, seed=number)
            path = folder / f"{pseudonym}_seg.nii.gz"
            nib.save(nib.Nifti1Image(labels, volume.affine), path)
            mask = Mask(case_id=case.id, reference_series_id=series.id, kind="label-map",
                        file_format="nifti", source_path=str(path),
                        content_sha256=sha256_file(path), shape=list(labels.shape),
                        label_names={"1": "necrotic core", "2": "oedema", "4": "enhancing tumour"},
                        is_synthetic=True)
            session.add(mask)
            _mark_mask_slices(session, series, labels)
        dataset_id = dataset.id
    compute_dataset(db, dataset_id)
    return ids


def _mark_mask_slices(session, series, labels: np.ndarray) -> None:  # noqa: ANN001
    """Set ``has_mask`` on the axial slices that contain a label, as the importer does."""
    other_axes = tuple(axis for axis in range(3) if axis != series.slice_axis)
    indices = np.flatnonzero(labels.any(axis=other_axes)).tolist()
    for row in session.query(Slice).filter(Slice.series_id == series.id,
                                           Slice.index.in_(indices)):
        row.has_mask = True


def draw_mask(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Draw a lesion mask (0/255): an ellipse, sometimes with satellites or a star outline."""
    mask = np.zeros(shape, dtype=np.uint8)
    height, width = shape
    centre = (int(rng.integers(30, width - 30)), int(rng.integers(30, height - 30)))
    kind = int(rng.integers(0, 3))
    if kind == 0:
        axes = (int(rng.integers(4, 30)), int(rng.integers(4, 30)))
        cv2.ellipse(mask, centre, axes, float(rng.uniform(0, 180)), 0, 360, 255, -1)
    elif kind == 1:
        cv2.ellipse(mask, centre, (int(rng.integers(8, 25)),) * 2, 0, 0, 360, 255, -1)
        for _ in range(int(rng.integers(1, 4))):
            satellite = (int(rng.integers(10, width - 10)), int(rng.integers(10, height - 10)))
            cv2.circle(mask, satellite, int(rng.integers(2, 5)), 255, -1)
    else:
        angles = np.linspace(0, 2 * np.pi, 14, endpoint=False)
        radius = np.where(np.arange(14) % 2 == 0, rng.uniform(15, 28), rng.uniform(5, 10))
        points = np.stack([centre[0] + radius * np.cos(angles),
                           centre[1] + radius * np.sin(angles)], axis=1).astype(np.int32)
        cv2.fillPoly(mask, [points], 255)
    return mask


def build_mm_tree(db, root: Path, mricron: Path, counts: dict[str, int], name: str = "mm2d",
                  seed: int = 3) -> dict[str, int]:  # noqa: ANN001 - a Database
    """Write an MM-NeuroOnco-layout tree of ch2 slices and insert it; return {path: case id}.

    ``counts`` gives the number of images per class; every class but "healthy" gets a
    drawn mask per image.
    """
    rng = np.random.default_rng(seed)
    volume = np.asarray(nib.load(mricron / "ch2.nii.gz").dataobj)
    ids = {}
    with db.session(write=True) as session:
        dataset = get_or_create_dataset(session, name, "mm-neuroonco-2d", data_root=str(root))
        number = 0
        for tumour_class, count in counts.items():
            healthy = tumour_class == "healthy"
            folder = f"{tumour_class}/05_t1" if healthy else f"{tumour_class}/10_t1_mask"
            (root / folder).mkdir(parents=True, exist_ok=True)
            for _ in range(count):
                number += 1
                image = np.ascontiguousarray(np.rot90(volume[:, :, 40 + number % 100]))
                relative = f"{folder}/{number}.png"
                cv2.imwrite(str(root / relative), image)
                case = get_or_create_case(session, dataset, f"mm-{number}",
                                          tumour_type=tumour_class,
                                          source="05" if healthy else "10")
                series = add_series(session, case, load_image(root / relative), modality="T1",
                                    image_path=relative)
                ids[relative] = case.id
                if not healthy:
                    _add_image_mask(session, case, series, root, relative,
                                    draw_mask(image.shape, rng))
        dataset_id = dataset.id
    compute_dataset(db, dataset_id)
    return ids


def _add_image_mask(session, case, series, root: Path, relative: str,  # noqa: ANN001
                    mask: np.ndarray) -> None:
    path = root / relative.replace(".png", "_mask.png")
    cv2.imwrite(str(path), mask)
    session.add(Mask(case_id=case.id, reference_series_id=series.id, kind="binary-image",
                     file_format="png", source_path=str(path), content_sha256=sha256_file(path),
                     shape=list(mask.shape)))
    slice_row = session.query(Slice).filter_by(series_id=series.id).one()
    slice_row.has_mask = True
