"""``neuroonco semantics MASK [--slice K] [--json]`` on PNG, JPEG and NIfTI masks."""

from __future__ import annotations

import gzip
import json

import cv2
import nibabel as nib
import numpy as np
import pytest

from conftest import run_cli
from engine.cli.main import main
from engine.semantics.rules import JSON_KEYS, mask_semantics


@pytest.fixture
def ellipse_png(tmp_path):
    mask = np.zeros((240, 240), np.uint8)
    cv2.ellipse(mask, (170, 60), (30, 12), 15, 0, 360, 255, -1)
    path = tmp_path / "lesion_mask.png"
    cv2.imwrite(str(path), mask)
    return path, mask


@pytest.fixture
def label_map(tmp_path):
    """A BraTS-style label map in a 1 mm RAS grid, lesion in the patient's right anterior."""
    labels = np.zeros((60, 70, 40), np.uint8)
    labels[40:52, 50:60, 15:25] = 2
    labels[44:48, 53:57, 18:22] = 4
    path = tmp_path / "case_seg.nii.gz"
    nib.save(nib.Nifti1Image(labels, np.eye(4)), path)
    return path, labels


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["semantics", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_png_json(capsys, ellipse_png):
    path, mask = ellipse_png

    code, out, err = run(capsys, str(path), "--json")

    result = json.loads(out)
    assert code == 0
    assert err == ""
    assert tuple(result) == JSON_KEYS
    assert result == mask_semantics(mask).to_json()
    assert result["location"] == "Upper-Right Region"
    assert result["spread"] == "Solitary Lesion"


def test_png_summary(capsys, ellipse_png):
    path, mask = ellipse_png
    expected = mask_semantics(mask)

    code, out, _ = run(capsys, str(path))

    lines = out.splitlines()
    assert code == 0
    assert lines[0] == f"{path}: 240 x 240 pixels"
    assert lines[1].startswith(f"size:     {expected.size} (area ratio ")
    assert lines[2].startswith(f"shape:    {expected.shape} (circularity ")
    assert lines[3] == "spread:   Solitary Lesion (1 component, largest 100.0% of the area)"
    assert lines[4].startswith("location: Upper-Right Region (centroid x 170.0, y 60.0")


def test_jpeg_greyscale_mask(capsys, tmp_path):
    colour = np.zeros((100, 120, 3), np.uint8)
    colour[20:40, 10:30] = (255, 255, 255)
    path = tmp_path / "mask.jpg"
    cv2.imwrite(str(path), colour, [cv2.IMWRITE_JPEG_QUALITY, 95])
    decoded = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)

    code, out, _ = run(capsys, str(path), "--json")

    assert code == 0
    assert json.loads(out) == mask_semantics(decoded).to_json()
    assert json.loads(out)["location"] == "Upper-Left Region"


def test_empty_png_prints_null(capsys, tmp_path):
    path = tmp_path / "empty.png"
    cv2.imwrite(str(path), np.full((64, 64), 127, np.uint8))

    code, out, _ = run(capsys, str(path), "--json")
    summary_code, summary, _ = run(capsys, str(path))

    assert code == 0
    assert out.strip() == "null"
    assert summary_code == 0
    assert "no foreground pixels" in summary


def test_nifti_slice_json(capsys, label_map):
    path, labels = label_map
    # Radiological display of a RAS axial slice: anterior at the top, the patient's right on
    # the left.
    displayed = (labels[:, :, 20] > 0).T[::-1, ::-1]

    code, out, _ = run(capsys, str(path), "--slice", "20", "--json")

    result = json.loads(out)
    assert code == 0
    assert result == mask_semantics(displayed).to_json()
    assert result["location"] == "Upper-Left Region"
    assert result["components"] == 1


def test_nifti_slice_summary_names_slice(capsys, label_map):
    path, _ = label_map

    code, out, _ = run(capsys, str(path), "--slice", "20")

    assert code == 0
    assert out.splitlines()[0] == f"{path}: axial slice 20 of 40, 60 x 70 pixels"


def test_nifti_empty_slice_prints_null(capsys, label_map):
    path, _ = label_map

    code, out, _ = run(capsys, str(path), "--slice", "0", "--json")

    assert code == 0
    assert out.strip() == "null"


def assert_one_error_line(code: int, out: str, err: str, *fragments: str) -> None:
    assert code == 1
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def test_missing_file(capsys, tmp_path):
    path = tmp_path / "absent.png"

    assert_one_error_line(*run(capsys, str(path)), str(path), "not found")


def test_undecodable_png(capsys, tmp_path):
    path = tmp_path / "broken.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)

    assert_one_error_line(*run(capsys, str(path), "--json"), str(path), "cannot decode")


def test_truncated_nifti(capsys, tmp_path, label_map):
    source, _ = label_map
    path = tmp_path / "truncated.nii.gz"
    path.write_bytes(source.read_bytes()[:400])

    assert_one_error_line(*run(capsys, str(path), "--slice", "3"), str(path), "truncated")


def test_not_gzip_nifti(capsys, tmp_path):
    path = tmp_path / "text.nii.gz"
    path.write_bytes(gzip.compress(b"not a nifti header"))

    assert_one_error_line(*run(capsys, str(path), "--slice", "0"), str(path), "NIfTI")


def test_3d_without_slice(capsys, label_map):
    path, _ = label_map

    assert_one_error_line(*run(capsys, str(path), "--json"), str(path), "--slice K", "0 to 39")


@pytest.mark.parametrize("index", ["40", "-1"])
def test_slice_out_of_range(capsys, label_map, index):
    path, _ = label_map

    assert_one_error_line(*run(capsys, str(path), "--slice", index), str(path),
                          f"slice {index} is out of range", "0 to 39")


def test_slice_on_2d_image(capsys, ellipse_png):
    path, _ = ellipse_png

    assert_one_error_line(*run(capsys, str(path), "--slice", "0"), str(path), "drop --slice")


def test_4d_nifti_rejected(capsys, tmp_path):
    path = tmp_path / "series.nii"
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 4, 2), np.uint8), np.eye(4)), path)

    assert_one_error_line(*run(capsys, str(path), "--slice", "0"), str(path), "3D label map")


def test_singular_affine(capsys, tmp_path):
    path = tmp_path / "flat.nii.gz"
    image = nib.Nifti1Image(np.ones((4, 4, 4), np.uint8), None)
    image.header.set_sform(np.diag([1.0, 1.0, 0.0, 1.0]), code=2)  # no qform: it cannot be singular
    nib.save(image, path)

    assert_one_error_line(*run(capsys, str(path), "--slice", "0"), str(path), "singular")


@pytest.mark.parametrize("args", [[], ["mask.png", "--slice", "two"], ["mask.png", "--bogus"]])
def test_usage_errors_exit_2(capsys, args):
    with pytest.raises(SystemExit) as exit_info:
        main(["semantics", *args])

    assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_command_in_fresh_interpreter(db_url, ellipse_png, label_map):
    png, mask = ellipse_png
    nifti, _ = label_map

    from_png = run_cli(db_url, "semantics", str(png), "--json")
    missing_slice = run_cli(db_url, "semantics", str(nifti))

    assert from_png.returncode == 0, from_png.stderr
    assert json.loads(from_png.stdout) == mask_semantics(mask).to_json()
    assert missing_slice.returncode == 1
    assert missing_slice.stderr.startswith(f"error: '{nifti}': it is a 3D label map")
    assert "Traceback" not in missing_slice.stderr
