"""Regions, per-slice semantics and volume summaries of a synthetic BraTS-style label map
placed in the grid of the Colin27 template (181 x 217 x 181, 1 mm, RAS)."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from engine.errors import InvalidInputError
from engine.semantics.rules import mask_semantics
from engine.semantics.volume import (BRATS_123, BRATS_124, BRATS_WITHOUT_ENHANCING, ET, TC,
                                     WHOLE_TUMOUR_ONLY, WT, axial_slice_count, detect_convention,
                                     display_slice_foreground, region_masks, region_summaries,
                                     slice_semantics)

# Boxes as (first, last) voxel index per RAS array axis, inclusive.
OEDEMA_BOX = ((130, 169), (170, 199), (70, 89))      # 40 x 30 x 20 = 24,000 voxels
ENHANCING_BOX = ((140, 159), (175, 194), (75, 84))   # 20 x 20 x 10 = 4,000
NECROSIS_BOX = ((145, 154), (180, 189), (78, 81))    # 10 x 10 x 4 = 400
EXTRA_OEDEMA = ((100, 109), (170, 174), (85, 85))    # 10 x 5 x 1 = 50, a satellite on slice 85


def fill(labels: np.ndarray, box, value: int) -> None:
    (x0, x1), (y0, y1), (z0, z1) = box
    labels[x0:x1 + 1, y0:y1 + 1, z0:z1 + 1] = value


def brats_map(shape, enhancing_label: int = 4) -> np.ndarray:
    labels = np.zeros(shape, np.uint8)
    fill(labels, OEDEMA_BOX, 2)
    fill(labels, EXTRA_OEDEMA, 2)
    fill(labels, ENHANCING_BOX, enhancing_label)
    fill(labels, NECROSIS_BOX, 1)
    return labels


@pytest.fixture
def ch2(mricron):
    image = nib.load(mricron / "ch2.nii.gz")
    assert nib.aff2axcodes(image.affine) == ("R", "A", "S")
    return image.shape, image.affine


def test_known_voxel_counts(ch2):
    shape, affine = ch2
    labels = brats_map(shape)

    summaries = region_summaries(labels, affine)

    assert list(summaries) == [WT, TC, ET]
    assert summaries[WT].voxel_count == 24_050
    assert summaries[TC].voxel_count == 4_000
    assert summaries[ET].voxel_count == 3_600
    assert summaries[WT].volume_ml == pytest.approx(24.05)
    assert summaries[TC].volume_ml == pytest.approx(4.0)
    assert summaries[ET].volume_ml == pytest.approx(3.6)


def test_slices_with_lesion_and_largest_slice(ch2):
    shape, affine = ch2

    summaries = region_summaries(brats_map(shape), affine)

    assert summaries[WT].slices_with_lesion == 20
    assert summaries[TC].slices_with_lesion == 10
    assert summaries[ET].slices_with_lesion == 10
    # The extra oedema makes slice 85 the largest: 40 x 30 + 50 voxels.
    assert summaries[WT].largest_slice_index == 85
    assert summaries[WT].largest_slice_area_px == 1_250
    # TC has 400 voxels on each of its slices: a tie, so the first slice counts.
    assert summaries[TC].largest_slice_index == 75
    assert summaries[TC].largest_slice_area_px == 400
    # ET loses the 10 x 10 necrotic core on slices 78 to 81.
    assert summaries[ET].largest_slice_index == 75
    assert summaries[ET].largest_slice_area_px == 400


def test_volume_from_voxel_spacing(ch2):
    shape, affine = ch2
    scaled = affine @ np.diag([2.0, 1.0, 1.5, 1.0])

    summaries = region_summaries(brats_map(shape), scaled)

    assert summaries[WT].volume_ml == pytest.approx(24_050 * 3.0 / 1000)
    assert summaries[ET].volume_ml == pytest.approx(3_600 * 3.0 / 1000)


def test_brats_123_convention_gives_same_regions(ch2):
    shape, affine = ch2
    with_4 = brats_map(shape, enhancing_label=4)
    with_3 = brats_map(shape, enhancing_label=3)

    assert detect_convention(with_4) == BRATS_124
    assert detect_convention(with_3) == BRATS_123
    assert region_summaries(with_3, affine) == region_summaries(with_4, affine)


@pytest.mark.parametrize("values, convention, regions", [
    ({1, 2, 4}, BRATS_124, [WT, TC, ET]),
    ({2, 4}, BRATS_124, [WT, TC, ET]),
    ({4}, BRATS_124, [WT, TC, ET]),
    ({1, 2, 3}, BRATS_123, [WT, TC, ET]),
    ({1, 2}, BRATS_WITHOUT_ENHANCING, [WT, TC, ET]),
    ({1}, WHOLE_TUMOUR_ONLY, [WT]),
    ({2}, WHOLE_TUMOUR_ONLY, [WT]),
    ({255}, WHOLE_TUMOUR_ONLY, [WT]),
    ({1, 3, 4}, WHOLE_TUMOUR_ONLY, [WT]),
    ({1, 2, 5}, WHOLE_TUMOUR_ONLY, [WT]),
    (set(), WHOLE_TUMOUR_ONLY, [WT]),
])
def test_convention_detection(values, convention, regions):
    labels = np.zeros((4, 4, len(values) + 1), np.int16)
    for index, value in enumerate(sorted(values)):
        labels[1, 1, index] = value

    assert detect_convention(labels) == convention
    assert list(region_masks(labels)) == regions


def test_regions_without_enhancing_tumour():
    labels = np.zeros((6, 6, 2), np.uint8)
    labels[1:3, 1:3, 0] = 1
    labels[3:5, 3:5, 1] = 2

    masks = region_masks(labels)

    assert int(masks[WT].sum()) == 8
    assert int(masks[TC].sum()) == 4
    assert int(masks[ET].sum()) == 0


def test_explicit_convention_overrides_detection():
    labels = np.zeros((6, 6, 2), np.uint8)
    labels[1:3, 1:3, 0] = 1
    labels[3:5, 3:5, 1] = 4

    masks = region_masks(labels, convention=BRATS_123)

    assert int(masks[TC].sum()) == 4
    assert int(masks[ET].sum()) == 0
    with pytest.raises(InvalidInputError, match="brats-1/2/4"):
        region_masks(labels, convention="brats")


def test_per_slice_semantics_in_display_frame(ch2):
    shape, affine = ch2
    labels = brats_map(shape)

    per_slice = slice_semantics(labels, affine)

    assert list(per_slice) == [WT, TC, ET]
    assert all(len(results) == shape[2] for results in per_slice.values())
    lesion_slices = [index for index, result in enumerate(per_slice[WT]) if result is not None]
    assert lesion_slices == list(range(70, 90))
    # The boxes lie in the patient's right and anterior, which a radiological display puts
    # on the left and at the top.
    assert {per_slice[WT][index].location for index in range(70, 85)} == {"Upper-Left Region"}
    assert per_slice[ET][78].components == 1
    assert per_slice[ET][78].area_px == 300
    assert per_slice[TC][78].shape == "Round/Oval"
    assert per_slice[WT][85].components == 2
    assert per_slice[WT][85].spread == "Dominant Core with Satellites"
    assert per_slice[WT][85].dominant_fraction == 1200 / 1250


def test_per_slice_semantics_match_display_slices(ch2):
    shape, affine = ch2
    labels = brats_map(shape)

    per_slice = slice_semantics(labels, affine)

    for index in range(shape[2]):
        # RAS axial slice as displayed: anterior at the top, the patient's right on the left.
        displayed = (labels[:, :, index] > 0).T[::-1, ::-1]
        assert per_slice[WT][index] == mask_semantics(displayed), f"slice {index}"


def test_orientation_of_storage_does_not_matter(ch2):
    shape, affine = ch2
    labels = brats_map(shape)
    # The same volume stored LAS: the first array axis reversed, the affine compensating.
    flip_x = np.array([[-1, 0, 0, shape[0] - 1], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1.0]])
    flipped = labels[::-1, :, :]
    # And stored with the axial axis first (S, R, A order).
    permute = np.array([[0, 1, 0, 0], [0, 0, 1, 0], [1, 0, 0, 0], [0, 0, 0, 1.0]])
    permuted = np.transpose(labels, (2, 0, 1))

    reference = slice_semantics(labels, affine)

    assert nib.aff2axcodes(affine @ flip_x) == ("L", "A", "S")
    assert slice_semantics(flipped, affine @ flip_x) == reference
    assert axial_slice_count(permuted, affine @ permute) == shape[2]
    assert slice_semantics(permuted, affine @ permute) == reference
    assert region_summaries(permuted, affine @ permute) == region_summaries(labels, affine)


def test_display_slice_foreground(ch2):
    shape, affine = ch2
    labels = brats_map(shape)

    foreground = display_slice_foreground(labels, affine, 80)

    assert foreground.dtype == bool
    assert foreground.shape == (shape[1], shape[0])
    assert int(foreground.sum()) == 1_200
    assert np.array_equal(foreground, (labels[:, :, 80] > 0).T[::-1, ::-1])


@pytest.mark.parametrize("index", [-1, 181, 1000])
def test_slice_index_out_of_range(ch2, index):
    shape, affine = ch2

    with pytest.raises(InvalidInputError, match=f"slice {index} is out of range.*0 to 180"):
        display_slice_foreground(brats_map(shape), affine, index)


def test_empty_label_map(ch2):
    shape, affine = ch2
    labels = np.zeros(shape, np.uint8)

    summaries = region_summaries(labels, affine)
    per_slice = slice_semantics(labels, affine)

    assert list(summaries) == [WT]
    assert summaries[WT].voxel_count == 0
    assert summaries[WT].volume_ml == 0.0
    assert summaries[WT].slices_with_lesion == 0
    assert summaries[WT].largest_slice_index is None
    assert summaries[WT].largest_slice_area_px == 0
    assert per_slice[WT] == [None] * shape[2]


def test_float_labels_with_integer_values_accepted():
    labels = np.zeros((6, 6, 3), np.float32)
    labels[2, 2, 1] = 4.0
    labels[3, 3, 1] = 1.0

    summaries = region_summaries(labels, np.eye(4))

    assert summaries[ET].voxel_count == 1
    assert summaries[TC].voxel_count == 2


@pytest.mark.parametrize("labels, message", [
    (np.zeros((4, 4), np.uint8), "must be 3D"),
    (np.zeros((4, 4, 4, 2), np.uint8), "must be 3D"),
    (np.full((4, 4, 4), 0.5, np.float32), "integer labels"),
    (np.full((4, 4, 4), np.nan, np.float32), "integer labels"),
    (np.zeros((4, 4, 4), complex), "integer labels"),
])
def test_invalid_label_maps_rejected(labels, message):
    with pytest.raises(InvalidInputError, match=message):
        region_summaries(labels, np.eye(4))


@pytest.mark.parametrize("affine, message", [
    (np.diag([1.0, 1.0, 0.0, 1.0]), "singular"),
    (np.full((4, 4), np.nan), "finite 4x4"),
    (np.eye(3), "finite 4x4"),
])
def test_invalid_affines_rejected(affine, message):
    labels = np.zeros((4, 4, 4), np.uint8)

    with pytest.raises(InvalidInputError, match=message):
        slice_semantics(labels, affine)
