"""2D images, masks, YOLO polygons, label names and the MM-NeuroOnco layout rules."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

import cv2
import nibabel as nib
import numpy as np
import pytest

from engine.errors import InvalidInputError
from engine.io import layout, masks, yolo
from engine.io.image2d import load_image
from engine.io.pairing import FolderIndex, find_mask, is_mask_name
from import_trees import ch2_axial_slice, disc_mask, write_jpeg, write_png


def test_png_loads_as_float32_gray(tmp_path, mricron):
    plane = ch2_axial_slice(mricron)
    volume = load_image(write_png(tmp_path / "slice.png", plane))
    assert volume.data.dtype == np.float32
    assert volume.data.shape == plane.shape
    np.testing.assert_array_equal(volume.data, plane.astype(np.float32))
    assert (volume.is_2d, volume.has_geometry, volume.file_format) == (True, False, "png")
    assert volume.original_dtype == "uint8"


def test_16bit_png_keeps_values(tmp_path):
    pixels = np.array([[0, 1000], [40000, 65535]], dtype=np.uint16)
    volume = load_image(write_png(tmp_path / "deep.png", pixels))
    np.testing.assert_array_equal(volume.data, pixels.astype(np.float32))
    assert volume.original_dtype == "uint16"


def test_rgb_equal_channels_is_that_gray(tmp_path, mricron):
    plane = ch2_axial_slice(mricron)
    volume = load_image(write_png(tmp_path / "rgb.png", np.dstack([plane] * 3)))
    np.testing.assert_array_equal(volume.data, plane.astype(np.float32))


def test_rgb_colour_uses_luma(tmp_path):
    bgr = np.zeros((2, 2, 3), dtype=np.uint8)
    bgr[0, 0] = (0, 0, 200)  # red
    bgr[0, 1] = (0, 200, 0)  # green
    bgr[1, 0] = (200, 0, 0)  # blue
    bgr[1, 1] = (50, 50, 50)
    volume = load_image(write_png(tmp_path / "colour.png", bgr))
    np.testing.assert_allclose(volume.data, [[0.299 * 200, 0.587 * 200], [0.114 * 200, 50.0]],
                               rtol=1e-6)


def test_rgba_drops_alpha(tmp_path, mricron):
    plane = ch2_axial_slice(mricron)
    alpha = np.full(plane.shape, 128, dtype=np.uint8)
    volume = load_image(write_png(tmp_path / "rgba.png", np.dstack([plane, plane, plane, alpha])))
    np.testing.assert_array_equal(volume.data, plane.astype(np.float32))


def test_jpeg_read_by_content(tmp_path, mricron):
    plane = ch2_axial_slice(mricron)
    path = write_jpeg(tmp_path / "slice.jpg", plane)
    renamed = path.rename(tmp_path / "slice.png")
    volume = load_image(renamed)
    assert volume.file_format == "jpeg"
    assert np.abs(volume.data - plane.astype(np.float32)).mean() < 3


@pytest.mark.parametrize("name, cut", [("cut.png", 0.5), ("cut.jpg", 0.6)])
def test_truncated_image_rejected(tmp_path, mricron, name, cut):
    plane = ch2_axial_slice(mricron)
    writer = write_png if name.endswith(".png") else write_jpeg
    path = writer(tmp_path / name, plane)
    content = path.read_bytes()
    path.write_bytes(content[: int(len(content) * cut)])
    kind = "PNG" if name.endswith(".png") else "JPEG"
    with pytest.raises(InvalidInputError) as error:
        load_image(path)
    assert str(error.value) == (
        f"{kind} image '{path}' could not be decoded (the file is truncated or damaged); "
        "export or copy it again, or remove it from the folder"
    )


def test_yolo_polygon_filled(tmp_path):
    path = tmp_path / "label.txt"
    path.write_text("1 0.25 0.25 0.75 0.25 0.75 0.75 0.25 0.75\n\n0 0.0 0.0 0.1 0.0 0.0 0.1\n")
    polygons = yolo.read_yolo(path)
    assert [polygon.class_id for polygon in polygons] == [1, 0]
    assert yolo.class_names(polygons) == ["meningioma", "glioma"]
    mask = yolo.rasterise(polygons, (100, 200))
    assert mask.shape == (100, 200)
    assert set(np.unique(mask)) == {0, 255}
    assert mask[50, 100] == 255  # inside the square
    assert mask[50, 20] == 0
    assert mask[25:76, 50:151].all()  # x from 0.25*200 to 0.75*200, y from 25 to 75
    assert mask[2, 2] == 255  # the small corner triangle


def test_yolo_points_clipped_to_image():
    polygon = yolo.Polygon(0, np.array([[-0.5, -0.5], [1.5, -0.5], [1.5, 1.5], [-0.5, 1.5]]))
    assert yolo.rasterise([polygon], (10, 12)).all()


@pytest.mark.parametrize("line, problem", [
    ("0 0.5 0.5 0.2 0.2", "has 4 coordinates (a detection box, not a polygon)"),
    ("0 0.1 0.1 0.2", "has 3 coordinates"),
    ("glioma 0.1 0.1 0.2 0.2 0.3 0.3", "is not 'class x1 y1 x2 y2 ...'"),
])
def test_yolo_bad_line_rejected(tmp_path, line, problem):
    path = tmp_path / "bad.txt"
    path.write_text("0 0.1 0.1 0.2 0.1 0.2 0.2\n" + line + "\n")
    with pytest.raises(InvalidInputError, match=rf"^YOLO label file '.*bad.txt' line 2 {re.escape(problem)}"):
        yolo.read_yolo(path)


def test_aal_names_from_sidecar(mricron):
    label_map = masks.read_label_map(mricron / "aal.nii.gz")
    values = label_map.values()
    names = masks.label_names(values, mricron / "aal.nii.gz")
    assert label_map.labels.dtype == np.int32
    assert len(values) == 116
    assert names["1"] == "Precentral_L"
    assert names["116"] == "Vermis_10"
    assert "0" not in names


def test_brats_names_only_when_allowed(tmp_path):
    path = tmp_path / "case_seg.nii.gz"
    assert masks.label_names([1, 2, 4], path, brats=True) == {
        "1": "necrotic core", "2": "oedema", "4": "enhancing tumour"}
    assert masks.label_names([1, 2, 3], path, brats=True) == {
        "1": "necrotic core", "2": "oedema", "3": "enhancing tumour"}
    # Not BraTS, or values outside the BraTS schemes: generic names.
    assert masks.label_names([1], path, brats=False) == {"1": "label 1"}
    assert masks.label_names([1, 3, 4], path, brats=True) == {
        "1": "label 1", "3": "label 3", "4": "label 4"}
    assert masks.label_names([1, 7], path, brats=True) == {"1": "label 1", "7": "label 7"}


def test_non_integer_label_map_rejected(tmp_path):
    path = tmp_path / "soft.nii.gz"
    nib.save(nib.Nifti1Image(np.full((3, 3, 3), 0.5, dtype=np.float32), np.eye(4)), str(path))
    with pytest.raises(InvalidInputError, match="is not a label map: it has non-integer"):
        masks.read_label_map(path)


def test_grid_mismatch_names_both_files():
    with pytest.raises(InvalidInputError) as error:
        masks.check_same_grid(Path("/d/seg.nii.gz"), (240, 240, 155), Path("/d/t1.nii.gz"),
                              (240, 240, 154))
    assert str(error.value) == (
        "mask '/d/seg.nii.gz' has shape (240, 240, 155) but image '/d/t1.nii.gz' has "
        "(240, 240, 154); masks are never transposed or resampled, so export the mask on "
        "the image's grid"
    )
    shifted = np.eye(4)
    shifted[0, 3] = 2.0
    with pytest.raises(InvalidInputError, match="different affine \\(largest difference 2,"):
        masks.check_same_grid(Path("m"), (2, 2, 2), Path("i"), (2, 2, 2), shifted, np.eye(4))
    nearly = np.eye(4)
    nearly[0, 3] = 1e-5  # float32 rounding of a header
    masks.check_same_grid(Path("m"), (2, 2, 2), Path("i"), (2, 2, 2), nearly, np.eye(4))


def test_read_mask_kinds(tmp_path, mricron):
    disc = disc_mask((60, 80), (30, 40), 10)
    png = write_png(tmp_path / "m.png", disc)
    foreground = masks.read_mask(png, masks.BINARY_IMAGE)
    assert foreground.dtype == bool
    np.testing.assert_array_equal(foreground, disc > 127)
    label = tmp_path / "m.txt"
    label.write_text("2 0.0 0.0 1.0 0.0 1.0 1.0 0.0 1.0\n")
    assert masks.read_mask(label, masks.YOLO, (60, 80)).all()
    labels = masks.read_mask(mricron / "aal.nii.gz", masks.LABEL_MAP)
    assert labels.shape == (181, 217, 181)
    assert labels.max() == 116


def test_modality_rules_in_order():
    cases = {
        "BraTS2021_01648_t1ce.png": "T1CE",
        "scan_T1+C.jpg": "T1CE",
        "post_gd_flair.png": "T1CE",  # gd comes first
        "BraTS2021_01648_flair.png": "FLAIR",
        "meningioma_07_t1 (617).png": "T1",
        "Astrocytoma_T2_117.png": "T2",
        "420.png": "unknown",
    }
    for name, modality in cases.items():
        assert layout.modality_from_name(name) == modality, name
    assert layout.modality_from_name("2280.png", source="14") == "T1CE"


def test_place_in_layout():
    brats = layout.place_of(PurePosixPath(
        "glioma/16_t1_t2_t1ce_flair_mask/BraTS2021_01648/BraTS2021_01648_flair.png"))
    assert (brats.tumour_type, brats.source) == ("glioma", "16")
    assert brats.case_pseudonym == "glioma/16_t1_t2_t1ce_flair_mask/BraTS2021_01648"
    single = layout.place_of(PurePosixPath("meningioma/10_t1_t2_mask/420.png"))
    assert (single.tumour_type, single.source, single.case_pseudonym) == (
        "meningioma", "10", "meningioma/10_t1_t2_mask/420")
    yolo_tree = layout.place_of(PurePosixPath("tumor/19_mask/images/1279_jpg.rf.abc.jpg"))
    assert yolo_tree.case_pseudonym == "tumor/19_mask/images/1279_jpg.rf.abc"
    plain = layout.place_of(PurePosixPath("scans/a.png"))
    assert (plain.tumour_type, plain.source, plain.image_path) == (None, None, "scans/a.png")


def test_find_data_root(tmp_path):
    source = tmp_path / "root/glioma/16_t1_t2_t1ce_flair_mask/case1"
    source.mkdir(parents=True)
    image = write_png(source / "case1_t1.png", np.zeros((4, 4), np.uint8))
    root = tmp_path / "root"
    assert layout.find_data_root(root) == root
    assert layout.find_data_root(root / "glioma") == root
    assert layout.find_data_root(root / "glioma/16_t1_t2_t1ce_flair_mask") == root
    assert layout.find_data_root(image) == root
    # A month folder "01" under a year folder is not a layout.
    dated = tmp_path / "2024/01"
    dated.mkdir(parents=True)
    assert layout.find_data_root(write_png(dated / "a.png", np.zeros((4, 4), np.uint8))) is None


def test_pairing_rules(tmp_path):
    pixels = np.zeros((8, 8), np.uint8)
    files = {name: write_png(tmp_path / name, pixels) for name in (
        "a.png", "a_mask.png", "c1/c1_t1.png", "c1/c1_flair.png", "c1/c1_seg.png",
        "b.jpg", "masks/b.png", "image (3).png", "mask (3).png", "images/y.png")}
    files["b.jpg"] = write_jpeg(tmp_path / "b.jpg", pixels)
    (tmp_path / "images/y.png").unlink()
    files["images/y.jpg"] = write_jpeg(tmp_path / "images/y.jpg", pixels)
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels/y.txt").write_text("0 0 0 1 0 1 1\n")
    index = FolderIndex()

    def mask_of(name):
        match = find_mask(files[name], index)
        return (match.path.relative_to(tmp_path).as_posix(), match.kind, match.rule) if match else None

    assert mask_of("a.png") == ("a_mask.png", "binary-image", "<stem>_mask")
    assert mask_of("c1/c1_t1.png") == ("c1/c1_seg.png", "binary-image", "case _seg")
    assert mask_of("c1/c1_flair.png") == ("c1/c1_seg.png", "binary-image", "case _seg")
    assert mask_of("b.jpg") == ("masks/b.png", "binary-image", "mask folder")
    assert mask_of("image (3).png") == ("mask (3).png", "binary-image", "mask (N)")
    assert mask_of("images/y.jpg") == ("labels/y.txt", "yolo", "YOLO labels")
    for name in ("a_mask.png", "c1/c1_seg.png", "masks/b.png", "mask (3).png"):
        assert is_mask_name(files[name], index), name
    for name in ("a.png", "c1/c1_t1.png", "b.jpg", "image (3).png", "images/y.jpg"):
        assert not is_mask_name(files[name], index), name


def test_same_stem_png_beside_jpeg_is_mask(tmp_path):
    pixels = np.zeros((8, 8), np.uint8)
    image = write_jpeg(tmp_path / "brisc_t1.jpg", pixels)
    mask = write_png(tmp_path / "brisc_t1.png", pixels)
    index = FolderIndex()
    assert is_mask_name(mask, index)
    assert find_mask(image, index).path == mask
    cv2.imwrite(str(tmp_path / "other.png"), pixels)
    assert not is_mask_name(tmp_path / "other.png", index)
