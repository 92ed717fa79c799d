"""DICOM series reading on series written from real Colin27 slices with a known geometry."""

from __future__ import annotations

import shutil

import nibabel as nib
import numpy as np
import pydicom
import pytest

from dicom_synthetic import (LPS_TO_RAS, Canaries, colin_crop, oblique_affine, write_enhanced,
                             write_series)
from engine.errors import InvalidInputError
from engine.io.dicom import read_dicom


@pytest.fixture
def colin(mricron):
    return colin_crop(mricron)


def _only(series):
    assert len(series) == 1
    return series[0]


def test_lps_series_reproduces_nifti(tmp_path, colin):
    raw, affine = colin
    written = write_series(tmp_path / "lps", raw, affine, Canaries())

    item = _only(read_dicom(tmp_path / "lps"))

    assert item.volume.data.dtype == np.float32
    assert item.volume.data.shape == raw.shape
    np.testing.assert_allclose(item.volume.affine, affine, atol=1e-6)
    np.testing.assert_array_equal(item.volume.data, written.expected)
    assert nib.aff2axcodes(item.volume.affine) == ("R", "A", "S")
    assert item.warnings == []


def test_oblique_series_affine_and_voxels(tmp_path, colin):
    raw, _ = colin
    affine = oblique_affine()
    written = write_series(tmp_path / "oblique", raw, affine, Canaries())

    item = _only(read_dicom(tmp_path / "oblique"))

    np.testing.assert_allclose(item.volume.affine, affine, atol=1e-6)
    np.testing.assert_array_equal(item.volume.data, written.expected)
    np.testing.assert_allclose(item.volume.spacing, (0.9, 1.1, 2.5), atol=1e-6)


def test_voxel_world_round_trip_matches_headers(tmp_path, colin):
    raw, _ = colin
    written = write_series(tmp_path / "oblique", raw, oblique_affine(), Canaries())
    item = _only(read_dicom(tmp_path / "oblique"))
    rng = np.random.default_rng(3)

    for _ in range(20):
        i, j, k = (int(rng.integers(n)) for n in raw.shape)
        header = pydicom.dcmread(written.files[k], stop_before_pixels=True)
        position = np.array(header.ImagePositionPatient, dtype=float)
        cosines = np.array(header.ImageOrientationPatient, dtype=float)
        row_spacing, column_spacing = (float(v) for v in header.PixelSpacing)
        lps = position + i * column_spacing * cosines[:3] + j * row_spacing * cosines[3:]

        world = item.volume.affine @ [i, j, k, 1]
        np.testing.assert_allclose(world[:3], (LPS_TO_RAS @ [*lps, 1])[:3], atol=1e-5)
        back = np.linalg.inv(item.volume.affine) @ world
        np.testing.assert_allclose(back[:3], [i, j, k], atol=1e-6)


def test_order_follows_positions_not_instance_numbers(tmp_path, colin):
    raw, affine = colin
    written = write_series(tmp_path / "lps", raw, affine, Canaries(), seed=99)
    numbers = [int(pydicom.dcmread(path, stop_before_pixels=True).InstanceNumber) for path in written.files]
    assert numbers != sorted(numbers)

    item = _only(read_dicom(tmp_path / "lps"))

    np.testing.assert_array_equal(item.volume.data, written.expected)


def test_reversed_stack_sorted_along_normal(tmp_path, colin):
    raw, affine = colin
    reversed_affine = affine.copy()
    reversed_affine[:3, 2] *= -1
    reversed_affine[:3, 3] = affine[:3, 3] + affine[:3, 2] * (raw.shape[2] - 1)
    written = write_series(tmp_path / "down", raw[:, :, ::-1], reversed_affine, Canaries())

    item = _only(read_dicom(tmp_path / "down"))

    # The reader stacks along +normal (superior here), so it undoes the reversal.
    np.testing.assert_allclose(item.volume.affine, affine, atol=1e-6)
    np.testing.assert_array_equal(item.volume.data, written.expected[:, :, ::-1])


def test_rescale_applied_per_slice(tmp_path, colin):
    raw, affine = colin
    written = write_series(tmp_path / "lps", raw, affine, Canaries())

    item = _only(read_dicom(tmp_path / "lps"))

    assert len(set(written.slopes)) == raw.shape[2]
    for k in range(raw.shape[2]):
        expected = raw[:, :, k].astype(np.float32) * float(written.slopes[k]) + float(written.intercepts[k])
        np.testing.assert_allclose(item.volume.data[:, :, k], expected, rtol=1e-6)
    assert item.metadata["RescaleVariesPerSlice"] is True
    assert "RescaleSlope" not in item.metadata
    assert item.volume.original_dtype == "uint16"


def test_monochrome1_inverted_with_windows(tmp_path, colin):
    raw, affine = colin
    plain = write_series(tmp_path / "m2", raw, affine, Canaries(), window=(120.0, 200.0))
    write_series(tmp_path / "m1", raw, affine, Canaries(), photometric="MONOCHROME1", window=(120.0, 200.0))

    item = _only(read_dicom(tmp_path / "m1"))

    total = float(plain.expected.min() + plain.expected.max())
    assert item.metadata["MonochromeInverted"] is True
    assert item.metadata["MonochromeInversionSum"] == pytest.approx(total)
    np.testing.assert_allclose(item.volume.data, total - plain.expected, atol=1e-4)
    assert item.volume.header_windows == [{"center": pytest.approx(total - 120.0), "width": 200.0}]
    assert item.metadata["WindowCenter"] == pytest.approx(total - 120.0)
    assert item.metadata["WindowWidth"] == 200.0
    assert any("MONOCHROME1" in warning for warning in item.warnings)

    def grey(values, window, invert):
        level = np.clip((values - (window["center"] - window["width"] / 2)) / window["width"], 0, 1)
        return 1 - level if invert else level

    shown_as_monochrome1 = grey(plain.expected, {"center": 120.0, "width": 200.0}, invert=True)
    shown_after_import = grey(item.volume.data, item.volume.header_windows[0], invert=False)
    np.testing.assert_allclose(shown_after_import, shown_as_monochrome1, atol=1e-5)


def test_uneven_gaps_warned(tmp_path, colin):
    raw, affine = colin
    written = write_series(tmp_path / "gaps", raw, affine, Canaries())
    last = written.files[-1]
    header = pydicom.dcmread(last)
    header.ImagePositionPatient[2] = float(header.ImagePositionPatient[2]) + 0.7
    header.save_as(last)

    item = _only(read_dicom(tmp_path / "gaps"))

    assert any("uneven" in warning for warning in item.warnings)


def test_identical_positions_fall_back_to_instance_number(tmp_path, colin):
    raw, affine = colin
    written = write_series(tmp_path / "same", raw[:, :, :4], affine, Canaries(), seed=5)
    numbers = []
    for path in written.files:
        header = pydicom.dcmread(path)
        header.ImagePositionPatient = [0.0, 0.0, 0.0]
        header.save_as(path)
        numbers.append(int(header.InstanceNumber))

    item = _only(read_dicom(tmp_path / "same"))

    order = np.argsort(numbers)
    np.testing.assert_array_equal(item.volume.data, written.expected[:, :, order])
    assert any("InstanceNumber" in warning for warning in item.warnings)


def test_missing_positions_fall_back_to_instance_number(tmp_path, colin):
    raw, affine = colin
    written = write_series(tmp_path / "nopos", raw[:, :, :4], affine, Canaries(), seed=5)
    numbers = []
    for path in written.files:
        header = pydicom.dcmread(path)
        del header.ImagePositionPatient
        header.save_as(path)
        numbers.append(int(header.InstanceNumber))

    item = _only(read_dicom(tmp_path / "nopos"))

    np.testing.assert_array_equal(item.volume.data, written.expected[:, :, np.argsort(numbers)])
    assert any("InstanceNumber" in warning for warning in item.warnings)
    assert item.volume.has_geometry is False


def test_echoes_split_into_volumes(tmp_path, colin):
    raw, affine = colin
    first = write_series(tmp_path / "echoes" / "e1", raw[:, :, :5], affine, Canaries(), seed=1)
    canaries = first.canaries
    second = write_series(tmp_path / "echoes" / "e2", raw[:, :, 5:10], affine, canaries, seed=2)
    for number, written in ((1, first), (2, second)):
        for path in written.files:
            header = pydicom.dcmread(path)
            header.EchoNumbers = number
            header.save_as(path)

    series = read_dicom(tmp_path / "echoes")

    assert len(series) == 2
    by_folder = {item.volume.source_path.name: item for item in series}
    np.testing.assert_array_equal(by_folder["e1"].volume.data, first.expected)
    np.testing.assert_array_equal(by_folder["e2"].volume.data, second.expected)


def test_repeated_positions_without_split_rejected(tmp_path, colin):
    raw, affine = colin
    canaries = Canaries()
    write_series(tmp_path / "dup" / "a", raw[:, :, :3], affine, canaries, seed=1)
    write_series(tmp_path / "dup" / "b", raw[:, :, 3:6], affine, canaries, seed=2)

    message = r"6 images of one DICOM series in .*dup lie at only 3 slice positions"
    with pytest.raises(InvalidInputError, match=message):
        read_dicom(tmp_path / "dup")


def test_two_series_in_one_folder(tmp_path, colin):
    raw, affine = colin
    write_series(tmp_path / "study" / "t1", raw[:, :, :4], affine, Canaries())
    write_series(tmp_path / "study" / "obl", raw[:, :, 4:8], oblique_affine(), Canaries())

    series = read_dicom(tmp_path / "study")

    assert sorted(item.volume.source_path.name for item in series) == ["obl", "t1"]
    # Same PatientID in both series: one case.
    assert len({item.pseudonym for item in series}) == 1


def test_duplicate_file_copies_ignored(tmp_path, colin):
    raw, affine = colin
    written = write_series(tmp_path / "copies", raw[:, :, :4], affine, Canaries())
    shutil.copy(written.files[0], tmp_path / "copies" / "copy-of-first.dcm")

    item = _only(read_dicom(tmp_path / "copies"))

    assert item.volume.data.shape[2] == 4


def test_enhanced_multiframe_geometry_and_rescale(tmp_path, colin):
    raw, _ = colin
    affine = oblique_affine()
    expected, slopes = write_enhanced(tmp_path / "enhanced.dcm", raw, affine, Canaries())

    item = _only(read_dicom(tmp_path / "enhanced.dcm"))

    np.testing.assert_allclose(item.volume.affine, affine, atol=1e-6)
    np.testing.assert_array_equal(item.volume.data, expected)
    assert len(set(slopes)) == raw.shape[2]
    assert item.volume.header_windows == [{"center": 300.0, "width": 500.0}]
    assert item.metadata["RepetitionTime"] == pytest.approx(8.1)
    assert item.modality == "T1CE"
    assert item.warnings == []


def test_modality_guess_from_description(tmp_path, colin):
    raw, affine = colin
    table = [("AX FLAIR", False, "FLAIR"), ("t2_tse_tra", False, "T2"), ("T1 MPRAGE", False, "T1"),
             ("T1 MPRAGE", True, "T1CE"), ("ep2d_diff ADC", False, "other")]
    for index, (description, contrast, expected) in enumerate(table):
        folder = tmp_path / f"m{index}"
        written = write_series(folder, raw[:, :, :2], affine, Canaries())
        for path in written.files:
            header = pydicom.dcmread(path)
            header.SeriesDescription = description
            if not contrast:
                del header.ContrastBolusAgent
            header.save_as(path)

        item = _only(read_dicom(folder))

        assert item.modality == expected, description
        assert item.volume.modality == expected, description


def test_modality_guess_from_timing(tmp_path, colin):
    raw, affine = colin
    table = [((9000.0, 120.0, 2500.0), "FLAIR"), ((5000.0, 100.0, None), "T2"), ((500.0, 12.0, None), "T1"),
             ((1500.0, 50.0, None), "unknown")]
    for index, ((tr, te, ti), expected) in enumerate(table):
        folder = tmp_path / f"t{index}"
        written = write_series(folder, raw[:, :, :2], affine, Canaries())
        for path in written.files:
            header = pydicom.dcmread(path)
            del header.SeriesDescription
            del header.ContrastBolusAgent
            header.RepetitionTime, header.EchoTime = tr, te
            if ti is not None:
                header.InversionTime = ti
            header.save_as(path)

        assert _only(read_dicom(folder)).modality == expected, (tr, te, ti)


def test_mixed_patients_in_series_rejected(tmp_path, colin):
    raw, affine = colin
    canaries = Canaries()
    written = write_series(tmp_path / "mixed", raw[:, :, :3], affine, canaries)
    header = pydicom.dcmread(written.files[1])
    header.PatientID = "CANARY-SECOND-PATIENT"
    header.save_as(written.files[1])

    with pytest.raises(InvalidInputError) as error:
        read_dicom(tmp_path / "mixed")

    assert "mixes images of 2 patients" in str(error.value)
    assert canaries.patient_id not in str(error.value)
    assert "CANARY-SECOND-PATIENT" not in str(error.value)


def test_import_logs_geometry_warning_once(tmp_path, colin, caplog):
    from db.session import open_database
    from engine.io.importer import import_paths

    raw, affine = colin
    written = write_series(tmp_path / "gaps", raw[:, :, :6], affine, Canaries())
    last = written.files[-1]
    header = pydicom.dcmread(last)
    header.ImagePositionPatient[2] = float(header.ImagePositionPatient[2]) + 0.7
    header.save_as(last)
    db = open_database(f"sqlite:///{tmp_path / 'workbench.sqlite'}")

    with caplog.at_level("WARNING"):
        import_paths(db, [tmp_path / "gaps"])

    uneven = [record for record in caplog.records if "uneven" in record.getMessage()]
    assert len(uneven) == 1
