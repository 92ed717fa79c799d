"""add_dicom: cases, series, slices and DICOM SEG masks in the database, and no identifiers anywhere."""

from __future__ import annotations

import logging
import shutil
import sqlite3
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from sqlalchemy import func, select

from db.models import Case, Dataset, Mask, Series, Slice
from dicom_synthetic import (Canaries, colin_crop, oblique_affine, pydicom_data_file, write_enhanced, write_seg,
                             write_series)
from engine.errors import InvalidInputError
from engine.io.dicom_import import add_dicom
from engine.io.store import get_or_create_dataset

INSULA_L, INSULA_R = 29, 30  # AAL atlas label values (aal.nii.txt)


@pytest.fixture
def study(tmp_path, mricron):
    """A canary study folder: an oblique series, an enhanced series and a SEG on the first."""
    raw, _ = colin_crop(mricron)
    atlas, _ = colin_crop(mricron, "aal.nii.gz")
    canaries = Canaries()
    folder = tmp_path / "study"
    written = write_series(folder / "t1ce", raw, oblique_affine(), canaries)
    write_enhanced(folder / "enhanced" / "frames.dcm", raw[:, :, :6], oblique_affine(), canaries)
    segments = {1: ("Insula_L", atlas == INSULA_L), 2: ("Insula_R", atlas == INSULA_R)}
    write_seg(folder / "seg" / "insula.dcm", written, segments)
    return folder, written, atlas, canaries


def _import(db, path, name="dicom"):
    with db.session(write=True) as session:
        dataset = get_or_create_dataset(session, name, "dicom")
        rows = add_dicom(session, dataset, path)
        return [row.id for row in rows]


def _counts(db) -> dict[str, int]:
    with db.session() as session:
        return {model.__tablename__: session.scalar(select(func.count()).select_from(model))
                for model in (Dataset, Case, Series, Slice, Mask)}


def _sqlite_dump(db_url: str) -> str:
    connection = sqlite3.connect(db_url.removeprefix("sqlite:///"))
    try:
        return "\n".join(connection.iterdump())
    finally:
        connection.close()


def test_add_dicom_writes_rows(db, study):
    folder, written, atlas, _ = study

    ids = _import(db, folder)

    assert len(ids) == 2
    with db.session() as session:
        cases = session.scalars(select(Case)).all()
        assert len(cases) == 1
        assert cases[0].pseudonym.startswith("case-")
        assert cases[0].source == "dicom"
        series = {row.shape[2]: row for row in session.scalars(select(Series))}
        classic, enhanced = series[12], series[6]
        assert classic.file_format == "dicom"
        assert classic.modality == "T1CE"
        assert enhanced.modality == "T1CE"
        np.testing.assert_allclose(classic.affine, oblique_affine(), atol=1e-5)
        np.testing.assert_allclose(classic.voxel_spacing, [0.9, 1.1, 2.5], atol=1e-6)
        assert classic.source_path == str(folder / "t1ce")
        assert classic.header_windows == [{"center": 120.0, "width": 200.0}]
        assert len(classic.slices) == classic.shape[classic.slice_axis]

        mask = session.scalars(select(Mask)).one()
        assert mask.kind == "dicom-seg"
        assert mask.reference_series_id == classic.id
        assert mask.case_id == classic.case_id
        assert mask.shape == list(classic.shape)
        assert mask.label_names == {"1": "Insula_L", "2": "Insula_R"}
        assert mask.source_path == str(folder / "seg" / "insula.dcm")

        present = (atlas == INSULA_L) | (atlas == INSULA_R)
        axes = tuple(axis for axis in range(3) if axis != classic.slice_axis)
        expected = set(np.flatnonzero(present.any(axis=axes)).tolist())
        assert {row.index for row in classic.slices if row.has_mask} == expected


def test_add_dicom_idempotent(db, study):
    folder = study[0]
    first = _import(db, folder)
    before = _counts(db)

    second = _import(db, folder)

    assert second == first
    assert _counts(db) == before


def test_add_dicom_same_patient_one_case(db, tmp_path, mricron):
    raw, affine = colin_crop(mricron)
    canaries = Canaries()
    write_series(tmp_path / "a", raw[:, :, :3], affine, canaries)
    write_series(tmp_path / "b", raw[:, :, 3:6], oblique_affine(), Canaries())

    _import(db, tmp_path / "a")
    _import(db, tmp_path / "b")

    counts = _counts(db)
    assert counts["case"] == 1
    assert counts["series"] == 2


def test_pydicom_samples_import(db):
    ids = _import(db, get_testdata_file("MR_small.dcm"))

    with db.session() as session:
        row = session.get(Series, ids[0])
        assert row.shape == [64, 64, 1]
        assert row.modality == "T2"
        assert row.dtype == "int16"
        dump = _sqlite_dump(str(db.engine.url))
    for identifier in ("CompressedSamples", "4MR1", "1.3.6.1.4.1.5962.1.3.4.1.20040826185059.5457"):
        assert identifier not in dump


def test_seg_without_series_rejected_unchanged(db, tmp_path, study):
    _, written, atlas, _ = study
    write_seg(tmp_path / "alone" / "seg.dcm", written, {1: ("Insula_L", atlas == INSULA_L)})
    before = _counts(db)

    with pytest.raises(InvalidInputError, match=r"alone/seg.dcm refers to an image series that is not among"):
        _import(db, tmp_path / "alone")

    assert _counts(db) == before


def test_liver_seg_alone_rejected(db):
    path = pydicom_data_file("liver.dcm")

    with pytest.raises(InvalidInputError, match="liver.dcm refers to an image series"):
        _import(db, path)


def test_failed_import_leaves_no_rows(db, tmp_path, study):
    folder = study[0]
    (folder / "broken.dcm").write_text("not DICOM\n")
    before = _counts(db)

    with pytest.raises(InvalidInputError, match="broken.dcm is not a DICOM file"):
        _import(db, folder)

    assert _counts(db) == before


def test_seg_of_other_patient_rejected(db, tmp_path, study):
    folder, written, atlas, _ = study
    seg_path = folder / "seg" / "insula.dcm"
    header = pydicom.dcmread(seg_path)
    header.PatientID = "CANARY-SOMEONE-ELSE"
    header.save_as(seg_path)

    with pytest.raises(InvalidInputError) as error:
        _import(db, folder)

    assert "belongs to a different patient" in str(error.value)
    assert "CANARY-SOMEONE-ELSE" not in str(error.value)
    assert _counts(db)["series"] == 0


def _error_cases(tmp_path: Path, written, canaries: Canaries) -> list[Path]:
    """Write one canary folder for every kind of DICOM input error; return the folders."""
    cases = tmp_path / "errors"
    source = written.files[0]
    folders = []

    def folder(name: str) -> Path:
        path = cases / name
        path.mkdir(parents=True)
        folders.append(path)
        return path

    header = pydicom.dcmread(source)
    del header.PixelData
    header.save_as(folder("nopixels") / "a.dcm")

    data = source.read_bytes()
    (folder("truncated") / "a.dcm").write_bytes(data[: len(data) - 5000])

    header = pydicom.dcmread(source)
    header.file_meta.TransferSyntaxUID = pydicom.uid.JPEGLSLossless
    header.PixelData = pydicom.encaps.encapsulate([b"\xff\xd8" + b"\x00" * 64])
    header["PixelData"].VR = "OB"
    header.save_as(folder("jpegls") / "a.dcm")

    mixed = folder("mixed")
    for index, path in enumerate(written.files[:2]):
        header = pydicom.dcmread(path)
        if index:
            header.PatientID = canaries.other_patient_id
        header.save_as(mixed / f"{index}.dcm")

    header = pydicom.dcmread(source)
    del header.PatientID
    del header.StudyInstanceUID
    header.save_as(folder("anonymous") / "a.dcm")

    shutil.copy(tmp_path / "study" / "seg" / "insula.dcm", folder("seg") / "insula.dcm")
    return folders


def test_no_identifier_leaves_the_reader(db, db_url, tmp_path, study, caplog):
    folder, written, _, canaries = study
    error_folders = _error_cases(tmp_path, written, canaries)
    messages = []
    caplog.set_level(logging.DEBUG)
    # pydicom's debug mode logs every element value; the reader must drop those records.
    pydicom.config.debug(True, default_handler=False)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _import(db, folder)
            for error_folder in error_folders:
                with pytest.raises(InvalidInputError) as error:
                    _import(db, error_folder, name="errors")
                messages.append(str(error.value))
    finally:
        pydicom.config.debug(False, default_handler=False)

    dump = _sqlite_dump(db_url)
    logs = "\n".join(record.getMessage() for record in caplog.records)
    warned = "\n".join(str(warning.message) for warning in caught)
    assert len(messages) == 6
    assert "case-" in dump
    assert "Insula_L" in dump
    assert "imported DICOM series" in logs
    for canary in canaries.values():
        assert canary.lower() not in dump.lower(), canary
        assert canary.lower() not in logs.lower(), canary
        assert canary.lower() not in warned.lower(), canary
        for message in messages:
            assert canary.lower() not in message.lower(), (canary, message)
    for uid in written.instance_uids:
        assert uid not in dump
        assert uid not in logs
    for message in messages:
        assert "\n" not in message
    from engine.io.deid import installation_secret

    assert installation_secret().hex() not in dump
