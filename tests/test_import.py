"""Importing real NIfTI volumes, BraTS case folders and MM-NeuroOnco 2D trees into SQLite."""

from __future__ import annotations

import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from nibabel.testing import data_path
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from db.models import Case, Dataset, Mask, Series, Slice
from engine.errors import Cancelled, InvalidInputError
from engine.io import store
from engine.io.importer import import_paths
from engine.progress import Progress
from import_trees import build_brats_case, build_layout, write_png

NIBABEL_DATA = Path(data_path)


def row_counts(db) -> dict[str, int]:
    with db.session() as session:
        return {model.__tablename__: session.scalar(select(func.count()).select_from(model))
                for model in (Dataset, Case, Series, Slice, Mask)}


def test_ch2_with_aal_label_map(db, mricron):
    summary = import_paths(db, [mricron / "ch2.nii.gz"], masks=[mricron / "aal.nii.gz"])
    assert summary.dataset == "ch2"
    assert summary.added == {"cases": 1, "series": 1, "slices": 181, "masks": 1}
    with db.session() as session:
        series = session.scalars(select(Series)).one()
        mask = session.scalars(select(Mask)).one()
        case = session.get(Case, series.case_id)
        has_mask = session.scalars(select(Slice.has_mask).where(Slice.series_id == series.id)
                                   .order_by(Slice.index)).all()
    expected = nib.load(str(mricron / "ch2.nii.gz"))
    labelled = np.asarray(nib.load(str(mricron / "aal.nii.gz")).dataobj).any(axis=(0, 1))
    assert case.pseudonym == "ch2"
    assert series.shape == [181, 217, 181]
    np.testing.assert_allclose(series.affine, expected.affine)
    assert (series.kind, series.file_format, series.dtype) == ("volume", "nifti", "uint8")
    assert series.voxel_spacing == [1.0, 1.0, 1.0]
    assert series.intensity["max"] == float(np.asarray(expected.dataobj).max())
    assert (mask.kind, mask.file_format, mask.shape) == ("label-map", "nifti", [181, 217, 181])
    assert mask.reference_series_id == series.id
    assert mask.label_names["1"] == "Precentral_L"
    assert len(mask.label_names) == 116
    assert has_mask == labelled.tolist()  # axial slices (axis 2) with an AAL label
    assert 0 < sum(has_mask) < 181


def test_reimport_adds_nothing(db, mricron):
    first = import_paths(db, [mricron / "ch2.nii.gz"], masks=[mricron / "aal.nii.gz"])
    counts = row_counts(db)
    again = import_paths(db, [mricron / "ch2.nii.gz"], masks=[mricron / "aal.nii.gz"])
    assert row_counts(db) == counts
    assert again.added == {"cases": 0, "series": 0, "slices": 0, "masks": 0}
    assert again.present == first.added
    assert not again.added_anything
    assert again.lines()[0] == ("nothing new: all 1 case, 1 series, 181 slices, 1 mask were "
                                "already in dataset 'ch2'")


def test_nibabel_las_and_4d_samples(db):
    import_paths(db, [NIBABEL_DATA / "anatomical.nii"], dataset="samples")
    import_paths(db, [NIBABEL_DATA / "example4d.nii.gz"], dataset="samples", volume_index=1)
    with db.session() as session:
        rows = {Path(series.source_path).name: series for series in session.scalars(select(Series))}
    anatomical, fourd = rows["anatomical.nii"], rows["example4d.nii.gz"]
    assert nib.aff2axcodes(np.array(anatomical.affine)) == ("L", "A", "S")
    assert anatomical.shape == [33, 41, 25]
    assert anatomical.dtype == "int16"
    assert (fourd.volume_index, fourd.volume_count, fourd.shape) == (1, 2, [128, 96, 24])
    np.testing.assert_allclose(fourd.affine, nib.load(str(NIBABEL_DATA / "example4d.nii.gz")).affine,
                               atol=1e-6)


def test_4d_other_volume_is_new_series(db):
    path = NIBABEL_DATA / "example4d.nii.gz"
    import_paths(db, [path], volume_index=0)
    summary = import_paths(db, [path], volume_index=1)
    assert summary.added["series"] == 1
    assert summary.present["cases"] == 1


@pytest.mark.parametrize("names, labels, enhancing", [
    (None, (1, 2, 4), "4"),
    ({"t1": "t1n", "t1ce": "t1c", "t2": "t2w", "flair": "t2f"}, (1, 2, 3), "3"),
])
def test_brats_case_folder(db, tmp_path, mricron, names, labels, enhancing):
    folder = build_brats_case(tmp_path / "BraTS-GLI-00001-000", mricron, names, labels)
    summary = import_paths(db, [folder])
    assert summary.added == {"cases": 1, "series": 4, "slices": 4 * 181, "masks": 1}
    with db.session() as session:
        case = session.scalars(select(Case)).one()
        series = session.scalars(select(Series).order_by(Series.modality)).all()
        mask = session.scalars(select(Mask)).one()
        flags = session.execute(select(Slice.index, Slice.has_mask)).all()
    assert case.pseudonym == "BraTS-GLI-00001-000"
    assert [row.modality for row in series] == ["FLAIR", "T1", "T1CE", "T2"]
    assert all(row.shape == [181, 217, 181] for row in series)
    assert all(row.affine == series[0].affine for row in series)
    assert mask.label_names == {"1": "necrotic core", "2": "oedema", enhancing: "enhancing tumour"}
    assert mask.reference_series_id in {row.id for row in series}
    assert len(flags) == 4 * 181
    # The synthetic labels fill axial slices 70 to 109 of every modality.
    assert sorted(index for index, has_mask in flags if has_mask) == sorted(list(range(70, 110)) * 4)


def test_brats_seg_on_other_grid_rejected(db, tmp_path, mricron):
    folder = build_brats_case(tmp_path / "BraTS2021_00002", mricron)
    seg = folder / "BraTS2021_00002_seg.nii.gz"
    image = nib.load(str(seg))
    nib.save(nib.Nifti1Image(np.asarray(image.dataobj)[:, :, :180], image.affine), str(seg))
    with pytest.raises(InvalidInputError) as error:
        import_paths(db, [folder])
    assert str(error.value) == (
        f"mask '{seg}' has shape (181, 217, 180) but image '{folder / 'BraTS2021_00002_flair.nii.gz'}'"
        " has (181, 217, 181); masks are never transposed or resampled, so export the mask on "
        "the image's grid"
    )
    assert row_counts(db) == dict.fromkeys(("dataset", "case", "series", "slice", "mask"), 0)


def test_label_map_with_shifted_affine_rejected(db, tmp_path, mricron):
    aal = nib.load(str(mricron / "aal.nii.gz"))
    shifted = aal.affine.copy()
    shifted[:3, 3] += (0.0, 0.0, 1.0)
    mask = tmp_path / "aal_shifted.nii.gz"
    nib.save(nib.Nifti1Image(np.asarray(aal.dataobj), shifted), str(mask))
    with pytest.raises(InvalidInputError, match=r"different affine \(largest difference 1, "):
        import_paths(db, [mricron / "ch2.nii.gz"], masks=[mask])


def test_folder_of_nifti_pairs_masks_by_name(db, tmp_path, mricron):
    folder = tmp_path / "scans"
    folder.mkdir()
    shutil.copy(mricron / "ch2.nii.gz", folder / "colin.nii.gz")
    shutil.copy(mricron / "aal.nii.gz", folder / "colin_mask.nii.gz")
    shutil.copy(NIBABEL_DATA / "anatomical.nii", folder / "anatomical_t2.nii")
    summary = import_paths(db, [folder])
    assert summary.added == {"cases": 2, "series": 2, "slices": 181 + 25, "masks": 1}
    with db.session() as session:
        cases = {case.pseudonym: case for case in session.scalars(select(Case))}
        modalities = {case_id: modality for case_id, modality
                      in session.execute(select(Series.case_id, Series.modality))}
        mask = session.scalars(select(Mask)).one()
    assert set(cases) == {"colin", "anatomical_t2"}
    assert modalities[cases["anatomical_t2"].id] == "T2"
    assert mask.case_id == cases["colin"].id
    assert mask.label_names == {str(v): f"label {v}" for v in range(1, 117)}


def test_layout_tree(db, tmp_path, mricron):
    root = tmp_path / "MM-NeuroOnco"
    expected = build_layout(root, mricron)
    summary = import_paths(db, [root])

    assert summary.dataset == "MM-NeuroOnco"
    assert summary.data_root == str(root)
    assert summary.added["series"] == len(expected)
    assert summary.added["slices"] == len(expected)

    with db.session() as session:
        dataset = session.scalars(select(Dataset)).one()
        rows = session.execute(
            select(Slice.image_path, Slice.has_mask, Series.modality, Series.shape, Series.kind,
                   Case.pseudonym, Case.tumour_type, Case.source, Case.id)
            .join(Series, Slice.series_id == Series.id).join(Case, Series.case_id == Case.id)
        ).all()
        mask_kinds = {case_id: kind for case_id, kind in session.execute(select(Mask.case_id, Mask.kind))}

    assert dataset.data_root == str(root)
    assert dataset.kind == "mm-neuroonco"
    assert {row.image_path for row in rows} == set(expected)

    for row in rows:
        want = expected[row.image_path]
        assert row.modality == want["modality"], row.image_path
        assert row.tumour_type == want["tumour_type"], row.image_path
        assert row.source == want["source"], row.image_path
        assert row.pseudonym == want["case"], row.image_path
        assert row.has_mask == (want["mask_kind"] is not None), row.image_path
        assert mask_kinds.get(row.id) == want["mask_kind"], row.image_path
        assert row.shape == [181, 217], row.image_path
        assert row.kind == "image2d", row.image_path

    # The four BraTS modality images share one case and one _seg mask.
    assert summary.added["cases"] == len(expected) - 3
    assert summary.added["masks"] == 6


def test_layout_mask_mismatch_names_both_files(db, tmp_path, mricron):
    root = tmp_path / "root"
    build_layout(root, mricron)
    mask = root / "meningioma/10_t1_t2_mask/420_mask.png"
    write_png(mask, np.zeros((217, 181), np.uint8))  # transposed
    with pytest.raises(InvalidInputError) as error:
        import_paths(db, [root])
    assert str(error.value) == (
        f"mask '{mask}' has shape (217, 181) but image '{root / 'meningioma/10_t1_t2_mask/420.png'}'"
        " has (181, 217); masks are never transposed or resampled, so export the mask on the "
        "image's grid"
    )
    assert row_counts(db)["slice"] == 0


def test_layout_reimport_and_part(db, tmp_path, mricron):
    root = tmp_path / "root"
    build_layout(root, mricron)
    first = import_paths(db, [root])
    counts = row_counts(db)
    again = import_paths(db, [root])
    part = import_paths(db, [root / "glioma"])
    assert row_counts(db) == counts
    assert again.present == first.added
    assert part.dataset == "root"  # the data root is found from the class folder
    assert part.present["series"] == 5
    assert not part.added_anything


def test_layout_skips_unpaired_masks(db, tmp_path, mricron):
    root = tmp_path / "root"
    build_layout(root, mricron)
    stray = write_png(root / "glioma/10_t1_t2_mask/lost_mask.png", np.zeros((4, 4), np.uint8))
    (root / "glioma/10_t1_t2_mask/README.txt").write_text("source 10\n")
    summary = import_paths(db, [root])
    assert f"{stray}: mask without a matching image" in summary.skipped
    assert any(entry.endswith("README.txt: not an image (text)") for entry in summary.skipped)


def test_duplicate_modality_content_kept_once(db, tmp_path):
    case = tmp_path / "root/glioma/16_t1_t2_t1ce_flair_mask/BraTS2021_00003"
    blank = np.zeros((16, 16), np.uint8)
    write_png(case / "BraTS2021_00003_t1.png", blank)
    write_png(case / "BraTS2021_00003_t2.png", blank)
    write_png(case / "BraTS2021_00003_seg.png", blank)
    summary = import_paths(db, [tmp_path / "root"])
    assert summary.added["series"] == 1
    assert summary.duplicates == [
        f"{case / 'BraTS2021_00003_t2.png'}: same content as {case / 'BraTS2021_00003_t1.png'}"]


def test_other_data_root_rejected(db, tmp_path, mricron):
    build_layout(tmp_path / "a/root", mricron)
    build_layout(tmp_path / "b/root", mricron)
    import_paths(db, [tmp_path / "a/root"], dataset="mm")
    with pytest.raises(InvalidInputError) as error:
        import_paths(db, [tmp_path / "b/root"], dataset="mm")
    assert str(error.value) == (
        f"dataset 'mm' has data root '{tmp_path / 'a/root'}', but these images are under "
        f"'{tmp_path / 'b/root'}'; import them into another dataset with --dataset"
    )


def test_failure_while_writing_leaves_no_rows(db, tmp_path, mricron, monkeypatch):
    import_paths(db, [NIBABEL_DATA / "anatomical.nii"], dataset="layout")
    before = row_counts(db)
    build_layout(tmp_path / "root", mricron)
    # A database error in a series insert that comes after earlier chunks were written.
    monkeypatch.setattr(store, "WRITE_CHUNK", 1)
    with db.engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TRIGGER fail_on_healthy AFTER INSERT ON series "
            "WHEN NEW.source_path LIKE '%healthy_09_t2%' BEGIN SELECT RAISE(ABORT, 'disk full'); END"
        )
    with pytest.raises(IntegrityError, match="disk full"):
        import_paths(db, [tmp_path / "root"], dataset="layout")
    assert row_counts(db) == before
    with db.session() as session:
        assert session.scalar(select(Dataset.data_root).where(Dataset.name == "layout")) is None


def test_cancel_while_reading_leaves_no_rows(db, tmp_path, mricron):
    build_layout(tmp_path / "root", mricron)
    with pytest.raises(Cancelled):
        import_paths(db, [tmp_path / "root"], progress=CancelAfterFiles(3))
    assert row_counts(db) == dict.fromkeys(("dataset", "case", "series", "slice", "mask"), 0)


class CancelAfterFiles(Progress):
    """Cancels like a user pressing Cancel after a few files were read."""

    def __init__(self, files: int) -> None:
        super().__init__()
        self.files = files

    def report(self) -> None:
        if self.message.startswith("reading") and self.done >= self.files:
            raise Cancelled()


def test_missing_path_rejected(db, tmp_path):
    with pytest.raises(InvalidInputError) as error:
        import_paths(db, [tmp_path / "nowhere"])
    assert str(error.value) == (
        f"path '{tmp_path / 'nowhere'}' does not exist; check the spelling, or mount the drive")


def test_symlinked_folders_followed_once(db, tmp_path, mricron):
    real = tmp_path / "store/BraTS2021_00009"
    build_brats_case(real, mricron)
    root = tmp_path / "linked"
    root.mkdir()
    (root / "BraTS2021_00009").symlink_to(real, target_is_directory=True)
    (real / "loop").symlink_to(root, target_is_directory=True)
    summary = import_paths(db, [root])
    assert summary.added["cases"] == 1
    assert summary.added["series"] == 4


def test_long_case_name_shortened(db, tmp_path, mricron):
    folder = tmp_path / ("x" * 120) / ("y" * 120)
    image = write_png(folder / "slice.png", np.zeros((8, 8), np.uint8))
    import_paths(db, [tmp_path], dataset="long")
    with db.session() as session:
        pseudonym = session.scalars(select(Case.pseudonym)).one()
        image_path = session.scalars(select(Slice.image_path)).one()
    assert len(pseudonym) <= 200
    assert pseudonym.startswith("x" * 120 + "/" + "y" * 60)
    assert image_path == image.relative_to(tmp_path).as_posix()


def test_brats_modalities_on_other_grids_rejected(db, tmp_path, mricron):
    folder = build_brats_case(tmp_path / "BraTS2021_00010", mricron)
    flair = folder / "BraTS2021_00010_flair.nii.gz"
    image = nib.load(str(flair))
    moved = image.affine.copy()
    moved[0, 3] += 5.0
    nib.save(nib.Nifti1Image(np.asarray(image.dataobj), moved), str(flair))
    with pytest.raises(InvalidInputError) as error:
        import_paths(db, [folder])
    assert str(error.value) == (
        f"case 'BraTS2021_00010': images '{flair}' and '{folder / 'BraTS2021_00010_t1.nii.gz'}' "
        "are on different grids (shapes (181, 217, 181) and (181, 217, 181), different "
        "affines); the modalities of a BraTS case must be co-registered on one grid, so "
        "export them that way"
    )


def test_4d_label_map_rejected(db, tmp_path):
    mask = tmp_path / "labels.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((128, 96, 24, 2), np.uint8),
                             nib.load(str(NIBABEL_DATA / "example4d.nii.gz")).affine), str(mask))
    with pytest.raises(InvalidInputError) as error:
        import_paths(db, [NIBABEL_DATA / "example4d.nii.gz"], masks=[mask])
    assert str(error.value) == (
        f"NIfTI file '{mask}' has 2 volumes, but a label map must have one; save the label map "
        "as a single 3D volume"
    )


def test_image_outside_data_root_rejected(db, tmp_path):
    image = write_png(tmp_path / "elsewhere/slice.png", np.zeros((8, 8), np.uint8))
    (tmp_path / "root").mkdir()
    with pytest.raises(InvalidInputError) as error:
        import_paths(db, [image], data_root=tmp_path / "root")
    assert str(error.value) == (
        f"image '{image}' is outside the data root '{tmp_path / 'root'}'; pass the folder that "
        "contains it with --data-root"
    )


def test_dangling_link_listed_as_skipped(db, tmp_path):
    image = write_png(tmp_path / "scans/slice.png", np.zeros((8, 8), np.uint8))
    (tmp_path / "scans/gone.png").symlink_to(tmp_path / "nowhere.png")
    summary = import_paths(db, [tmp_path / "scans"])
    assert summary.added["slices"] == 1
    assert summary.skipped == [f"{image.parent / 'gone.png'}: the file or its link target does not exist"]


def test_mask_added_later_marks_slices(db, mricron):
    import_paths(db, [mricron / "ch2.nii.gz"], dataset="colin")
    with db.session() as session:
        assert not any(session.scalars(select(Slice.has_mask)))
    summary = import_paths(db, [mricron / "ch2.nii.gz"], dataset="colin", masks=[mricron / "aal.nii.gz"])
    labelled = np.asarray(nib.load(str(mricron / "aal.nii.gz")).dataobj).any(axis=(0, 1))
    with db.session() as session:
        has_mask = session.scalars(select(Slice.has_mask).order_by(Slice.index)).all()
    assert summary.added == {"cases": 0, "series": 0, "slices": 0, "masks": 1}
    assert has_mask == labelled.tolist()


def test_empty_2d_mask_kept_without_has_mask(db, tmp_path):
    folder = tmp_path / "root/meningioma/10_t1_t2_mask"
    write_png(folder / "1.png", np.full((16, 16), 90, np.uint8))
    write_png(folder / "1_mask.png", np.full((16, 16), 127, np.uint8))  # not > 127
    summary = import_paths(db, [tmp_path / "root"])
    with db.session() as session:
        has_mask = session.scalars(select(Slice.has_mask)).one()
    assert summary.added["masks"] == 1
    assert has_mask is False
