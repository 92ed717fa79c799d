"""The MM-NeuroOnco folder layout of 2D images: ``DATA_ROOT/<class>/<NN>_<modalities>[_mask]/...``.

The class folder names the tumour type (``glioma``, ``healthy``, ``tumor``, ...), ``NN``
the public source dataset (``16`` is BraTS 2021), for example
``glioma/16_t1_t2_t1ce_flair_mask/BraTS2021_01648/BraTS2021_01648_flair.png`` or
``meningioma/10_t1_t2_mask/420.png``. A folder below the source folder is one case (a
BraTS case with one image per modality); otherwise each image is its own case.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

# A source folder: the two-digit source id, then the modalities it holds and "mask" when
# masks come with the images ("16_t1_t2_t1ce_flair_mask", "19_mask", "01").
SOURCE_FOLDER = re.compile(r"^(\d{2})(?:_(?:t1ce|t1c|t1|t2|flair|mask))*$", re.IGNORECASE)
CLASS_FOLDER = re.compile(r"^[a-z][a-z_]*$", re.IGNORECASE)
# Folders that group files by role, not by case (a YOLO tree has images/ and labels/).
ROLE_FOLDERS = frozenset({"images", "image", "imgs", "masks", "mask", "labels", "label"})
MASK_FOLDERS = frozenset({"masks", "mask"})
LABEL_FOLDERS = frozenset({"labels", "label"})

# The MM-NeuroOnco metadata rules, applied in this order to the lower-case file name.
_MODALITY_RULES = (
    (re.compile(r"t1ce|t1\+c|gd"), "T1CE"),
    (re.compile(r"flair"), "FLAIR"),
    (re.compile(r"t1"), "T1"),
    (re.compile(r"t2"), "T2"),
)
# Source 14 holds only contrast-enhanced T1 images; its metadata script sets T1CE.
_FORCED_MODALITY = {"14": "T1CE"}


def modality_from_name(name: str, source: str | None = None) -> str:
    """Return T1CE, FLAIR, T1, T2 or ``unknown`` from a file name, by the ordered rules."""
    if source in _FORCED_MODALITY:
        return _FORCED_MODALITY[source]
    lower = name.lower()
    for pattern, modality in _MODALITY_RULES:
        if pattern.search(lower):
            return modality
    return "unknown"


def _has_source_child(folder: Path) -> bool:
    return any(child.is_dir() and SOURCE_FOLDER.match(child.name) for child in folder.iterdir())


def find_data_root(path: Path) -> Path | None:
    """Return the data root of the layout that ``path`` is (in), or None outside a layout.

    ``path`` may be the data root, a class folder, a source folder, a case folder or a file.
    """
    path = Path(os.path.normpath(Path(path).absolute()))
    if path.is_dir():
        children = [child for child in path.iterdir() if child.is_dir()]
        if any(_has_source_child(child) for child in children):
            return path
        if any(SOURCE_FOLDER.match(child.name) for child in children):
            return path.parent
    for folder in (path, *path.parents):
        class_folder = folder.parent
        if (SOURCE_FOLDER.match(folder.name) and CLASS_FOLDER.match(class_folder.name)
                and class_folder.parent != class_folder):
            return class_folder.parent
    return None


@dataclass(frozen=True)
class LayoutPlace:
    """Where a 2D image sits in the layout."""

    image_path: str  # relative to the data root, with '/' separators
    tumour_type: str | None
    source: str | None
    case_pseudonym: str
    case_folder: str | None  # data-root-relative case folder, for BraTS-style cases


def place_of(relative: PurePosixPath) -> LayoutPlace:
    """Work out class, source and case of an image from its data-root-relative path."""
    parts = relative.parts
    source_match = SOURCE_FOLDER.match(parts[1]) if len(parts) >= 3 else None
    if source_match is None:
        return LayoutPlace(relative.as_posix(), None, None, _without_suffix(relative), None)

    tumour_type = parts[0]
    source = source_match.group(1)
    middle = parts[2:-1]
    if middle and middle[0].lower() not in ROLE_FOLDERS:
        case_folder = "/".join(parts[:3])
        return LayoutPlace(relative.as_posix(), tumour_type, source, case_folder, case_folder)
    return LayoutPlace(relative.as_posix(), tumour_type, source, _without_suffix(relative), None)


def _without_suffix(relative: PurePosixPath) -> str:
    return relative.with_suffix("").as_posix()
