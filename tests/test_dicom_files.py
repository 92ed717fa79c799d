"""DICOM reading on pydicom's and pydicom-data's sample files: transfer syntaxes and bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.pixels import get_decoder
from pydicom.uid import JPEGLSLossless

from dicom_synthetic import Canaries, colin_crop, pydicom_data_file, write_series
from engine.errors import InvalidInputError
from engine.io.dicom import read_dicom
from engine.io.dicom_files import looks_like_dicom, read_header

PYDICOM_FILES = Path(pydicom.__file__).parent / "data" / "test_files"
MR_SMALL_VARIANTS = ["MR_small_RLE.dcm", "MR_small_bigendian.dcm", "MR_small_implicit.dcm",
                     "MR_small_expb.dcm", "MR_small_jp2klossless.dcm", "MR_small_padded.dcm"]
EMRI_VARIANTS = ["emri_small_RLE.dcm", "emri_small_big_endian.dcm", "emri_small_jpeg_2k_lossless.dcm"]


def test_mr_small_single_slice():
    path = Path(get_testdata_file("MR_small.dcm"))
    header = pydicom.dcmread(path)

    item = read_dicom(path)[0]

    assert item.volume.data.shape == (64, 64, 1)
    np.testing.assert_array_equal(item.volume.data[:, :, 0], header.pixel_array.T.astype(np.float32))
    np.testing.assert_allclose(item.volume.spacing, (0.3125, 0.3125, 0.8))
    lps_origin = np.array([float(v) for v in header.ImagePositionPatient])
    np.testing.assert_allclose(item.volume.affine[:3, 3], lps_origin * [-1, -1, 1])
    assert item.volume.header_windows == [{"center": 600.0, "width": 1600.0}]
    assert item.volume.original_dtype == "int16"
    assert item.modality == "T2"
    assert item.volume.source_path == path


@pytest.mark.parametrize("name", MR_SMALL_VARIANTS)
def test_mr_small_variants_equal_uncompressed(name):
    reference = read_dicom(get_testdata_file("MR_small.dcm"))[0]

    item = read_dicom(PYDICOM_FILES / name)[0]

    np.testing.assert_array_equal(item.volume.data, reference.volume.data)
    np.testing.assert_allclose(item.volume.affine, reference.volume.affine)
    assert item.pseudonym == reference.pseudonym


def test_jpeg_ls_needs_decoder():
    path = PYDICOM_FILES / "MR_small_jpeg_ls_lossless.dcm"
    if get_decoder(JPEGLSLossless).is_available:
        reference = read_dicom(get_testdata_file("MR_small.dcm"))[0]
        np.testing.assert_array_equal(read_dicom(path)[0].volume.data, reference.volume.data)
        return

    with pytest.raises(InvalidInputError) as error:
        read_dicom(path)

    message = str(error.value)
    assert "\n" not in message
    assert str(path) in message
    assert "JPEG-LS Lossless Image Compression" in message
    assert "pyjpegls" in message


def test_truncated_pixel_data_rejected():
    path = PYDICOM_FILES / "MR_truncated.dcm"

    with pytest.raises(InvalidInputError) as error:
        read_dicom(path)

    message = str(error.value)
    assert "\n" not in message
    assert str(path) in message
    assert "could not be decoded" in message


def test_no_pixel_data_rejected(tmp_path):
    header = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    del header.PixelData
    path = tmp_path / "no_pixels.dcm"
    header.save_as(path)

    with pytest.raises(InvalidInputError, match=r"no_pixels.dcm has no pixel data"):
        read_dicom(path)


def test_no_pixel_data_in_folder_rejected(tmp_path):
    shutil.copy(get_testdata_file("MR_small.dcm"), tmp_path / "image.dcm")
    header = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    del header.PixelData
    header.save_as(tmp_path / "IM_NOPIX")

    with pytest.raises(InvalidInputError, match=r"IM_NOPIX has no pixel data"):
        read_dicom(tmp_path)


def test_text_file_named_dcm_rejected(tmp_path):
    path = tmp_path / "notes.dcm"
    path.write_text("Patient seen on Monday; scans to follow.\n")

    with pytest.raises(InvalidInputError) as error:
        read_dicom(path)

    message = str(error.value)
    assert str(path) in message
    assert "not a DICOM file" in message
    assert "Monday" not in message


def test_text_file_named_dcm_in_folder_rejected(tmp_path):
    shutil.copy(get_testdata_file("MR_small.dcm"), tmp_path / "image.dcm")
    (tmp_path / "notes.dcm").write_text("not an image\n")

    with pytest.raises(InvalidInputError, match=r"notes.dcm is not a DICOM file"):
        read_dicom(tmp_path)


def test_other_files_in_folder_skipped(tmp_path):
    shutil.copy(get_testdata_file("MR_small.dcm"), tmp_path / "IM0001")
    (tmp_path / "README.txt").write_text("export notes\n")
    (tmp_path / "thumbs.db").write_bytes(b"\x00" * 300)

    series = read_dicom(tmp_path)

    assert len(series) == 1
    assert series[0].files == [tmp_path / "IM0001"]


def test_folder_without_dicom_rejected(tmp_path):
    (tmp_path / "README.txt").write_text("nothing here\n")

    with pytest.raises(InvalidInputError, match=r"no DICOM image files found in .*test_folder_without_dicom"):
        read_dicom(tmp_path)


def test_empty_folder_rejected(tmp_path):
    with pytest.raises(InvalidInputError, match="no DICOM image files found"):
        read_dicom(tmp_path)


def test_missing_path_rejected(tmp_path):
    with pytest.raises(InvalidInputError, match="does not exist"):
        read_dicom(tmp_path / "nowhere")


def test_looks_like_dicom(tmp_path):
    shutil.copy(get_testdata_file("MR_small.dcm"), tmp_path / "IM0001")
    (tmp_path / "notes.txt").write_text("x")

    assert looks_like_dicom(tmp_path / "IM0001")
    assert looks_like_dicom(tmp_path)
    assert not looks_like_dicom(tmp_path / "notes.txt")


def test_header_defers_pixel_data(tmp_path, mricron):
    from pydicom.dataelem import RawDataElement

    raw, affine = colin_crop(mricron)
    written = write_series(tmp_path / "series", raw[:, :, :1], affine, Canaries())

    header = read_header(written.files[0])

    pixel_data = header.get_item("PixelData", keep_deferred=True)
    assert isinstance(pixel_data, RawDataElement)
    assert pixel_data.value is None
    assert header.pixel_array.shape == (raw.shape[1], raw.shape[0])


def test_enhanced_mr_sample():
    path = pydicom_data_file("emri_small.dcm")
    header = pydicom.dcmread(path)

    item = read_dicom(path)[0]

    assert item.volume.data.shape == (64, 64, 10)
    np.testing.assert_array_equal(item.volume.data, header.pixel_array.transpose(2, 1, 0).astype(np.float32))
    assert item.modality == "T1"
    assert item.metadata["MagneticFieldStrength"] == 3.0
    # The sample has no functional groups, so it carries no patient geometry.
    assert item.volume.has_geometry is False
    np.testing.assert_allclose(item.volume.affine, np.diag([1.0, 1.0, 1.2, 1.0]))
    assert any("no patient geometry" in warning for warning in item.warnings)


@pytest.mark.parametrize("name", EMRI_VARIANTS)
def test_enhanced_mr_variants_equal_uncompressed(name):
    reference = read_dicom(pydicom_data_file("emri_small.dcm"))[0]

    item = read_dicom(pydicom_data_file(name))[0]

    np.testing.assert_array_equal(item.volume.data, reference.volume.data)


def test_enhanced_mr_jpeg_ls_needs_decoder():
    path = pydicom_data_file("emri_small_jpeg_ls_lossless.dcm")
    if get_decoder(JPEGLSLossless).is_available:
        pytest.skip("a JPEG-LS decoder is installed")

    with pytest.raises(InvalidInputError, match=r"emri_small_jpeg_ls_lossless.dcm uses transfer syntax JPEG-LS"):
        read_dicom(path)


def test_enhanced_mr_truncated_rejected():
    path = pydicom_data_file("emri_small_jpeg_2k_lossless_too_short.dcm")

    with pytest.raises(InvalidInputError, match=r"too_short.dcm has no pixel data"):
        read_dicom(path)


def test_colour_image_rejected():
    path = pydicom_data_file("SC_rgb.dcm")

    with pytest.raises(InvalidInputError, match=r"SC_rgb.dcm is a colour image \(RGB"):
        read_dicom(path)


def test_seg_only_folder_rejected_by_read_dicom():
    with pytest.raises(InvalidInputError, match="only DICOM SEG files"):
        read_dicom(pydicom_data_file("liver.dcm"))
