"""De-identification: the installation secret, pseudonyms and the technical allow-list."""

from __future__ import annotations

import hashlib
import hmac
import stat
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file

from dicom_synthetic import Canaries, colin_crop, write_series
from engine.errors import InvalidInputError
from engine.io import deid


def test_secret_created_private_and_stable(tmp_path):
    key = deid.installation_secret(tmp_path)
    path = tmp_path / "secret.key"

    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(key) == deid.SECRET_BYTES
    assert deid.installation_secret(tmp_path) == key


def test_secret_defaults_to_data_dir():
    from db.session import data_dir

    key = deid.installation_secret()

    assert (data_dir() / "secret.key").read_bytes() == key


def test_short_secret_rejected(tmp_path):
    (tmp_path / "secret.key").write_bytes(b"short")

    with pytest.raises(InvalidInputError, match="secret.key"):
        deid.installation_secret(tmp_path)


def test_pseudonym_is_hmac_of_patient_id(tmp_path):
    key = deid.installation_secret(tmp_path)
    header = pydicom.dcmread(get_testdata_file("MR_small.dcm"), stop_before_pixels=True)

    expected = "case-" + hmac.new(key, b"4MR1", hashlib.sha256).hexdigest()[:12]

    assert deid.pseudonym(header, Path("MR_small.dcm"), key) == expected
    assert "4MR1" not in expected


def test_pseudonym_falls_back_to_study_uid(tmp_path):
    key = deid.installation_secret(tmp_path)
    header = pydicom.dcmread(get_testdata_file("MR_small.dcm"), stop_before_pixels=True)
    header.PatientID = ""
    study_uid = str(header.StudyInstanceUID)

    expected = "case-" + hmac.new(key, study_uid.encode(), hashlib.sha256).hexdigest()[:12]

    assert deid.pseudonym(header, Path("x.dcm"), key) == expected


def test_pseudonym_differs_between_installations(tmp_path):
    header = pydicom.dcmread(get_testdata_file("MR_small.dcm"), stop_before_pixels=True)
    first = deid.pseudonym(header, Path("x.dcm"), deid.installation_secret(tmp_path / "a"))
    second = deid.pseudonym(header, Path("x.dcm"), deid.installation_secret(tmp_path / "b"))

    assert first != second


def test_pseudonym_without_identifiers_rejected(tmp_path):
    header = pydicom.dcmread(get_testdata_file("MR_small.dcm"), stop_before_pixels=True)
    del header.PatientID
    del header.StudyInstanceUID

    with pytest.raises(InvalidInputError, match="nowhere.dcm.*neither PatientID nor StudyInstanceUID"):
        deid.pseudonym(header, Path("nowhere.dcm"), deid.installation_secret(tmp_path))


def test_technical_metadata_keeps_only_allow_list(tmp_path, mricron):
    raw, affine = colin_crop(mricron)
    canaries = Canaries()
    written = write_series(tmp_path / "series", raw[:, :, :2], affine, canaries)
    header = pydicom.dcmread(written.files[0])

    metadata = deid.technical_metadata(header)

    assert set(metadata) <= set(deid.TECHNICAL_ATTRIBUTES) | {"ContrastAgent"}
    assert metadata["RepetitionTime"] == 550.0
    assert metadata["MagneticFieldStrength"] == 3.0
    assert metadata["ContrastAgent"] is True
    text = repr(metadata)
    for value in canaries.values():
        assert value not in text, value
    assert "gadobutrol" not in text


def test_contrast_agent_false_without_agent():
    header = pydicom.dcmread(get_testdata_file("MR_small.dcm"), stop_before_pixels=True)

    assert deid.technical_metadata(header)["ContrastAgent"] is False


def test_scrub_removes_header_values(tmp_path, mricron):
    raw, affine = colin_crop(mricron)
    canaries = Canaries()
    written = write_series(tmp_path / "series", raw[:, :, :1], affine, canaries)
    header = pydicom.dcmread(written.files[0])
    message = f"bad value {canaries.patient_name} at {canaries.institution} ({canaries.study_uid})"

    scrubbed = deid.scrub(message, [header])

    assert canaries.patient_name not in scrubbed
    assert canaries.institution not in scrubbed
    assert canaries.study_uid not in scrubbed
    assert scrubbed.startswith("bad value [removed]")
