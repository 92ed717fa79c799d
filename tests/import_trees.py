"""Folder trees for import tests, built from real Colin27 (ch2) slices.

The 2D images are axial ch2 slices written as PNG and JPEG; each modality gets a
different intensity mapping of the slice so that its content (and sha256) differs.
Masks are drawn shapes, so each test can check where the foreground is.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import nibabel as nib
import numpy as np

BRATS_CASE = "BraTS2021_00001"
BRATS_2D_MODALITIES = {"t1": "T1", "t1ce": "T1CE", "t2": "T2", "flair": "FLAIR"}


def ch2_image(mricron: Path) -> nib.Nifti1Image:
    return nib.load(str(mricron / "ch2.nii.gz"))


def ch2_axial_slice(mricron: Path, k: int = 90) -> np.ndarray:
    """Return axial slice ``k`` of ch2 as uint8 (rows = first voxel axis)."""
    data = np.asarray(ch2_image(mricron).dataobj)
    return np.ascontiguousarray(data[:, :, k]).astype(np.uint8)


def modality_variant(plane: np.ndarray, modality: str) -> np.ndarray:
    """A distinct uint8 image per modality, derived from one real slice."""
    if modality == "t1":
        return plane
    if modality == "t1ce":
        return np.clip(plane.astype(np.int32) + 20, 0, 255).astype(np.uint8)
    if modality == "t2":
        return (255 - plane).astype(np.uint8)
    return (plane // 2 + 60).astype(np.uint8)


def disc_mask(shape: tuple[int, int], centre: tuple[int, int], radius: int) -> np.ndarray:
    mask = np.zeros(shape, dtype=np.uint8)
    cv2.circle(mask, (centre[1], centre[0]), radius, 255, thickness=-1)
    return mask


def write_png(path: Path, pixels: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), pixels)
    return path


def write_jpeg(path: Path, pixels: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), pixels, [cv2.IMWRITE_JPEG_QUALITY, 95])
    return path


def build_layout(root: Path, mricron: Path) -> dict[str, dict]:
    """Write an MM-NeuroOnco data root under ``root``; return what each image should become.

    The result maps each data-root-relative image path to its expected tumour type,
    modality, source, case pseudonym and mask kind (None for no mask).
    """
    plane = ch2_axial_slice(mricron)
    shape = plane.shape
    mask = disc_mask(shape, (100, 90), 20)
    expected: dict[str, dict] = {}

    def add(relative, tumour_type, modality, source, case, mask_kind):
        expected[relative] = dict(tumour_type=tumour_type, modality=modality, source=source,
                                  case=case, mask_kind=mask_kind)

    # Source 16 (BraTS): a case folder with four modalities and one shared _seg image.
    case_dir = f"glioma/16_t1_t2_t1ce_flair_mask/{BRATS_CASE}"
    for token, modality in BRATS_2D_MODALITIES.items():
        relative = f"{case_dir}/{BRATS_CASE}_{token}.png"
        write_png(root / relative, modality_variant(plane, token))
        add(relative, "glioma", modality, "16", case_dir, "binary-image")
    write_png(root / case_dir / f"{BRATS_CASE}_seg.png", mask)

    # Source 10: <stem>_mask beside the image (also a JPEG image with a PNG mask).
    write_png(root / "meningioma/10_t1_t2_mask/420.png", modality_variant(plane, "t2"))
    write_png(root / "meningioma/10_t1_t2_mask/420_mask.png", mask)
    add("meningioma/10_t1_t2_mask/420.png", "meningioma", "unknown", "10",
        "meningioma/10_t1_t2_mask/420", "binary-image")
    write_jpeg(root / "glioma/10_t1_t2_mask/Glioblastoma_t1_086.jpg", plane)
    write_png(root / "glioma/10_t1_t2_mask/Glioblastoma_t1_086_mask.png", mask)
    add("glioma/10_t1_t2_mask/Glioblastoma_t1_086.jpg", "glioma", "T1", "10",
        "glioma/10_t1_t2_mask/Glioblastoma_t1_086", "binary-image")

    # Source 05: the same stem in a masks folder.
    stem = "brisc2025_train_00001_gl_ax_t1"
    write_jpeg(root / f"tumor/05_t1_mask/{stem}.jpg", modality_variant(plane, "flair"))
    write_png(root / f"tumor/05_t1_mask/masks/{stem}.png", mask)
    add(f"tumor/05_t1_mask/{stem}.jpg", "tumor", "T1", "05", f"tumor/05_t1_mask/{stem}",
        "binary-image")

    # Source 14: "mask (N).png" for an image ending in "(N)"; the source forces T1CE.
    write_png(root / "tumor/14_t1ce_mask/image (7).png", modality_variant(plane, "t1ce"))
    write_png(root / "tumor/14_t1ce_mask/mask (7).png", mask)
    add("tumor/14_t1ce_mask/image (7).png", "tumor", "T1CE", "14",
        "tumor/14_t1ce_mask/image (7)", "binary-image")

    # Source 19: YOLO polygons in labels/ beside images/.
    stem = "1279_jpg.rf.2dc38958a05759fed17c9b86b48bcf1b"
    write_jpeg(root / f"tumor/19_mask/images/{stem}.jpg", plane)
    labels = root / f"tumor/19_mask/labels/{stem}.txt"
    labels.parent.mkdir(parents=True, exist_ok=True)
    labels.write_text("1 0.25 0.25 0.75 0.25 0.75 0.75 0.25 0.75\n")
    add(f"tumor/19_mask/images/{stem}.jpg", "tumor", "unknown", "19",
        f"tumor/19_mask/images/{stem}", "yolo")

    # No mask; an RGB PNG with equal channels; an RGB PNG with a coloured mark.
    write_jpeg(root / "healthy/09_t2/healthy_09_t2 (4).jpeg", modality_variant(plane, "t2"))
    add("healthy/09_t2/healthy_09_t2 (4).jpeg", "healthy", "T2", "09",
        "healthy/09_t2/healthy_09_t2 (4)", None)
    write_png(root / "pituitary/07_t1ce/pituitary_07_t1ce (74).png", np.dstack([plane] * 3))
    add("pituitary/07_t1ce/pituitary_07_t1ce (74).png", "pituitary", "T1CE", "07",
        "pituitary/07_t1ce/pituitary_07_t1ce (74)", None)
    coloured = np.dstack([plane] * 3)
    coloured[10:20, 10:20] = (0, 0, 255)  # a red square (OpenCV writes BGR)
    write_png(root / "pituitary/07_t1ce/pituitary_07_t1ce (75).png", coloured)
    add("pituitary/07_t1ce/pituitary_07_t1ce (75).png", "pituitary", "T1CE", "07",
        "pituitary/07_t1ce/pituitary_07_t1ce (75)", None)
    return expected


def build_brats_case(folder: Path, mricron: Path, names: dict[str, str] | None = None,
                     labels: tuple[int, ...] = (1, 2, 4)) -> Path:
    """Write a BraTS-style case folder from ch2: four series and a synthetic label map.

    ``names`` maps each modality token to its file-name token (BraTS 2023 uses t1n, t1c,
    t2w, t2f). The label map has nested boxes labelled ``labels`` (outer to inner).
    """
    names = names or {"t1": "t1", "t1ce": "t1ce", "t2": "t2", "flair": "flair"}
    image = ch2_image(mricron)
    data = np.asarray(image.dataobj).astype(np.int16)
    folder.mkdir(parents=True, exist_ok=True)
    case = folder.name
    separator = "-" if "t1n" in names.values() else "_"
    for token, file_token in names.items():
        variant = data if token == "t1" else data + {"t1ce": 7, "t2": 300, "flair": 900}[token]
        nib.save(nib.Nifti1Image(variant.astype(np.int16), image.affine),
                 str(folder / f"{case}{separator}{file_token}.nii.gz"))
    seg = np.zeros(data.shape, dtype=np.uint8)
    seg[60:120, 80:140, 70:110] = labels[0]
    seg[70:110, 90:130, 80:100] = labels[1]
    seg[80:100, 100:120, 85:95] = labels[2]
    nib.save(nib.Nifti1Image(seg, image.affine), str(folder / f"{case}{separator}seg.nii.gz"))
    return folder
