"""``neuroonco import`` from the command line: summaries, jobs, and bad input.

Every bad input must print exactly one ``error:`` line naming the file and what to do,
exit 1, and leave the database byte-for-byte unchanged.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom.data
import pytest
from nibabel.testing import data_path

from conftest import run_cli
from engine.jobs import queue
from import_trees import build_brats_case, build_layout, ch2_axial_slice, write_png

NIBABEL_DATA = Path(data_path)
DICOM_FILES = Path(pydicom.data.__file__).parent / "test_files"


def database_dump(db_url: str) -> str:
    """Every table's schema and rows, as SQL text (reads the WAL too)."""
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as connection:
        return "\n".join(connection.iterdump())


@pytest.fixture
def seeded_db(db, db_url, tmp_path, mricron):
    """A database that already contains one import, so "unchanged" is not trivially empty."""
    seed = write_png(tmp_path / "seed/slice.png", ch2_axial_slice(mricron))
    result = run_cli(db_url, "import", str(seed), "--dataset", "seed")
    assert result.returncode == 0, result.stderr
    return db


def test_summary_printed(db, db_url, mricron):
    result = run_cli(db_url, "import", str(mricron / "ch2.nii.gz"), "--mask",
                     str(mricron / "aal.nii.gz"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "created dataset 'ch2'",
        "added: 1 case, 1 series, 181 slices, 1 mask",
        "semantics: 1 masks computed, 0 already done",
    ]
    again = run_cli(db_url, "import", str(mricron / "ch2.nii.gz"), "--mask",
                    str(mricron / "aal.nii.gz"), "--json")
    summary = json.loads(again.stdout)
    assert summary["added"] == {"cases": 0, "series": 0, "slices": 0, "masks": 0}
    assert summary["present"] == {"cases": 1, "series": 1, "slices": 181, "masks": 1}


@pytest.mark.parametrize("named", [["lesion.nii.gz"], ["lesion.nii.gz", "lesion_mask.nii.gz"]])
def test_named_file_gets_sidecar_mask(db, db_url, tmp_path, mricron, named):
    folder = tmp_path / "case"
    folder.mkdir()
    (folder / "lesion.nii.gz").symlink_to(mricron / "ch2.nii.gz")
    (folder / "lesion_mask.nii.gz").symlink_to(mricron / "aal.nii.gz")
    result = run_cli(db_url, "import", *(str(folder / name) for name in named), "--json",
                     "--no-semantics")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["added"]["cases"] == 1
    assert summary["added"]["series"] == 1
    assert summary["added"]["masks"] == 1


def test_layout_import_records_data_root(db, db_url, tmp_path, mricron):
    root = tmp_path / "data"
    expected = build_layout(root, mricron)
    result = run_cli(db_url, "import", str(root / "glioma"), "--data-root", str(root),
                     "--dataset", "mm", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["data_root"] == str(root)
    assert summary["added"]["slices"] == sum(1 for path in expected if path.startswith("glioma/"))


@pytest.mark.slow
def test_import_job_runs_in_worker(db, db_url, tmp_path, mricron):
    folder = build_brats_case(tmp_path / "BraTS2021_00005", mricron)
    queued = run_cli(db_url, "import", str(folder), "--job", "--json")
    assert queued.returncode == 0, queued.stderr
    job_id = json.loads(queued.stdout)["job"]
    assert queue.get_job(db, job_id).params["paths"] == [str(folder)]
    worked = run_cli(db_url, "worker", "--once", timeout=300)
    assert worked.returncode == 0, worked.stderr
    job = queue.get_job(db, job_id)
    assert job.state == "succeeded", job.log
    assert job.result["added"] == {"cases": 1, "series": 4, "slices": 724, "masks": 1}
    assert "added: 1 case, 4 series, 724 slices, 1 mask" in job.log
    # The last phase is the semantics: one mask, then the coarse descriptions.
    assert job.progress_done == job.progress_total == 2
    assert job.result["semantics"]["masks_done"] == 1


def _truncated_gzip(tmp_path: Path) -> tuple[list[str], str]:
    content = (NIBABEL_DATA / "example4d.nii.gz").read_bytes()
    path = tmp_path / "cut.nii.gz"
    path.write_bytes(content[: len(content) // 2])
    return [str(path)], (
        f"NIfTI file '{path}' could not be read: it is truncated or damaged (Compressed file "
        "ended before the end-of-stream marker was reached); copy or export it again")


def _gzip_cut_in_header(tmp_path: Path) -> tuple[list[str], str]:
    content = (NIBABEL_DATA / "example4d.nii.gz").read_bytes()
    path = tmp_path / "cut100.nii.gz"
    path.write_bytes(content[:100])
    return [str(path)], (
        f"NIfTI file '{path}' could not be read: it is truncated or damaged (its gzip stream "
        "holds no complete NIfTI header); copy or export it again")


def _singular_affine(tmp_path: Path) -> tuple[list[str], str]:
    header = nib.Nifti1Header()
    header.set_data_shape((4, 4, 4))
    header.set_data_dtype(np.int16)
    header.set_sform(np.diag([1.0, 1.0, 0.0, 1.0]), code="scanner")
    header.set_qform(None, code="unknown")
    path = tmp_path / "flat.nii.gz"
    nib.save(nib.Nifti1Image(np.ones((4, 4, 4), np.int16), None, header=header), str(path))
    return [str(path)], (
        f"NIfTI file '{path}' has a singular affine [1 0 0 0; 0 1 0 0; 0 0 0 0], so its voxels "
        "have no position in space; fix the sform/qform of its header and import it again")


def _mask_shape_mismatch(tmp_path: Path) -> tuple[list[str], str]:
    folder = tmp_path / "data/meningioma/10_t1_t2_mask"
    image = write_png(folder / "420.png", np.zeros((240, 240), np.uint8))
    mask = write_png(folder / "420_mask.png", np.zeros((240, 200), np.uint8))
    return [str(tmp_path / "data")], (
        f"mask '{mask}' has shape (240, 200) but image '{image}' has (240, 240); masks are "
        "never transposed or resampled, so export the mask on the image's grid")


def _undecodable_png(tmp_path: Path) -> tuple[list[str], str]:
    folder = tmp_path / "data/glioma/10_t1_t2_mask"
    write_png(folder / "good.png", np.zeros((8, 8), np.uint8))
    content = write_png(folder / "bad.png", np.arange(64, dtype=np.uint8).reshape(8, 8)).read_bytes()
    (folder / "bad.png").write_bytes(content[:40] + b"\x00" * 30)
    return [str(tmp_path / "data")], (
        f"PNG image '{folder / 'bad.png'}' could not be decoded (the file is truncated or "
        "damaged); export or copy it again, or remove it from the folder")


def _missing_path(tmp_path: Path) -> tuple[list[str], str]:
    path = tmp_path / "no/such/scan.nii.gz"
    return [str(path)], f"path '{path}' does not exist; check the spelling, or mount the drive"


def _volume_out_of_range(tmp_path: Path) -> tuple[list[str], str]:
    path = NIBABEL_DATA / "example4d.nii.gz"
    return [str(path), "--volume", "7"], (
        f"NIfTI file '{path}' has 2 volumes; volume index 7 is out of range "
        "(choose 0 to 1 with --volume)")


def _benchmark_json(tmp_path: Path) -> tuple[list[str], str]:
    path = Path(__file__).resolve().parents[2] / "shared/data/mm-neuroonco/mm-neuroonco_benchmark_closed_v1.0.json"
    if not path.exists():
        pytest.skip("the MM-NeuroOnco benchmark files are not beside the repository")
    return [str(path)], (
        f"'{path}' is an MM-NeuroOnco benchmark file; import it with "
        f"'neuroonco bench import --closed {path}' (or --open), not 'neuroonco import'")


def _dicom_without_pixels(tmp_path: Path) -> tuple[list[str], str]:
    import pydicom

    header = pydicom.dcmread(DICOM_FILES / "MR_small.dcm")
    del header.PixelData
    path = tmp_path / "no_pixels.dcm"
    header.save_as(path)
    return [str(path)], (
        f"DICOM file {path} has no pixel data (no image, or the file is truncated); "
        "only DICOM images and DICOM SEG files can be imported")


def _text_named_dcm(tmp_path: Path) -> tuple[list[str], str]:
    path = tmp_path / "notes.dcm"
    path.write_text("patient notes, not an image\n")
    return [str(path)], (
        f"'{path}' is not a NIfTI, DICOM, PNG or JPEG file (it has a .dcm name but no DICOM "
        "header); check the file, or import the folder that contains your images")


@pytest.mark.parametrize("make_input", [
    _truncated_gzip, _gzip_cut_in_header, _singular_affine, _mask_shape_mismatch, _undecodable_png, _missing_path,
    _volume_out_of_range, _benchmark_json, _dicom_without_pixels, _text_named_dcm,
], ids=lambda make: make.__name__.strip("_"))
def test_bad_input_one_line_and_no_change(seeded_db, db_url, tmp_path, make_input):
    arguments, message = make_input(tmp_path)
    before = database_dump(db_url)
    result = run_cli(db_url, "import", *arguments)
    assert result.returncode == 1
    assert result.stderr == f"error: {message}\n"
    assert result.stdout == ""
    assert database_dump(db_url) == before


def test_negative_volume_is_usage_error(db, db_url):
    result = run_cli(db_url, "import", str(NIBABEL_DATA / "example4d.nii.gz"), "--volume", "-1")
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        "error: argument --volume: volume index must be 0 or more, not -1")


@pytest.mark.parametrize("position", ["before", "after"])
def test_debug_before_or_after_command(db_url, tmp_path, position):
    missing = str(tmp_path / "missing.nii.gz")
    if position == "before":
        args = ["--debug", "import", missing]
    else:
        args = ["import", missing, "--debug"]
    result = run_cli(db_url, *args)
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert f"InvalidInputError: path '{missing}' does not exist" in result.stderr


def test_no_debug_prints_one_line(db_url, tmp_path):
    missing = str(tmp_path / "missing.nii.gz")
    result = run_cli(db_url, "import", missing)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(f"error: path '{missing}' does not exist")


def test_datasets_list_singular_counts(db, db_url, mricron):
    imported = run_cli(db_url, "import", str(mricron / "ch2.nii.gz"), "--mask",
                       str(mricron / "aal.nii.gz"), "--no-semantics")
    assert imported.returncode == 0, imported.stderr
    listed = run_cli(db_url, "datasets", "list")
    assert listed.returncode == 0, listed.stderr
    assert "ch2: 1 case, 1 series, 181 slices, 1 mask" in listed.stdout


@pytest.mark.parametrize("command, argument", [
    (["bench", "stats"], "name"), (["bench", "set-data-root"], "name"),
    (["bench", "set-data-root"], "DIR"), (["bench", "report"], "RUN"),
    (["bench", "compare"], "RUN"), (["bench", "metrics"], "RUN"),
    (["bench", "import-preds"], "--predictions FILE"),
])
def test_arguments_have_help(command, argument, capsys):
    from engine.cli.main import main

    with pytest.raises(SystemExit):
        main([*command, "--help"])
    output = capsys.readouterr().out
    arguments = output[output.index("\n\n"):].splitlines()  # after the usage lines
    line = next(line for line in arguments if line.strip().startswith(argument))
    assert line.strip() != argument  # a help text follows on the same line
