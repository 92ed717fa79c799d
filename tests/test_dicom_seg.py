"""DICOM SEG reading: pydicom-data's liver.dcm and SEGs written on Colin27 series from AAL regions."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest

from dicom_synthetic import Canaries, colin_crop, oblique_affine, pydicom_data_file, write_seg, write_series
from engine.errors import InvalidInputError
from engine.io.dicom import read_dicom
from engine.io.dicom_seg import read_dicom_seg

INSULA_L, INSULA_R = 29, 30  # AAL atlas label values (aal.nii.txt)


@pytest.fixture
def atlas_series(tmp_path, mricron):
    """An oblique Colin27 series, the AAL labels on its grid, and the series as read."""
    raw, _ = colin_crop(mricron)
    atlas, _ = colin_crop(mricron, "aal.nii.gz")
    written = write_series(tmp_path / "series", raw, oblique_affine(), Canaries())
    series = read_dicom(tmp_path / "series")[0]
    return written, atlas, series


def test_liver_seg_own_geometry():
    path = pydicom_data_file("liver.dcm")
    header = pydicom.dcmread(path)
    pixels = header.pixel_array

    seg = read_dicom_seg(path)

    assert seg.segmentation_type == "BINARY"
    assert seg.label_names == {"1": "Liver"}
    assert seg.labels.shape == (512, 512, 3)
    assert seg.labels.dtype == np.uint16
    positions = [float(item.PlanePositionSequence[0].ImagePositionPatient[2])
                 for item in header.PerFrameFunctionalGroupsSequence]
    for frame, z in enumerate(positions):
        k = int(round(z - min(positions)))
        np.testing.assert_array_equal(seg.labels[:, :, k], pixels[frame].T.astype(np.uint16))
    first = header.PerFrameFunctionalGroupsSequence[int(np.argmin(positions))].PlanePositionSequence[0]
    lps_origin = np.array([float(v) for v in first.ImagePositionPatient])
    np.testing.assert_allclose(seg.affine[:3, 3], lps_origin * [-1, -1, 1])
    np.testing.assert_allclose(np.diag(seg.affine)[:3], [-0.810547, -0.810547, 1.0], atol=1e-6)


def test_liver_seg_big_endian_equal():
    little = read_dicom_seg(pydicom_data_file("liver.dcm"))

    big = read_dicom_seg(pydicom_data_file("liver_expb.dcm"))

    np.testing.assert_array_equal(big.labels, little.labels)


def test_binary_seg_on_reference(tmp_path, atlas_series):
    written, atlas, series = atlas_series
    segments = {1: ("Insula_L", atlas == INSULA_L), 2: ("Insula_R", atlas == INSULA_R)}
    write_seg(tmp_path / "seg.dcm", written, segments)

    seg = read_dicom_seg(tmp_path / "seg.dcm", reference=series)

    expected = np.where(atlas == INSULA_L, 1, 0) + np.where(atlas == INSULA_R, 2, 0)
    assert seg.labels.shape == series.volume.data.shape
    np.testing.assert_array_equal(seg.labels, expected)
    np.testing.assert_allclose(seg.affine, series.volume.affine)
    assert seg.label_names == {"1": "Insula_L", "2": "Insula_R"}
    assert seg.pseudonym == series.pseudonym
    assert seg.warnings == []


def test_binary_seg_own_geometry_matches_reference(tmp_path, atlas_series):
    written, atlas, series = atlas_series
    write_seg(tmp_path / "seg.dcm", written, {1: ("Insula_L", atlas == INSULA_L)})

    seg = read_dicom_seg(tmp_path / "seg.dcm")

    # Frames exist only where the region is present, so the own grid starts at its first slice.
    slices = np.flatnonzero((atlas == INSULA_L).any(axis=(0, 1)))
    first, last = int(slices.min()), int(slices.max())
    np.testing.assert_array_equal(seg.labels, (atlas == INSULA_L)[:, :, first:last + 1].astype(np.uint16))
    np.testing.assert_allclose(seg.affine[:3, :3], series.volume.affine[:3, :3], atol=1e-6)
    np.testing.assert_allclose(seg.affine @ [0, 0, 0, 1], series.volume.affine @ [0, 0, first, 1], atol=1e-5)


def test_fractional_seg_thresholded_at_half(tmp_path, atlas_series):
    written, atlas, series = atlas_series
    region = atlas == INSULA_R
    fractions = np.zeros(atlas.shape, dtype=np.uint8)
    fractions[region] = 200
    # Every other voxel of the region just below one half, so the threshold matters.
    below = region & (np.indices(atlas.shape).sum(axis=0) % 2 == 0)
    fractions[below] = 127
    write_seg(tmp_path / "fractional.dcm", written, {3: ("Insula_R", region)}, fractional={3: fractions})

    seg = read_dicom_seg(tmp_path / "fractional.dcm", reference=series)

    assert seg.segmentation_type == "FRACTIONAL"
    np.testing.assert_array_equal(seg.labels, np.where(region & ~below, 3, 0))
    assert seg.label_names == {"3": "Insula_R"}


def test_overlapping_segments_keep_higher(tmp_path, atlas_series):
    written, atlas, series = atlas_series
    left = atlas == INSULA_L
    core = left.copy()
    core[:, :, : atlas.shape[2] // 2] = False
    write_seg(tmp_path / "overlap.dcm", written, {1: ("Insula_L", left), 2: ("core", core)})

    seg = read_dicom_seg(tmp_path / "overlap.dcm", reference=series)

    np.testing.assert_array_equal(seg.labels, np.where(core, 2, np.where(left, 1, 0)))
    assert seg.warnings == [
        f"segments 1 and 2 overlap in {int(core.sum())} voxels; the label map keeps segment 2 there"
    ]


def test_seg_on_wrong_reference_rejected(tmp_path, mricron, atlas_series):
    written, atlas, _ = atlas_series
    write_seg(tmp_path / "seg.dcm", written, {1: ("Insula_L", atlas == INSULA_L)})
    raw, affine = colin_crop(mricron)
    write_series(tmp_path / "other", raw, affine, Canaries())
    other = read_dicom(tmp_path / "other")[0]

    with pytest.raises(InvalidInputError, match=r"seg.dcm does not share the orientation"):
        read_dicom_seg(tmp_path / "seg.dcm", reference=other)


def test_seg_off_reference_slices_rejected(tmp_path, atlas_series):
    written, atlas, _ = atlas_series
    write_seg(tmp_path / "seg.dcm", written, {1: ("Insula_L", atlas == INSULA_L)})
    shifted_folder = tmp_path / "shifted"
    shifted_affine = written.affine.copy()
    shifted_affine[:3, 3] += shifted_affine[:3, 2] * 0.5
    write_series(shifted_folder, written.raw, shifted_affine, written.canaries)
    shifted = read_dicom(shifted_folder)[0]

    message = r"frame 1 of DICOM SEG .*seg.dcm lies 1.250 mm from the nearest slice"
    with pytest.raises(InvalidInputError, match=message):
        read_dicom_seg(tmp_path / "seg.dcm", reference=shifted)


def test_image_file_is_not_seg():
    from pydicom.data import get_testdata_file

    with pytest.raises(InvalidInputError, match="is not a DICOM SEG"):
        read_dicom_seg(get_testdata_file("MR_small.dcm"))
