"""`neuroonco import` on a DICOM study folder: series, SEG mask, metadata and no identifiers."""

from __future__ import annotations

import json
import sqlite3

import pytest

from conftest import run_cli
from dicom_synthetic import Canaries, colin_crop, oblique_affine, write_seg, write_series

INSULA_L = 29  # AAL atlas label value (aal.nii.txt)

pytestmark = pytest.mark.slow


def test_dicom_study_imports_through_cli(tmp_path, mricron, db_url):
    raw, _ = colin_crop(mricron)
    atlas, _ = colin_crop(mricron, "aal.nii.gz")
    canaries = Canaries()
    folder = tmp_path / "study"
    written = write_series(folder / "t1", raw, oblique_affine(), canaries)
    write_seg(folder / "seg" / "insula.dcm", written, {1: ("Insula_L", atlas == INSULA_L)})

    result = run_cli(db_url, "import", str(folder), "--dataset", "dicom study", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["added"]["series"] == 1
    assert summary["added"]["masks"] == 1

    connection = sqlite3.connect(db_url.removeprefix("sqlite:///"))
    shape, acquisition, source_key = connection.execute(
        "SELECT shape, acquisition, source_key FROM series").fetchone()
    assert json.loads(shape) == list(raw.shape)
    assert "attributes" in json.loads(acquisition)
    assert len(source_key) == 64 and source_key != canaries.series_uid
    kind, labels = connection.execute("SELECT kind, label_names FROM mask").fetchone()
    assert kind == "dicom-seg"
    assert json.loads(labels) == {"1": "Insula_L"}
    masked = connection.execute("SELECT count(*) FROM slice WHERE has_mask").fetchone()[0]
    expected = int((atlas == INSULA_L).any(axis=(0, 1)).sum())
    assert masked == expected
    # Semantics were computed from the SEG placed on the series' grid: one whole-tumour
    # row per slice with the segment.
    assert summary["semantics"]["masks_done"] == 1
    rows = connection.execute("SELECT count(*) FROM semantics WHERE region = 'WT'").fetchone()[0]
    assert rows == expected

    dump = "\n".join(connection.iterdump())
    connection.close()
    for identifier in canaries.values():
        assert identifier.lower() not in dump.lower(), identifier
        assert identifier.lower() not in (result.stdout + result.stderr).lower(), identifier

    again = run_cli(db_url, "import", str(folder), "--dataset", "dicom study", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["added"] == {"cases": 0, "series": 0, "slices": 0, "masks": 0}
