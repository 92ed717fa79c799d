"""Mask semantics of real anatomical masks: AAL atlas regions on axial slices of the Colin27
grid, compared with a straightforward implementation of the published rules written here."""

from __future__ import annotations

import functools
import math
from pathlib import Path

import cv2
import nibabel as nib
import numpy as np
import pytest

from engine.semantics.rules import mask_semantics
from engine.semantics.volume import WHOLE_TUMOUR_ONLY, WT, detect_convention, slice_semantics


@functools.lru_cache(maxsize=1)
def load_aal(templates: Path) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    image = nib.load(templates / "aal.nii.gz")
    names = {}
    for line in (templates / "aal.nii.txt").read_text().splitlines():
        if not line.strip():
            continue
        number, name, *_ = line.split()
        names[name] = int(number)
    return np.asanyarray(image.dataobj), image.affine, names


@pytest.fixture
def aal(mricron):
    labels, affine, names = load_aal(mricron)
    assert nib.aff2axcodes(affine) == ("R", "A", "S")
    return labels, affine, names


def radiological_axial(volume: np.ndarray, index: int) -> np.ndarray:
    """Axial slice ``index`` of a RAS volume as a radiologist views it.

    The rows of ``plane.T`` run from posterior to anterior and its columns from the
    patient's left to right. The display puts anterior at the top and the patient's right
    on the left, so both are reversed.
    """
    plane = volume[:, :, index]
    return plane.T[::-1, ::-1]


def reference_semantics(mask: np.ndarray) -> dict | None:
    """The published rules, step by step, on a uint8 mask."""
    _, binary = cv2.threshold(mask, 127, 255, cv2.THRESH_BINARY)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    if count == 1:
        return None
    height, width = binary.shape
    areas = stats[1:, cv2.CC_STAT_AREA]
    total = int(areas.sum())
    largest = 1 + int(np.argmax(areas))
    largest_area = int(areas[largest - 1])

    component = np.where(labels == largest, 255, 0).astype(np.uint8)
    contours, _ = cv2.findContours(component, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    perimeter = cv2.arcLength(contours[0], True)
    circularity = 4 * math.pi * largest_area / perimeter**2 if perimeter > 0 else 0.0
    elongation = 1.0
    if len(contours[0]) >= 5:
        # Degenerate point sets, which OpenCV perturbs at random, count as no fit.
        cv2.setRNGSeed(101)
        fit = cv2.fitEllipse(contours[0])
        cv2.setRNGSeed(202)
        if fit == cv2.fitEllipse(contours[0]) and min(fit[1]) > 0:
            elongation = max(fit[1]) / min(fit[1])

    moments = cv2.moments(binary, binaryImage=True)
    x, y = moments["m10"] / moments["m00"], moments["m01"] / moments["m00"]
    ratio = total / (height * width)
    fraction = largest_area / total

    if ratio < 0.01:
        size = "Small/Focal"
    elif ratio < 0.05:
        size = "Medium"
    else:
        size = "Large/Extensive"

    if circularity < 0.5:
        shape = "Irregular/Spiculated"
    elif circularity >= 0.8 and elongation <= 1.5:
        shape = "Round/Oval"
    else:
        shape = "Lobulated"

    if count == 2:
        spread = "Solitary Lesion"
    elif fraction >= 0.7:
        spread = "Dominant Core with Satellites"
    else:
        spread = "Scattered/Multifocal"

    column = ("Left", "Center", "Right")[int(x >= width / 3) + int(x >= 2 * width / 3)]
    row = ("Upper", "Center", "Lower")[int(y >= height / 3) + int(y >= 2 * height / 3)]
    if row == column == "Center":
        location = "Center of the Image"
    else:
        location = f"{row}-{column} Region"

    return {
        "size": size,
        "shape": shape,
        "spread": spread,
        "location": location,
        "area_ratio": ratio,
        "circularity": circularity,
        "elongation": elongation,
        "components": count - 1,
        "dominant_fraction": fraction,
        "centroid": [x, y],
    }


def engine_json(mask: np.ndarray) -> dict | None:
    result = mask_semantics(mask)
    return None if result is None else result.to_json()


def region_mask(labels: np.ndarray, numbers) -> np.ndarray:
    return np.where(np.isin(labels, list(numbers)), 255, 0).astype(np.uint8)


def slices_with(mask: np.ndarray, step: int = 1) -> list[int]:
    present = np.flatnonzero(mask.any(axis=(0, 1)))
    return [int(index) for index in present[::step]]


def assert_matches_reference(volume: np.ndarray, indices: list[int]) -> None:
    for index in indices:
        plane = np.ascontiguousarray(radiological_axial(volume, index))
        assert engine_json(plane) == reference_semantics(plane), f"axial slice {index}"


def test_hippocampus_numbers_match_names(aal):
    _, _, names = aal

    assert names["Hippocampus_L"] == 37
    assert names["Hippocampus_R"] == 38


def test_hippocampi_every_slice(aal):
    labels, _, _ = aal
    volume = region_mask(labels, (37, 38))
    indices = slices_with(volume)

    assert len(indices) > 30
    assert_matches_reference(volume, indices)
    # The two hippocampi are separate components of similar size.
    spreads = {engine_json(np.ascontiguousarray(radiological_axial(volume, index)))["spread"]
               for index in indices}
    assert spreads == {"Scattered/Multifocal"}


def test_left_hippocampus_alone(aal):
    labels, _, _ = aal
    volume = region_mask(labels, (37,))

    assert_matches_reference(volume, slices_with(volume))


def test_frontal_lobe_slices(aal):
    labels, _, names = aal
    frontal = [number for name, number in names.items() if name.startswith("Frontal_")]
    volume = region_mask(labels, frontal)

    assert len(frontal) == 18
    assert_matches_reference(volume, slices_with(volume, step=3))


def test_deep_grey_regions_together(aal):
    labels, _, names = aal
    parts = ("Hippocampus", "Amygdala", "Thalamus", "Caudate", "Putamen", "Pallidum")
    numbers = [names[f"{part}_{side}"] for part in parts for side in "LR"]
    volume = region_mask(labels, numbers)

    assert_matches_reference(volume, slices_with(volume, step=2))


def test_whole_atlas_slices(aal):
    labels, _, _ = aal
    volume = np.where(labels > 0, 255, 0).astype(np.uint8)

    assert_matches_reference(volume, slices_with(volume, step=4))


def test_every_region_on_its_largest_slice(aal):
    labels, _, names = aal
    # Voxels of each label on each axial slice, one row per slice.
    counts = np.stack([np.bincount(labels[:, :, index].ravel(), minlength=len(names) + 1)
                       for index in range(labels.shape[2])])
    spreads = set()
    for name, number in names.items():
        largest = int(np.argmax(counts[:, number]))
        plane = np.where(radiological_axial(labels, largest) == number, 255, 0).astype(np.uint8)

        expected = reference_semantics(plane)

        assert engine_json(plane) == expected, name
        spreads.add(expected["spread"])
    assert len(names) == 116
    assert spreads >= {"Solitary Lesion", "Dominant Core with Satellites"}


def test_temporal_lobes_in_radiological_frame(aal):
    labels, _, names = aal
    left = region_mask(labels, [n for name, n in names.items()
                                if name.startswith("Temporal_") and name.endswith("_L")])
    right = region_mask(labels, [n for name, n in names.items()
                                 if name.startswith("Temporal_") and name.endswith("_R")])
    index = 60  # 11 mm below the AC-PC plane, through both temporal lobes

    left_result = mask_semantics(np.ascontiguousarray(radiological_axial(left, index)))
    right_result = mask_semantics(np.ascontiguousarray(radiological_axial(right, index)))

    # The patient's left is on the right of a radiological display.
    assert left_result.location == "Center-Right Region"
    assert right_result.location == "Center-Left Region"


def test_frontal_lobe_at_top_of_display(aal):
    labels, _, names = aal
    frontal = region_mask(labels, [n for name, n in names.items() if name.startswith("Frontal_")])

    result = mask_semantics(np.ascontiguousarray(radiological_axial(frontal, 100)))

    assert result.location == "Upper-Center Region"


def test_volume_slices_match_reference(aal):
    labels, affine, _ = aal
    hippocampi = np.where(np.isin(labels, (37, 38)), 1, 0).astype(np.int16)
    display = region_mask(labels, (37, 38))

    per_slice = slice_semantics(hippocampi, affine)

    assert detect_convention(hippocampi) == WHOLE_TUMOUR_ONLY
    assert list(per_slice) == [WT]
    assert len(per_slice[WT]) == labels.shape[2]
    for index, result in enumerate(per_slice[WT]):
        plane = np.ascontiguousarray(radiological_axial(display, index))
        expected = reference_semantics(plane)
        assert (None if result is None else result.to_json()) == expected, f"slice {index}"
