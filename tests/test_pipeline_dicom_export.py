"""Exported DICOM slices get their DICOM SEG lesion mask beside them.

The series is a crop of Colin27 written as classic MR files with an oblique affine, and the
SEG contains one lesion segment on its grid. The exported mask must match the stored mask
semantics of the slice: the same area and centroid in the display frame.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from sqlalchemy import update

from db.models import Case
from dicom_synthetic import Canaries, colin_crop, oblique_affine, write_seg, write_series
from engine.errors import InvalidInputError
from engine.io.dicom_import import add_dicom
from engine.io.store import get_or_create_dataset
from engine.pipeline.export_images import mask_image_path
from engine.pipeline.export_instructions import export_instructions
from engine.pipeline.runs import open_run
from engine.pipeline.stages import run_samples, run_stages
from engine.semantics.store import compute_dataset
from pipeline_data import lesion_labels


@pytest.fixture
def seg_run(db, tmp_path, mricron):
    """A DICOM dataset of one glioma case with a SEG lesion, through generate and split."""
    raw, _ = colin_crop(mricron)
    written = write_series(tmp_path / "study" / "t1ce", raw, oblique_affine(), Canaries())
    lesion = lesion_labels(raw.shape, (45, 70, 6), seed=2) > 0
    seg_path = tmp_path / "study" / "seg" / "lesion.dcm"
    write_seg(seg_path, written, {1: ("Lesion", lesion)})
    with db.session(write=True) as session:
        dataset = get_or_create_dataset(session, "dicom", "dicom")
        add_dicom(session, dataset, tmp_path / "study")
        session.execute(update(Case).values(tumour_type="glioma"))
        dataset_id = dataset.id
    compute_dataset(db, dataset_id)

    run = open_run(db, "seg", "dicom", {"benchmark_share": 0.0})
    run_stages(db, run.name, ["description", "generate", "split"])
    [sample] = run_samples(db, run)
    return run, sample, seg_path


def test_seg_mask_exported_beside_slice(db, tmp_path, seg_run):
    run, sample, _ = seg_run
    assert sample.file_format == "dicom"
    assert sample.mask is not None
    out = tmp_path / "out"

    result = export_instructions(db, run, [sample], out)

    assert result["images"] == {"rendered": 1, "copied": 0, "masks": 1}
    image = cv2.imread(str(out / sample.sample_id), cv2.IMREAD_UNCHANGED)
    assert image.shape == (sample.height, sample.width)
    mask = cv2.imread(str(out / mask_image_path(sample.sample_id)), cv2.IMREAD_UNCHANGED)
    assert mask.shape == image.shape
    assert set(np.unique(mask)) == {0, 255}
    rows, columns = np.nonzero(mask)
    assert rows.size == sample.mask.area_px
    assert abs(columns.mean() - sample.mask.centroid_x) < 0.5
    assert abs(rows.mean() - sample.mask.centroid_y) < 0.5


def test_changed_seg_stops_export(db, tmp_path, seg_run):
    run, sample, seg_path = seg_run
    seg_path.write_bytes(seg_path.read_bytes() + b"\0\0")
    out = tmp_path / "out"

    with pytest.raises(InvalidInputError) as raised:
        export_instructions(db, run, [sample], out)

    assert str(raised.value) == (f"mask file '{seg_path}' changed since it was imported; "
                                 "re-import it so its rows match")
    assert not (out / mask_image_path(sample.sample_id)).exists()
