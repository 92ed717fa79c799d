"""Group the files of an import into cases (see :mod:`engine.io.plan` for the result)."""

from __future__ import annotations

import os
import re
from collections import defaultdict
from pathlib import Path, PurePosixPath
from typing import Sequence

from engine.errors import InvalidInputError
from engine.io import brats, detect, layout, masks
from engine.io.pairing import FolderIndex, find_mask, is_mask_name
from engine.io.plan import ImageSource, ImportPlan, InputFile, collect_files, existing_path

# Loose NIfTI masks: "<image stem><suffix>.nii[.gz]" beside the image.
_NIFTI_MASK_STEM = re.compile(r"^(?P<image>.+?)[_-](?P<suffix>mask|seg|label|labels)$", re.IGNORECASE)
_MASK_KIND_OF_TYPE = {
    detect.NIFTI: masks.LABEL_MAP,
    detect.PNG: masks.BINARY_IMAGE,
    detect.JPEG: masks.BINARY_IMAGE,
    detect.TEXT: masks.YOLO,
}


def build_plan(paths: Sequence[Path], data_root: Path | None = None,
               mask_paths: Sequence[Path] = ()) -> ImportPlan:
    """Walk ``paths`` and group the files found into cases, without loading pixel data.

    ``data_root`` fixes the root of the MM-NeuroOnco layout (else it is found from the
    folder names). ``mask_paths`` are masks for every image of the import.
    Raises InvalidInputError for a missing path or a named file that cannot be imported.
    """
    if not paths:
        raise InvalidInputError("no path given; name the files or folders to import")
    inputs = [existing_path(path) for path in paths]
    if data_root is not None:
        data_root = existing_path(data_root)
        if not data_root.is_dir():
            raise InvalidInputError(f"data root '{data_root}' is not a folder; give the folder "
                                    "that contains the class folders")
    files = collect_files(inputs)
    plan = ImportPlan(data_root=data_root)

    by_type: dict[str, list[InputFile]] = defaultdict(list)
    for file in files:
        by_type[file.file_type].append(file)
    _plan_nifti(plan, by_type[detect.NIFTI])
    _plan_images_2d(plan, by_type[detect.PNG] + by_type[detect.JPEG], inputs, data_root)
    _plan_dicom(plan, by_type[detect.DICOM])
    claimed = {mask.path for case in plan.cases.values() for mask in case.masks}
    for file_type in (detect.TEXT, detect.JSON, detect.BENCHMARK_JSON, detect.NIFTI_PAIR,
                      detect.UNKNOWN, detect.MISSING):
        for file in by_type[file_type]:
            if file_type == detect.MISSING:
                plan.skip(file.path, "the file or its link target does not exist")
            elif file.path not in claimed:
                plan.skip(file.path, f"not an image ({file_type})")
    _attach_explicit_masks(plan, [existing_path(path) for path in mask_paths])

    if not plan.cases and not plan.dicom_inputs:
        reasons = "; ".join(plan.skipped[:3]) or "the folders are empty"
        raise InvalidInputError(
            f"nothing to import in {', '.join(repr(str(path)) for path in inputs)} ({reasons}); "
            "give NIfTI, DICOM, PNG or JPEG files or folders that contain them"
        )
    return plan


# --------------------------------------------------------------------------- NIfTI


def _plan_nifti(plan: ImportPlan, files: list[InputFile]) -> None:
    by_folder: dict[Path, list[InputFile]] = defaultdict(list)
    for file in files:
        by_folder[file.path.parent].append(file)
    for folder, folder_files in by_folder.items():
        paths = [file.path for file in folder_files]
        case_files = brats.brats_case_files(paths)
        if case_files is not None:
            _plan_brats_case(plan, folder, case_files, folder_files[0].input_path)
            paths = [path for path in paths if path not in case_files.values()]
        _plan_loose_nifti(plan, [file for file in folder_files if file.path in paths])


def _input_base(input_path: Path) -> Path:
    """The folder that case names are relative to: the input folder, or the parent of a file."""
    return input_path if input_path.is_dir() else input_path.parent


def _plan_brats_case(plan: ImportPlan, folder: Path, case_files: dict[str, Path],
                     input_path: Path) -> None:
    base = _input_base(input_path)
    pseudonym = folder.name if folder == base else folder.relative_to(base).as_posix()
    case = plan.case(pseudonym)
    case.one_grid = True
    images = []
    for token, path in sorted(case_files.items()):
        if token != brats.SEG_TOKEN:
            case.add_image(ImageSource(path, detect.NIFTI, brats.MODALITY_OF_TOKEN[token]))
            images.append(path)
    if brats.SEG_TOKEN in case_files:
        for image in images:
            case.add_mask(case_files[brats.SEG_TOKEN], masks.LABEL_MAP, image, brats=True)
    plan.kinds.add("brats")


def _nifti_stem(path: Path) -> str:
    name = path.name
    for suffix in (".nii.gz", ".nii"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _plan_loose_nifti(plan: ImportPlan, files: list[InputFile]) -> None:
    """Each NIfTI image is a case; ``<stem>_mask|_seg|_label`` beside it is its label map."""
    stems = {_nifti_stem(file.path).lower(): file for file in files}
    masks_of: dict[Path, list[tuple[Path, bool]]] = defaultdict(list)
    for file in files:
        match = _NIFTI_MASK_STEM.match(_nifti_stem(file.path))
        image = stems.get(match.group("image").lower()) if match else None
        if image is not None:
            masks_of[image.path].append((file.path, match.group("suffix").lower() == "seg"))
    for file in files:
        named_image = file.explicit and not _NIFTI_MASK_STEM.match(_nifti_stem(file.path))
        if named_image and not masks_of[file.path]:
            masks_of[file.path].extend(_sidecar_masks(file.path))
    mask_files = {path for pairs in masks_of.values() for path, _ in pairs}

    for file in files:
        if file.path in mask_files:
            continue
        if _NIFTI_MASK_STEM.match(_nifti_stem(file.path)) and not file.explicit:
            plan.skip(file.path, "mask without an image of the same name beside it")
            continue
        stem = _nifti_stem(file.path)
        relative = file.path.parent.relative_to(_input_base(file.input_path)) / stem
        case = plan.case(relative.as_posix())
        case.add_image(ImageSource(file.path, detect.NIFTI, layout.modality_from_name(stem)))
        for mask_path, is_seg in masks_of[file.path]:
            case.add_mask(mask_path, masks.LABEL_MAP, file.path, brats=is_seg)
        plan.kinds.add("nifti")


def _sidecar_masks(image: Path) -> list[tuple[Path, bool]]:
    """Find the ``<stem>_mask|_seg|_label(s).nii[.gz]`` label maps beside a named image file.

    Returns (path, is_seg) pairs, so a file named on the command line gets the same masks as
    when its folder is imported.
    """
    stem = _nifti_stem(image).lower()
    found = []
    for sibling in sorted(image.parent.iterdir()):
        match = _NIFTI_MASK_STEM.match(_nifti_stem(sibling))
        if (match is None or match.group("image").lower() != stem or not sibling.is_file()
                or detect.detect_file_type(sibling) != detect.NIFTI):
            continue
        found.append((sibling, match.group("suffix").lower() == "seg"))
    return found


# --------------------------------------------------------------------------- 2D images


def _layout_root(inputs: list[Path], files: list[InputFile], data_root: Path | None) -> Path:
    """Return the one data root of the 2D images; raise InvalidInputError if they span two."""
    if data_root is not None:
        return data_root
    roots = set()
    for input_path in {file.input_path for file in files}:
        root = layout.find_data_root(input_path)
        if root is None:
            root = input_path if input_path.is_dir() else input_path.parent
        roots.add(root)
    if len(roots) == 1:
        return roots.pop()
    common = Path(os.path.commonpath([str(root) for root in roots]))
    if all(layout.find_data_root(root) is None for root in roots):
        return common
    listed = ", ".join(sorted(f"'{root}'" for root in roots))
    raise InvalidInputError(
        f"the 2D images come from different data roots ({listed}); import each root on its "
        "own, or name the common root with --data-root"
    )


def _plan_images_2d(plan: ImportPlan, files: list[InputFile], inputs: list[Path],
                    data_root: Path | None) -> None:
    if not files:
        return
    root = _layout_root(inputs, files, data_root)
    plan.data_root = root
    index = FolderIndex()
    claimed: set[Path] = set()
    for file in files:
        if not is_mask_name(file.path, index):
            _plan_image_2d(plan, file.path, file.file_type, root, index, claimed)
    for file in files:
        if is_mask_name(file.path, index) and file.path not in claimed:
            plan.skip(file.path, "mask without a matching image")


def _plan_image_2d(plan: ImportPlan, path: Path, file_type: str, root: Path,
                   index: FolderIndex, claimed: set[Path]) -> None:
    try:
        relative = PurePosixPath(path.relative_to(root).as_posix())
    except ValueError:
        raise InvalidInputError(
            f"image '{path}' is outside the data root '{root}'; pass the folder that contains "
            "it with --data-root"
        ) from None
    place = layout.place_of(relative)
    case = plan.case(place.case_pseudonym, place.tumour_type, place.source)
    modality = layout.modality_from_name(path.name, place.source)
    case.add_image(ImageSource(path, file_type, modality, place.image_path))
    match = find_mask(path, index)
    if match is not None:
        case.add_mask(match.path, match.kind, path, brats=match.rule == "case _seg")
        claimed.add(match.path)
    plan.kinds.add("mm-neuroonco" if place.tumour_type else "images")


# --------------------------------------------------------------------------- DICOM, masks


def _plan_dicom(plan: ImportPlan, files: list[InputFile]) -> None:
    for file in files:
        plan.dicom_inputs[file.input_path] = plan.dicom_inputs.get(file.input_path, 0) + 1
    if files:
        plan.kinds.add("dicom")


def _attach_explicit_masks(plan: ImportPlan, mask_paths: list[Path]) -> None:
    """Attach each ``--mask`` file to every image of the import."""
    kinds = {}
    for path in mask_paths:
        kind = _MASK_KIND_OF_TYPE.get(detect.detect_file_type(path))
        if kind is None or not path.is_file():
            raise InvalidInputError(
                f"mask '{path}' is not a NIfTI label map, PNG/JPEG mask or YOLO label file; "
                "check the --mask argument"
            )
        kinds[path] = kind
        _drop_image(plan, path)  # a file given with --mask is a mask, even if also walked
    for path, kind in kinds.items():
        images = [(case, image) for case in plan.cases.values() for image in case.images]
        if not images:
            raise InvalidInputError(f"mask '{path}' has no image to lie on; import it together "
                                    "with its image")
        for case, image in images:
            case.add_mask(path, kind, image.path, brats="seg" in path.name.lower())


def _drop_image(plan: ImportPlan, path: Path) -> None:
    for pseudonym, case in list(plan.cases.items()):
        case.images = [image for image in case.images if image.path != path]
        if not case.images:
            del plan.cases[pseudonym]
