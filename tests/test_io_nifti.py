"""NIfTI loading on real files: Colin27, nibabel's LAS and 4D samples, damaged headers."""

from __future__ import annotations

import gzip
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from nibabel.testing import data_path

from engine.errors import InvalidInputError
from engine.io import detect
from engine.io.nifti import load_nifti

NIBABEL_DATA = Path(data_path)


def test_ch2_keeps_affine_and_shape(mricron):
    path = mricron / "ch2.nii.gz"
    volume = load_nifti(path)
    expected = nib.load(str(path))
    assert volume.data.dtype == np.float32
    assert volume.data.shape == (181, 217, 181)
    np.testing.assert_array_equal(volume.affine, expected.affine)
    np.testing.assert_array_equal(volume.data, np.asarray(expected.dataobj, dtype=np.float32))
    assert volume.original_dtype == "uint8"
    assert volume.spacing == (1.0, 1.0, 1.0)
    assert volume.slice_axis == 2
    assert volume.file_format == "nifti"


def test_las_int16_orientation_kept():
    volume = load_nifti(NIBABEL_DATA / "anatomical.nii")
    raw = nib.load(str(NIBABEL_DATA / "anatomical.nii"))
    assert nib.aff2axcodes(volume.affine) == ("L", "A", "S")
    np.testing.assert_array_equal(volume.affine, raw.affine)
    assert volume.data.dtype == np.float32
    assert volume.original_dtype == "int16"
    np.testing.assert_array_equal(volume.data, np.asarray(raw.dataobj).astype(np.float32))


def test_scaled_int16_extremes_survive():
    # functional.nii stores both int16 extremes with a scale factor; the scaled values
    # of -32768 and 32767 must come out, not wrapped integers.
    path = NIBABEL_DATA / "functional.nii"
    image = nib.load(str(path))
    raw = np.asarray(image.dataobj.get_unscaled())
    assert raw.min() == -32768
    assert raw.max() == 32767
    volume_index = int(np.argwhere(raw == -32768)[0][3])
    volume = load_nifti(path, volume_index=volume_index)
    expected = raw[..., volume_index].astype(np.float64) * image.dataobj.slope + image.dataobj.inter
    assert volume.data.dtype == np.float32
    np.testing.assert_allclose(volume.data, expected, rtol=1e-6)
    assert volume.data.min() == pytest.approx(-32768 * image.dataobj.slope + image.dataobj.inter)


def test_int16_extremes_survive(tmp_path):
    data = np.array([[[-32768, 32767], [-1, 0]]], dtype=np.int16)
    path = tmp_path / "extremes.nii.gz"
    nib.save(nib.Nifti1Image(data, np.eye(4)), str(path))
    volume = load_nifti(path)
    np.testing.assert_array_equal(volume.data, [[[-32768.0, 32767.0], [-1.0, 0.0]]])
    assert -volume.data.min() == 32768.0


def test_4d_volume_chosen():
    path = NIBABEL_DATA / "example4d.nii.gz"
    raw = np.asarray(nib.load(str(path)).dataobj)
    first = load_nifti(path)
    second = load_nifti(path, volume_index=1)
    assert first.data.shape == raw.shape[:3]
    assert (first.volume_count, second.volume_index) == (2, 1)
    np.testing.assert_array_equal(first.data, raw[..., 0].astype(np.float32))
    np.testing.assert_array_equal(second.data, raw[..., 1].astype(np.float32))


def test_4d_index_out_of_range_lists_count():
    path = NIBABEL_DATA / "example4d.nii.gz"
    with pytest.raises(InvalidInputError) as error:
        load_nifti(path, volume_index=2)
    assert str(error.value) == (
        f"NIfTI file '{path}' has 2 volumes; volume index 2 is out of range "
        "(choose 0 to 1 with --volume)"
    )


def test_scaling_applied_in_float32(tmp_path):
    data = np.array([[[-32768, 0], [1, 32767]]], dtype=np.int16)
    path = tmp_path / "scaled.nii"
    nib.save(nib.Nifti1Image(data, np.eye(4)), str(path))
    # nibabel chooses its own scaling on save; write scl_slope and scl_inter directly.
    content = bytearray(path.read_bytes())
    content[112:120] = np.array([0.5, -10], dtype="<f4").tobytes()
    path.write_bytes(bytes(content))
    volume = load_nifti(path)
    assert volume.data.dtype == np.float32
    np.testing.assert_array_equal(volume.data, data.astype(np.float32) * 0.5 - 10)


def test_nan_and_inf_counted(tmp_path, caplog):
    data = np.zeros((4, 4, 3), dtype=np.float32)
    data[0, 0, 0] = np.nan
    data[1, 1, 1] = np.inf
    data[2, 2, 2] = -np.inf
    data[3, 3, 2] = 5.0
    path = tmp_path / "nonfinite.nii.gz"
    nib.save(nib.Nifti1Image(data, np.eye(4)), str(path))
    volume = load_nifti(path)
    assert volume.nonfinite_count == 3
    assert np.isnan(volume.data).sum() == 3
    assert not np.isinf(volume.data).any()
    assert volume.data[3, 3, 2] == 5.0
    assert "3 voxels are NaN or infinite" in caplog.text
    assert volume.intensity_stats()["max"] == 5.0


def test_float64_file_loads_as_float32(tmp_path):
    path = tmp_path / "double.nii.gz"
    nib.save(nib.Nifti1Image(np.linspace(0, 1, 24).reshape(2, 3, 4), np.eye(4)), str(path))
    volume = load_nifti(path)
    assert volume.data.dtype == np.float32
    assert volume.original_dtype == "float64"


def write_singular(path: Path) -> Path:
    """A NIfTI file whose sform maps every voxel column 0 to the same point."""
    header = nib.Nifti1Header()
    header.set_data_shape((4, 4, 4))
    header.set_data_dtype(np.int16)
    singular = np.diag([0.0, 1.0, 1.0, 1.0])
    header.set_sform(singular, code="scanner")
    header.set_qform(None, code="unknown")
    nib.save(nib.Nifti1Image(np.ones((4, 4, 4), np.int16), None, header=header), str(path))
    return path


def test_singular_affine_rejected(tmp_path):
    path = write_singular(tmp_path / "singular.nii.gz")
    with pytest.raises(InvalidInputError) as error:
        load_nifti(path)
    assert str(error.value) == (
        f"NIfTI file '{path}' has a singular affine [0 0 0 0; 0 1 0 0; 0 0 1 0], so its voxels "
        "have no position in space; fix the sform/qform of its header and import it again"
    )


def write_truncated(source: Path, path: Path) -> Path:
    content = source.read_bytes()
    path.write_bytes(content[: len(content) // 2])
    return path


def test_truncated_gzip_rejected(tmp_path):
    path = write_truncated(NIBABEL_DATA / "example4d.nii.gz", tmp_path / "cut.nii.gz")
    with pytest.raises(InvalidInputError) as error:
        load_nifti(path)
    assert str(error.value) == (
        f"NIfTI file '{path}' could not be read: it is truncated or damaged (Compressed file "
        "ended before the end-of-stream marker was reached); copy or export it again"
    )


def test_truncated_nii_rejected(tmp_path):
    path = write_truncated(NIBABEL_DATA / "anatomical.nii", tmp_path / "cut.nii")
    with pytest.raises(InvalidInputError, match=r"truncated or damaged \(Expected 67650 bytes"):
        load_nifti(path)


def test_detect_by_content(tmp_path):
    disguised = tmp_path / "scan.png"
    disguised.write_bytes(gzip.compress((NIBABEL_DATA / "anatomical.nii").read_bytes()))
    assert detect.detect_file_type(disguised) == detect.NIFTI
    assert detect.detect_file_type(NIBABEL_DATA / "anatomical.nii") == detect.NIFTI
    assert detect.detect_file_type(NIBABEL_DATA / "example_nifti2.nii.gz") == detect.NIFTI
    assert detect.detect_file_type(NIBABEL_DATA / "analyze.hdr") == detect.UNKNOWN
    assert detect.detect_file_type(NIBABEL_DATA / "nifti1.hdr") == detect.NIFTI_PAIR
    text = tmp_path / "notes.dcm"
    text.write_text("not a DICOM file\n")
    assert detect.detect_file_type(text) == detect.TEXT


def test_detect_dicom_with_and_without_preamble():
    import pydicom.data

    files = Path(pydicom.data.__file__).parent / "test_files"
    assert detect.detect_file_type(files / "CT_small.dcm") == detect.DICOM
    assert detect.detect_file_type(files / "ExplVR_LitEndNoMeta.dcm") == detect.DICOM
    assert detect.detect_file_type(files / "ExplVR_BigEndNoMeta.dcm") == detect.DICOM
    assert detect.detect_file_type(files / "MR_small_implicit.dcm") == detect.DICOM


def test_detect_benchmark_json(shared_data):
    closed = shared_data / "mm-neuroonco_benchmark_closed_v1.0.json"
    opened = shared_data / "mm-neuroonco_benchmark_open_v1.0.json"
    assert detect.detect_file_type(closed) == detect.BENCHMARK_JSON
    assert detect.detect_file_type(opened) == detect.BENCHMARK_JSON
    assert detect.detect_file_type(shared_data / "step1_supplement_ready.json") == detect.JSON
