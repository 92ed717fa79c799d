"""Mask semantics of drawn shapes, with expectations worked out by hand from the rules."""

from __future__ import annotations

import json
import math
from dataclasses import FrozenInstanceError

import cv2
import numpy as np
import pytest

from engine.errors import InvalidInputError
from engine.semantics.rules import (JSON_KEYS, LOCATION_LABELS, location_label, mask_semantics,
                                    shape_label, size_label, spread_label)

SIDE = 240


def blank(height: int = SIDE, width: int = SIDE) -> np.ndarray:
    return np.zeros((height, width), np.uint8)


def with_rectangles(*boxes: tuple[int, int, int, int], height: int = SIDE,
                    width: int = SIDE) -> np.ndarray:
    """Return a mask with filled rectangles given as (row, column, rows, columns)."""
    mask = blank(height, width)
    for row, column, rows, columns in boxes:
        mask[row:row + rows, column:column + columns] = 255
    return mask


def star(spikes: int, outer: float, inner: float, center=(120, 120)) -> np.ndarray:
    angles = np.linspace(0, 2 * math.pi, 2 * spikes, endpoint=False)
    radii = np.where(np.arange(2 * spikes) % 2 == 0, outer, inner)
    points = np.stack([center[0] + radii * np.cos(angles), center[1] + radii * np.sin(angles)], 1)
    mask = blank()
    cv2.fillPoly(mask, [np.round(points).astype(np.int32)], 255)
    return mask


def test_disc_is_round_solitary_central():
    mask = blank()
    cv2.circle(mask, (120, 120), 20, 255, -1)

    result = mask_semantics(mask)

    assert result.shape == "Round/Oval"
    assert result.spread == "Solitary Lesion"
    assert result.location == "Center of the Image"
    # pi * 20^2 = 1257 pixels, 2.2 % of 240 x 240.
    assert result.size == "Medium"
    assert result.area_px == pytest.approx(math.pi * 20**2, rel=0.03)
    assert result.area_px == int(np.count_nonzero(mask))
    assert result.area_ratio == result.area_px / SIDE**2
    assert 0.8 <= result.circularity <= 1.1
    assert result.elongation == pytest.approx(1.0, abs=0.03)
    assert result.components == 1
    assert result.dominant_fraction == 1.0
    # The disc is symmetric about its centre pixel.
    assert result.centroid == (120.0, 120.0)


def test_elongated_ellipse_is_lobulated():
    mask = blank()
    cv2.ellipse(mask, (120, 120), (45, 15), 30, 0, 360, 255, -1)

    result = mask_semantics(mask)

    assert result.elongation == pytest.approx(3.0, rel=0.02)
    # Ramanujan's perimeter of a 45 x 15 semi-axis ellipse is 200.5, so 4 pi A / P^2 = 0.663
    # for the true ellipse; the pixel staircase lengthens the traced perimeter a little.
    assert result.circularity == pytest.approx(0.663, rel=0.1)
    assert result.shape == "Lobulated"
    assert result.size == "Medium"  # pi * 45 * 15 = 2121 pixels, 3.7 %
    assert result.location == "Center of the Image"
    assert result.centroid[0] == pytest.approx(120.0, abs=0.1)
    assert result.centroid[1] == pytest.approx(120.0, abs=0.1)


def test_spiculated_star_is_irregular():
    result = mask_semantics(star(spikes=8, outer=60, inner=12))

    assert result.circularity < 0.5
    assert result.shape == "Irregular/Spiculated"
    assert result.spread == "Solitary Lesion"
    assert result.location == "Center of the Image"


def test_single_pixel():
    mask = blank()
    mask[10, 200] = 255

    result = mask_semantics(mask)

    assert result.area_px == 1
    assert result.area_ratio == 1 / SIDE**2
    assert result.size == "Small/Focal"
    # A one-point contour has perimeter 0, which the rules map to circularity 0.
    assert result.circularity == 0.0
    assert result.shape == "Irregular/Spiculated"
    assert result.elongation == 1.0
    assert result.components == 1
    assert result.centroid == (200.0, 10.0)
    assert result.location == "Upper-Right Region"


def test_horizontal_thin_line():
    mask = blank()
    mask[200, 20:120] = 255

    result = mask_semantics(mask)

    # The contour is the two end points, traced there and back: P = 2 * 99.
    assert result.circularity == pytest.approx(4 * math.pi * 100 / 198**2)
    assert result.shape == "Irregular/Spiculated"
    assert result.elongation == 1.0  # two contour points: no ellipse fit
    assert result.area_px == 100
    assert result.centroid == (69.5, 200.0)
    assert result.location == "Lower-Left Region"


def test_sloped_thin_line_is_very_elongated():
    mask = blank()
    cv2.line(mask, (10, 10), (200, 100), 255, 1)
    contour = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)[0][0]
    axes = cv2.fitEllipse(contour)[1]

    results = [mask_semantics(mask) for _ in range(3)]

    # The contour polygon of a one-pixel line has almost no width, so the fitted minor axis
    # is tiny and the ratio is large, but the fit is an ordinary one and is kept.
    assert results[0].elongation == max(axes) / min(axes)
    assert results[0].elongation > 100
    assert results[0].circularity < 0.05
    assert results[0].shape == "Irregular/Spiculated"
    assert results[0] == results[1] == results[2]


def test_thin_cross_has_no_ellipse_fit():
    mask = blank()
    mask[100, 80:121] = 255
    mask[80:121, 100] = 255
    contour = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)[0][0]
    cv2.setRNGSeed(1)
    first_fit = cv2.fitEllipse(contour)
    cv2.setRNGSeed(2)
    second_fit = cv2.fitEllipse(contour)

    results = [mask_semantics(mask) for _ in range(3)]

    assert len(contour) >= 5
    # The contour lies on two lines through its centroid, a degenerate conic, so OpenCV
    # perturbs the points at random and the raw fit depends on the seed.
    assert first_fit != second_fit
    assert [result.elongation for result in results] == [1.0, 1.0, 1.0]
    assert results[0].components == 1
    assert results[0].centroid == (100.0, 100.0)
    assert results[0].shape == "Irregular/Spiculated"


def test_small_square_circularity_above_one():
    # The contour of a 2 x 2 square joins the four pixel centres: P = 4 for A = 4 pixels.
    result = mask_semantics(with_rectangles((50, 50, 2, 2)))

    assert result.circularity == pytest.approx(math.pi)
    assert result.elongation == 1.0
    assert result.shape == "Round/Oval"


@pytest.mark.parametrize("boxes, components, fraction, spread", [
    ([(20, 20, 20, 20)], 1, 1.0, "Solitary Lesion"),
    ([(20, 20, 20, 20), (200, 200, 5, 5)], 2, 400 / 425, "Dominant Core with Satellites"),
    ([(20, 20, 20, 20), (200, 200, 5, 5), (100, 200, 5, 5)], 3, 400 / 450,
     "Dominant Core with Satellites"),
    ([(20, 20, 10, 10), (200, 200, 10, 10)], 2, 0.5, "Scattered/Multifocal"),
    ([(20, 20, 10, 10), (200, 200, 10, 10), (100, 100, 10, 10)], 3, 1 / 3,
     "Scattered/Multifocal"),
    ([(20, 20, 20, 20), (100, 100, 10, 15)], 2, 400 / 550, "Dominant Core with Satellites"),
    ([(20, 20, 20, 20), (100, 100, 10, 20)], 2, 400 / 600, "Scattered/Multifocal"),
])
def test_spread_classes(boxes, components, fraction, spread):
    result = mask_semantics(with_rectangles(*boxes))

    assert result.components == components
    assert result.dominant_fraction == fraction
    assert result.spread == spread


def test_diagonal_neighbours_are_one_component():
    mask = blank()
    mask[50, 50] = mask[51, 51] = mask[52, 52] = 255

    result = mask_semantics(mask)

    assert result.components == 1
    assert result.spread == "Solitary Lesion"


def test_dominant_fraction_exactly_at_threshold():
    at_threshold = mask_semantics(with_rectangles((10, 10, 7, 10), (100, 100, 3, 10)))
    below = mask_semantics(with_rectangles((10, 10, 3, 23), (100, 100, 31, 1)))

    assert at_threshold.dominant_fraction == 0.7
    assert at_threshold.spread == "Dominant Core with Satellites"
    assert below.dominant_fraction == 0.69
    assert below.spread == "Scattered/Multifocal"


@pytest.mark.parametrize("boxes, size", [
    ([(0, 0, 9, 11)], "Small/Focal"),              # 99 of 10,000 pixels
    ([(0, 0, 10, 10)], "Medium"),                  # exactly 0.01
    ([(0, 0, 10, 50), (90, 90, 1, 1)], "Large/Extensive"),   # 501
    ([(0, 0, 10, 49), (20, 0, 1, 9)], "Medium"),   # 499
    ([(0, 0, 10, 50)], "Large/Extensive"),         # exactly 0.05
])
def test_size_thresholds_exactly(boxes, size):
    result = mask_semantics(with_rectangles(*boxes, height=100, width=100))

    assert result.size == size


@pytest.mark.parametrize("row_cell, row_name", [(0, "Upper"), (1, "Center"), (2, "Lower")])
@pytest.mark.parametrize("column_cell, column_name", [(0, "Left"), (1, "Center"), (2, "Right")])
def test_centroid_in_each_cell(row_cell, row_name, column_cell, column_name):
    # 60 rows by 90 columns, so rows and columns have different thirds (20 and 30 pixels).
    row, column = 20 * row_cell + 9, 30 * column_cell + 14
    mask = with_rectangles((row, column, 3, 3), height=60, width=90)
    expected = ("Center of the Image" if row_name == column_name == "Center"
                else f"{row_name}-{column_name} Region")

    result = mask_semantics(mask)

    assert result.centroid == (column + 1.0, row + 1.0)
    assert result.location == expected
    assert expected in LOCATION_LABELS


@pytest.mark.parametrize("column, expected", [
    (9, "Upper-Left Region"), (10, "Upper-Center Region"),
    (19, "Upper-Center Region"), (20, "Upper-Right Region"),
])
def test_centroid_exactly_on_column_thirds(column, expected):
    mask = blank(30, 30)
    mask[0, column] = 255

    assert mask_semantics(mask).location == expected


@pytest.mark.parametrize("row, expected", [
    (9, "Upper-Left Region"), (10, "Center-Left Region"),
    (19, "Center-Left Region"), (20, "Lower-Left Region"),
])
def test_centroid_exactly_on_row_thirds(row, expected):
    mask = blank(30, 30)
    mask[row, 0] = 255

    assert mask_semantics(mask).location == expected


def test_centroid_of_whole_mask_not_largest_component():
    mask = with_rectangles((10, 10, 10, 10), (10, 200, 10, 10), height=100, width=240)

    result = mask_semantics(mask)

    assert result.centroid == (109.5, 14.5)
    assert result.location == "Upper-Center Region"


def test_shape_label_thresholds():
    assert shape_label(0.4999, 1.0) == "Irregular/Spiculated"
    assert shape_label(0.5, 1.0) == "Lobulated"
    assert shape_label(0.7999, 1.0) == "Lobulated"
    assert shape_label(0.8, 1.0) == "Round/Oval"
    assert shape_label(0.8, 1.5) == "Round/Oval"
    assert shape_label(0.8, 1.5001) == "Lobulated"
    assert shape_label(2.0, 10.0) == "Lobulated"


def test_size_spread_location_label_thresholds():
    assert size_label(0.0099) == "Small/Focal"
    assert size_label(0.01) == "Medium"
    assert size_label(0.05) == "Large/Extensive"
    assert spread_label(1, 0.2) == "Solitary Lesion"
    assert spread_label(2, 0.7) == "Dominant Core with Satellites"
    assert spread_label(2, 0.6999) == "Scattered/Multifocal"
    assert location_label(100.0, 100.0, 300, 300) == "Center of the Image"
    assert location_label(99.99, 100.0, 300, 300) == "Center-Left Region"
    assert location_label(200.0, 199.99, 300, 300) == "Center-Right Region"


def test_largest_component_tie_takes_first_in_raster_order():
    bar_first = mask_semantics(with_rectangles((10, 10, 2, 50), (100, 100, 10, 10)))
    square_first = mask_semantics(with_rectangles((100, 10, 2, 50), (10, 100, 10, 10)))

    # The 2 x 50 bar: P = 2 * (49 + 1), circularity 4 pi 100 / 100^2.
    assert bar_first.circularity == pytest.approx(4 * math.pi * 100 / 100**2)
    assert bar_first.shape == "Irregular/Spiculated"
    # The 10 x 10 square: P = 4 * 9.
    assert square_first.circularity == pytest.approx(4 * math.pi * 100 / 36**2)
    assert square_first.shape == "Round/Oval"


def test_binarised_above_127():
    mask = np.full((20, 20), 127, np.uint8)
    assert mask_semantics(mask) is None

    mask[5, 5] = 128
    result = mask_semantics(mask)

    assert result.area_px == 1
    assert result.centroid == (5.0, 5.0)


def test_bool_mask_equals_uint8_mask():
    mask = star(spikes=6, outer=50, inner=20)

    assert mask_semantics(mask > 0) == mask_semantics(mask)


def test_non_contiguous_view_is_accepted():
    mask = star(spikes=6, outer=50, inner=20)
    flipped = mask[::-1, ::-1]

    result = mask_semantics(flipped)

    assert result == mask_semantics(np.ascontiguousarray(flipped))
    assert not flipped.flags.c_contiguous


def test_empty_mask_has_no_semantics():
    assert mask_semantics(blank()) is None
    assert mask_semantics(np.zeros((5, 7), bool)) is None


@pytest.mark.parametrize("array, message", [
    (np.zeros((4, 4, 4), np.uint8), "2D"),
    (np.zeros((0, 4), np.uint8), "2D"),
    (np.zeros((4, 4), np.int16), "int16"),
    (np.zeros((4, 4), np.float32), "float32"),
])
def test_invalid_masks_rejected(array, message):
    with pytest.raises(InvalidInputError, match=message):
        mask_semantics(array)


def test_result_is_frozen_and_json_ready():
    result = mask_semantics(with_rectangles((10, 10, 5, 8)))

    encoded = json.loads(json.dumps(result.to_json()))

    assert tuple(encoded) == JSON_KEYS
    assert encoded["centroid"] == list(result.centroid)
    assert encoded["components"] == 1
    assert result.labels() == {key: encoded[key] for key in ("size", "shape", "spread",
                                                              "location")}
    with pytest.raises(FrozenInstanceError):
        result.size = "Medium"


def rank_deficient(contour: np.ndarray) -> bool:
    """Whether OpenCV's least-squares ellipse system is singular for these points.

    Same design matrix and tolerance as cv::fitEllipse (points centred and scaled so the sum
    of |dx| + |dy| is 100; singular when the smallest singular value is below the largest
    times FLT_EPSILON).
    """
    points = contour.reshape(-1, 2).astype(np.float64)
    centred = points - points.mean(axis=0)
    scale = 100.0 / max(np.abs(centred).sum(), np.finfo(np.float32).eps)
    x, y = centred[:, 0] * scale, centred[:, 1] * scale
    design = np.stack([-x * x, -y * y, -x * y, x, y], axis=1)
    singular = np.linalg.svd(design, compute_uv=False)
    return bool(singular[0] * np.finfo(np.float32).eps > singular[-1])


def test_degenerate_fits_match_singular_systems():
    rng = np.random.default_rng(11)
    checked = degenerate = 0
    for _ in range(6000):
        # Sparse random pixels make thin, branching components, where degenerate sets occur.
        mask = (rng.random(tuple(rng.integers(3, 10, 2))) < 0.4).astype(np.uint8) * 255
        count, _ = cv2.connectedComponents(mask, connectivity=8)
        if count != 2:
            continue
        contour = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)[0][0]
        if len(contour) <= 5:  # five points take a different OpenCV path
            continue
        axes = cv2.fitEllipse(contour)[1]

        elongation = mask_semantics(mask).elongation

        checked += 1
        if rank_deficient(contour):
            degenerate += 1
            assert elongation == 1.0, contour.reshape(-1, 2).tolist()
        elif min(axes) > 0:
            assert elongation == max(axes) / min(axes), contour.reshape(-1, 2).tolist()
        else:
            assert elongation == 1.0, contour.reshape(-1, 2).tolist()
    assert checked > 500
    assert degenerate > 20


def test_largest_component_has_one_external_contour():
    rng = np.random.default_rng(5)
    for _ in range(2000):
        mask = (rng.random(tuple(rng.integers(2, 30, 2))) < rng.uniform(0.2, 0.9))
        mask = mask.astype(np.uint8) * 255
        count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        if count < 2:
            continue
        largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        component = (labels == largest).astype(np.uint8)

        contours, _ = cv2.findContours(component, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)

        assert len(contours) == 1


def test_ring_uses_outer_contour_and_ring_pixels():
    mask = with_rectangles((50, 50, 20, 20))
    mask[55:65, 55:65] = 0

    result = mask_semantics(mask)

    assert result.area_px == 400 - 100
    # Only the outer border counts: P = 4 * 19.
    assert result.circularity == pytest.approx(4 * math.pi * 300 / 76**2)
    assert result.components == 1
