"""Semantics stored in the database after imports: 2D layouts, BraTS volumes, the demo study."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from sqlalchemy import func, select

from conftest import run_cli
from db.models import Case, Mask, MaskRegionSummary, Semantics, Series, Slice
from engine.errors import InvalidInputError
from engine.io.importer import import_paths
from engine.semantics.rules import mask_semantics
from engine.semantics.store import compute_dataset
from import_trees import BRATS_CASE, build_brats_case, build_layout, disc_mask


def _dataset_id(db, name):
    from engine.semantics.store import dataset_id_by_name

    return dataset_id_by_name(db, name)


def test_layout_semantics_on_every_modality(db, tmp_path, mricron):
    root = tmp_path / "root"
    build_layout(root, mricron)
    import_paths(db, [root], dataset="layout")
    summary = compute_dataset(db, _dataset_id(db, "layout"))
    assert summary.masks_done == 6 and summary.masks_skipped == 0

    with db.session() as session:
        rows = session.execute(
            select(Slice.image_path, Semantics.size, Semantics.location, Semantics.area_px)
            .join(Semantics, Semantics.slice_id == Slice.id)
        ).all()
        brats = [row for row in rows if BRATS_CASE in row.image_path]
        described = session.scalar(
            select(Slice.coarse_description).where(Slice.image_path.like("%420.png")))
        healthy = session.scalar(
            select(Slice.coarse_description).where(Slice.image_path.like("healthy/%")))

    # The BraTS _seg image lies on all four modality images of its case.
    assert len(brats) == 4
    from import_trees import ch2_axial_slice

    expected = mask_semantics(disc_mask(ch2_axial_slice(mricron).shape, (100, 90), 20))
    assert {(row.size, row.location, row.area_px) for row in brats} == {
        (expected.size, expected.location, expected.area_px)}
    assert described.startswith("A brain MRI scan showing signs of Meningioma.")
    assert f"The mass is {expected.size.lower()}" in described
    assert healthy == ("A T2 brain MRI scan. The scan appears normal with no visible "
                       "pathological findings.")


def test_brats_volume_regions_and_summaries(db, tmp_path, mricron):
    folder = build_brats_case(tmp_path / "BraTS2021_00042", mricron)
    import_paths(db, [folder], dataset="brats")
    compute_dataset(db, _dataset_id(db, "brats"))
    with db.session() as session:
        summaries = {row.region: row for row in session.scalars(select(MaskRegionSummary))}
        per_region = dict(session.execute(
            select(Semantics.region, func.count()).group_by(Semantics.region)).all())
        series_count = session.scalar(select(func.count()).select_from(Series))
    # Nested boxes: WT 60x60x40 voxels, TC = labels 1 and 4 (outer box minus the oedema box
    # plus the enhancing box), ET 20x20x10; 1 mm voxels.
    assert summaries["WT"].voxel_count == 60 * 60 * 40
    assert summaries["ET"].voxel_count == 20 * 20 * 10
    assert summaries["TC"].voxel_count == 60 * 60 * 40 - 40 * 40 * 20 + 20 * 20 * 10
    assert summaries["WT"].volume_ml == pytest.approx(144.0)
    assert summaries["WT"].slices_with_lesion == 40
    # One row per lesion slice, region and co-registered series.
    assert series_count == 4
    assert per_region == {"WT": 40 * 4, "TC": 40 * 4, "ET": 10 * 4}


def test_resume_skips_finished_masks(db, tmp_path, mricron):
    root = tmp_path / "root"
    build_layout(root, mricron)
    import_paths(db, [root], dataset="layout")
    dataset_id = _dataset_id(db, "layout")
    first = compute_dataset(db, dataset_id)
    with db.session() as session:
        before = session.scalar(select(func.count()).select_from(Semantics))
    again = compute_dataset(db, dataset_id)
    assert (again.masks_done, again.masks_skipped) == (0, first.masks_done)
    redone = compute_dataset(db, dataset_id, recompute=True)
    assert redone.masks_done == first.masks_done
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Semantics)) == before


def test_changed_mask_file_rejected(db, tmp_path, mricron):
    root = tmp_path / "root"
    build_layout(root, mricron)
    import_paths(db, [root], dataset="layout")
    mask_path = root / "meningioma/10_t1_t2_mask/420_mask.png"
    shutil.copy(root / "glioma/10_t1_t2_mask/Glioblastoma_t1_086.jpg", mask_path)
    with pytest.raises(InvalidInputError, match="420_mask.png' changed since it was imported"):
        compute_dataset(db, _dataset_id(db, "layout"))


def test_import_cli_computes_semantics(db_url, tmp_path, mricron):
    folder = build_brats_case(tmp_path / "BraTS2021_00007", mricron)
    result = run_cli(db_url, "import", str(folder), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["semantics"]["masks_done"] == 1
    skipped = run_cli(db_url, "import", str(folder), "--no-semantics", "--json")
    assert "semantics" not in json.loads(skipped.stdout)


def test_demo_study(db_url):
    result = run_cli(db_url, "demo", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["created"] is True
    again = run_cli(db_url, "demo", "--json")
    assert json.loads(again.stdout)["created"] is False

    from db.session import open_database

    from db.models import Dataset
    from engine.demo import DEMO_DATASET

    db = open_database(db_url)
    with db.session() as session:
        demo = select(Dataset.id).where(Dataset.name == DEMO_DATASET)
        case = session.scalars(select(Case).where(Case.dataset_id.in_(demo))).one()
        mask = session.scalars(select(Mask).where(Mask.case_id == case.id)).one()
        lesion_slices = session.scalar(
            select(func.count()).select_from(Semantics).where(Semantics.region == "WT"))
        description = session.scalar(
            select(Slice.coarse_description).join(Semantics, Semantics.slice_id == Slice.id)
            .where(Semantics.region == "WT").limit(1))
        lesion_free = session.scalar(
            select(Slice.coarse_description).where(Slice.has_mask.is_(False)).limit(1))
    db.dispose()
    assert mask.is_synthetic
    assert mask.label_names == {"1": "necrotic core", "2": "oedema", "4": "enhancing tumour"}
    assert case.tumour_type == "tumor"
    assert lesion_slices == 38
    assert description.startswith("A T1 brain MRI scan showing a brain tumor.")
    assert lesion_free.endswith("The segmentation mask shows no lesion on this slice.")

    listing = run_cli(db_url, "datasets", "list", "--json")
    (row,) = json.loads(listing.stdout)
    assert (row["name"], row["slices"], row["masks"], row["synthetic"]) == (DEMO_DATASET, 160, 1, True)
    deleted = run_cli(db_url, "datasets", "delete", DEMO_DATASET)
    assert deleted.returncode == 0, deleted.stderr
    assert json.loads(run_cli(db_url, "datasets", "list", "--json").stdout) == []


def test_demo_benchmark_oracle_session(db_url):
    created = run_cli(db_url, "demo", "--json")
    assert json.loads(created.stdout)["benchmark"] == "Demo benchmark"
    stats = json.loads(run_cli(db_url, "bench", "stats", "Demo benchmark", "--json").stdout)
    assert stats["items"] == 13 and stats["images_missing"] == 0
    assert stats["traps"] > 0

    # Every item is linked to the demo volume slice its image was rendered from.
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    with engine.connect() as connection:
        linked = connection.execute(text(
            "SELECT item.image_path, slice.\"index\" FROM benchmark_item item "
            "JOIN slice ON slice.id = item.slice_id")).all()
    engine.dispose()
    assert len(linked) == 13
    assert all(path.endswith(f"_{index}.png") for path, index in linked)

    session = run_cli(db_url, "bench", "run", "--benchmark", "Demo benchmark",
                      "--model", "baseline:semantics-oracle", "--setting", "rejection-aware",
                      "--name", "oracle")
    assert session.returncode == 0, session.stderr
    metrics = json.loads(run_cli(db_url, "bench", "metrics", "oracle", "--json").stdout)
    closed = metrics["closed"] if "closed" in metrics else metrics
    by_type = closed["by_type"]
    # The oracle reads the same mask semantics the questions were generated from.
    for question_type in ("size", "shape", "spread", "location"):
        assert by_type[question_type]["accuracy"] == 1.0, question_type
    assert by_type["diagnosis"]["correct"] == 0  # it abstains on diagnosis
