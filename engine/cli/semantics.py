"""``neuroonco semantics MASK [--slice K] [--json]``: the MM-NeuroOnco semantics of one mask.

MASK is a 2D mask image (PNG or JPEG, read as 8-bit greyscale, foreground > 127) or a NIfTI
label map (foreground: any label > 0), of which ``--slice`` picks one slice along the axial
axis, analysed in the radiological display frame.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from engine.cli.common import print_json
from engine.errors import InvalidInputError

NIFTI_SUFFIXES = (".nii", ".nii.gz")


def register(subparsers) -> None:  # noqa: ANN001
    parser = subparsers.add_parser(
        "semantics", help="print the size, shape, spread and location of a mask",
        description="Print the MM-NeuroOnco mask semantics of a 2D mask image or of one axial "
                    "slice of a NIfTI label map.")
    parser.add_argument("mask", metavar="MASK",
                        help="2D mask image (PNG/JPEG, foreground > 127) or NIfTI label map "
                             "(.nii/.nii.gz, foreground: label > 0)")
    parser.add_argument("--slice", type=int, metavar="K",
                        help="axial slice index of a 3D NIfTI label map (required for 3D), "
                             "counted along the volume's axial array axis from 0")
    parser.add_argument("--json", action="store_true",
                        help="print a JSON object (null for an empty mask)")
    parser.set_defaults(handler=_semantics)


def _semantics(args: argparse.Namespace) -> int:
    from engine.semantics.rules import mask_semantics

    path = Path(args.mask)
    foreground, where = _read_foreground(path, args.slice)
    semantics = mask_semantics(foreground)

    if args.json:
        print_json(None if semantics is None else semantics.to_json())
        return 0
    height, width = foreground.shape
    print(f"{path}: {where}{width} x {height} pixels")
    if semantics is None:
        print("empty mask: no foreground pixels, so no semantics")
        return 0
    component_word = "component" if semantics.components == 1 else "components"
    x, y = semantics.centroid
    print(f"size:     {semantics.size} (area ratio {semantics.area_ratio:.4f}, "
          f"{semantics.area_px} pixels)")
    print(f"shape:    {semantics.shape} (circularity {semantics.circularity:.3f}, "
          f"elongation {semantics.elongation:.3f})")
    print(f"spread:   {semantics.spread} ({semantics.components} {component_word}, largest "
          f"{semantics.dominant_fraction:.1%} of the area)")
    print(f"location: {semantics.location} (centroid x {x:.1f}, y {y:.1f} pixels)")
    return 0


def _read_foreground(path: Path, index: int | None) -> tuple[np.ndarray, str]:
    """Return the mask's foreground as displayed, and a note naming the slice (or "")."""
    if not path.is_file():
        raise InvalidInputError(f"mask file '{path}' not found; check the path")
    if path.name.lower().endswith(NIFTI_SUFFIXES):
        return _read_nifti_slice(path, index)
    if index is not None:
        raise InvalidInputError(
            f"--slice applies to NIfTI label maps, but '{path}' is a 2D image; drop --slice")
    return _read_image(path) > 127, ""


def _read_image(path: Path) -> np.ndarray:
    import cv2

    # imdecode, because cv2.imread cannot open every non-ASCII path.
    image = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise InvalidInputError(
            f"cannot decode '{path}' as an image; pass a PNG or JPEG mask or a NIfTI label map")
    return image


def _read_nifti_slice(path: Path, index: int | None) -> tuple[np.ndarray, str]:
    import zlib

    import nibabel as nib

    from engine.semantics.volume import axial_slice_count, display_slice_foreground

    try:
        image = nib.load(path)
        labels = np.asanyarray(image.dataobj)
    except (nib.filebasedimages.ImageFileError, OSError, EOFError, ValueError,
            zlib.error) as error:
        raise InvalidInputError(
            f"cannot read '{path}' as NIfTI ({error}); the file may be truncated or not NIfTI"
        ) from error
    if labels.ndim != 3:
        raise InvalidInputError(
            f"'{path}' has shape {labels.shape}, but semantics need a 3D label map; "
            "save one 3D volume (or a PNG for a 2D mask)")
    try:
        count = axial_slice_count(labels, image.affine)
        if index is None:
            raise InvalidInputError(
                f"it is a 3D label map with {count} axial slices; choose one with --slice K "
                f"(0 to {count - 1})")
        foreground = display_slice_foreground(labels, image.affine, index)
    except InvalidInputError as error:
        raise InvalidInputError(f"'{path}': {error}") from error
    return foreground, f"axial slice {index} of {count}, "
