"""Display model without Qt: orientation, screen geometry, readout, label maps and levels."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from engine.display.geometry import plane_axis
from engine.display.labels import DisplayLabelMap, label_color
from engine.display.levels import WindowLevel, dragged, guard, presets
from engine.display.readout import read_out
from engine.display.slice_cache import PrefetchQueue, SliceCache
from engine.display.sources import ImageSliceSource, LabelSliceSource, label_boundaries
from engine.errors import InvalidInputError
from engine.io.volume import NEUROLOGICAL, Volume
from viewer_data import ANATOMICAL, aal_names, flipped, load_aal, load_volume, reordered

STATS = {"min": 0.0, "max": 255.0, "p1": 0.0, "p99": 200.0}


def source(volume, **kwargs):
    return ImageSliceSource(volume, cache=SliceCache(), prefetch_queue=PrefetchQueue(), stats=STATS, **kwargs)


def test_axial_letters_ras_and_las(mricron):
    ras = source(load_volume(mricron / "ch2.nii.gz"))
    las = source(load_volume(ANATOMICAL))
    expected = {"top": "A", "bottom": "P", "left": "R", "right": "L"}
    assert ras.letters == expected
    assert las.letters == expected
    ras.set_view(convention=NEUROLOGICAL)
    assert ras.letters == {"top": "A", "bottom": "P", "left": "L", "right": "R"}


def test_las_and_ras_copies_display_alike():
    las = load_volume(ANATOMICAL)
    ras = flipped(las, 0)
    assert nib.aff2axcodes(ras.affine) == ("R", "A", "S")
    las_source, ras_source = source(las), source(ras)
    for index in (0, 12, 24):
        assert np.array_equal(las_source.slice(index), ras_source.slice(index))


def test_axial_slice_matches_radiological_layout(mricron):
    raw = np.asarray(nib.load(str(mricron / "ch2.nii.gz")).dataobj)
    ch2 = source(load_volume(mricron / "ch2.nii.gz"))
    # RAS: rows run anterior to posterior (j descending), columns patient right to left (i descending).
    expected = raw[:, :, 80].T[::-1, ::-1]
    assert np.array_equal(ch2.slice(80), expected.astype(np.float32))


def test_coronal_acquisition_letters_and_pixels(mricron):
    ch2 = load_volume(mricron / "ch2.nii.gz")
    coronal = reordered(ch2, (0, 2, 1))  # voxel axes x, z, y: slices along A/P
    assert plane_axis(coronal.affine, "coronal") == 2
    view = source(coronal, slice_axis=2)
    assert view.letters == {"top": "S", "bottom": "I", "left": "R", "right": "L"}
    expected = ch2.data[:, 100, :].T[::-1, ::-1]  # superior at the top, patient right on the left
    assert np.array_equal(view.slice(100), expected)
    assert source(coronal).letters["top"] == "A"  # the default slice axis is the axial one


def test_sagittal_acquisition_letters_and_pixels(mricron):
    ch2 = load_volume(mricron / "ch2.nii.gz")
    sagittal = reordered(ch2, (1, 2, 0))  # voxel axes y, z, x: slices along L/R
    assert plane_axis(sagittal.affine, "sagittal") == 2
    view = source(sagittal, slice_axis=2)
    assert view.letters == {"top": "S", "bottom": "I", "left": "A", "right": "P"}
    view.set_view(convention=NEUROLOGICAL)
    assert view.letters["left"] == "A"  # the convention changes axial and coronal views only
    expected = ch2.data[70, :, :].T[::-1, ::-1]  # superior at the top, anterior on the left
    assert np.array_equal(view.slice(70), expected)


def test_next_step_points_superior(mricron):
    ch2 = load_volume(mricron / "ch2.nii.gz")
    assert source(ch2).next_step == 1
    assert source(flipped(ch2, 2)).next_step == -1


def test_geometry_keeps_voxel_aspect():
    volume = load_volume(ANATOMICAL)
    volume.affine = np.diag([-2.0, 3.0, 1.5, 1.0])
    view = source(volume)
    geometry = view.geometry
    assert (geometry.rows, geometry.cols) == (41, 33)
    assert geometry.rect[2:] == (33 * 2.0, 41 * 3.0)
    assert geometry.pixel_area_mm2 == 6.0
    assert view.slice(3).shape == (41, 33)


def test_world_scene_round_trip(mricron):
    view = source(load_volume(mricron / "ch2.nii.gz"))
    geometry = view.geometry
    voxel = geometry.voxel_of_pixel(50, 70, 90)
    world = geometry.world_of_voxel(voxel)
    assert world == (voxel[0] - 90.0, voxel[1] - 125.0, voxel[2] - 71.0)
    row, col, index = geometry.position_of_world(world)
    assert (row, col, index) == pytest.approx((50, 70, 90))
    x, y = geometry.scene_of_world(world)
    assert geometry.pixel_at_scene(x, y) == (50, 70)
    assert geometry.world_of_scene(x, y, 90) == pytest.approx(world)
    # radiological axial: screen x grows towards the patient's left (world x falls)
    assert x == pytest.approx(-world[0])
    assert y == pytest.approx(-world[1])


def test_readout_at_known_pixel(mricron):
    raw = np.asarray(nib.load(str(mricron / "ch2.nii.gz")).dataobj)
    atlas = np.asarray(nib.load(str(mricron / "aal.nii.gz")).dataobj)
    image = source(load_volume(mricron / "ch2.nii.gz"))
    labels = LabelSliceSource.for_image(load_aal(mricron), image)
    row, col, k = 100, 60, 72
    i, j = 180 - col, 216 - row
    readout = read_out(image, labels, row, col, k)
    assert readout.voxel == (i, j, k)
    assert readout.world_mm == (i - 90.0, j - 125.0, k - 71.0)
    assert readout.value == float(raw[i, j, k])
    assert readout.label_value == int(atlas[i, j, k])
    assert readout.label_name == aal_names(mricron)[int(atlas[i, j, k])]
    assert readout.label_name.endswith("_R")  # world x > 0 is the patient's right
    assert f"({i}, {j}, {k})" in readout.text()


def test_readout_of_2d_image_without_geometry():
    data = np.arange(12, dtype=np.float32).reshape(3, 4)
    image = Volume(data=data, affine=np.eye(4), source_path=ANATOMICAL, content_sha256="0" * 64,
                   file_format="png", has_geometry=False)
    view = source(image)
    assert view.letters == {"top": "", "bottom": "", "left": "", "right": ""}
    assert view.slice_count == 1
    readout = read_out(view, None, 2, 1, 0)
    assert readout.voxel == (2, 1)
    assert readout.world_mm is None
    assert readout.value == 9.0
    assert "mm" not in readout.text()


def test_nan_slices_are_flagged():
    volume = load_volume(ANATOMICAL)
    volume.data[10:14, 20:22, 5] = np.nan
    view = source(volume)
    mask = view.nan_mask(5)
    assert mask is not None
    assert int(mask.sum()) == 8
    assert view.nan_mask(6) is None
    voxel = (11, 21, 5)
    row, col, _ = view.geometry.position_of_world(view.geometry.world_of_voxel(voxel))
    assert "value NaN" in read_out(view, None, round(row), round(col), 5).text()


def test_label_map_renumbers_large_values():
    array = np.zeros((4, 5, 3), dtype=np.uint16)
    array[0, 0, 0] = 2001
    array[1, 1, 1] = 2001
    array[2, 2, 2] = 4012
    labels = DisplayLabelMap.from_array(array, np.eye(4), names={"2001": "Precentral_L"})
    assert labels.values.tolist() == [0, 2001, 4012]
    assert labels.indices.dtype == np.uint8
    assert labels.indices[1, 1, 1] == 1
    assert labels.indices[2, 2, 2] == 2
    assert labels.voxel_counts.tolist() == [57, 2, 1]
    assert labels.name_of(2001) == "Precentral_L"
    assert labels.name_of(4012) == "label 4012"


@pytest.mark.parametrize("array, message", [
    (np.array([[0.0, 0.5]], dtype=np.float32), "fractional"),
    (np.array([[0, -1]], dtype=np.int16), "negative"),
    (np.arange(300, dtype=np.uint16).reshape(15, 20), "300|299 distinct"),
    (np.array([[0.0, np.nan]], dtype=np.float32), "NaN"),
])
def test_label_map_rejects_invalid_values(array, message):
    with pytest.raises(InvalidInputError, match=message):
        DisplayLabelMap.from_array(array, np.eye(4), name="label map 'bad.nii.gz'")


def test_lookup_table_rows():
    array = np.array([[0, 1, 2, 4]], dtype=np.uint8)
    labels = DisplayLabelMap.from_array(array, np.eye(4))
    table = labels.lookup_table(hidden={2})
    assert table.shape == (256, 4)
    assert table.dtype == np.uint8
    assert table[0, 3] == 0
    assert tuple(table[1]) == (*label_color(1), 255)
    assert table[2, 3] == 0
    assert tuple(table[4]) == (255, 255, 0, 255)


def test_label_map_on_other_grid_is_rejected(mricron):
    image = source(load_volume(ANATOMICAL))
    with pytest.raises(InvalidInputError, match="never resampled"):
        LabelSliceSource.for_image(load_aal(mricron), image)


def test_label_counts_match_pixels(mricron):
    atlas = np.asarray(nib.load(str(mricron / "aal.nii.gz")).dataobj)
    image = source(load_volume(mricron / "ch2.nii.gz"))
    labels = LabelSliceSource.for_image(load_aal(mricron), image)
    counts = labels.counts(72)
    for value in (37, 38, 71):
        assert counts[labels.label_map.index_of(value)] == np.count_nonzero(atlas[:, :, 72] == value)


def test_label_boundaries_keep_ring():
    indices = np.zeros((7, 7), dtype=np.uint8)
    indices[1:6, 1:6] = 3
    outline = label_boundaries(indices)
    assert outline[3, 3] == 0
    assert outline[1, 3] == 3
    assert int((outline == 3).sum()) == 16
    assert outline[0, 0] == 0


def test_presets_and_header_windows():
    stats = {"min": -10.0, "max": 990.0, "p1": 0.0, "p99": 500.0}
    found = presets(stats, [{"center": 40, "width": 80}, {"center": 1, "width": 0}])
    assert [p.kind for p in found] == ["auto", "full", "header"]
    assert found[0].window.levels == (0.0, 500.0)
    assert found[1].window.levels == (-10.0, 990.0)
    assert found[2].window == WindowLevel(40.0, 80.0)


def test_zero_width_window_is_guarded():
    constant = {"min": 7.0, "max": 7.0, "p1": 7.0, "p99": 7.0}
    auto = presets(constant)[0].window
    assert auto.width > 0
    low, high = auto.levels
    assert low < 7.0 < high
    assert guard(WindowLevel(float("nan"), -5.0), constant).width > 0


def test_drag_widens_window_and_raises_level():
    stats = {"min": 0.0, "max": 1000.0, "p1": 0.0, "p99": 1000.0}
    start = WindowLevel(500.0, 400.0)
    moved = dragged(start, dx=50, dy=25, stats=stats)
    assert moved.width == pytest.approx(500.0)
    assert moved.center == pytest.approx(550.0)
    assert dragged(start, dx=-1000, dy=0, stats=stats).width > 0
