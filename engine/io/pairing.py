"""Finding the mask of a 2D image by the MM-NeuroOnco per-source rules.

The rules, tried in this order for an image ``<stem>.<ext>`` in folder ``D``:

1. ``D/<stem>_mask.<png|jpg|jpeg>`` (source 10);
2. a ``<case>_seg.<ext>`` in ``D`` whose ``<case>`` starts the image's stem: the BraTS label
   image shared by the modality images of one case folder (source 16);
3. ``<stem>.<png|jpg|jpeg>`` in a ``masks``/``mask`` folder inside ``D`` or beside it, or a
   ``<stem>.png`` next to a JPEG image (source 05);
4. ``D/mask (N).<ext>`` for an image whose stem ends in ``(N)`` (source 14);
5. a YOLO polygon file ``<stem>.txt`` in ``D`` or in a ``labels`` folder inside or beside it
   (source 19).

File names are matched without regard to case. Folder listings are read once and cached.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from engine.io.layout import LABEL_FOLDERS, MASK_FOLDERS
from engine.io.masks import BINARY_IMAGE, YOLO

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
_SEG_STEM = re.compile(r"^(?P<case>.+)[_-]seg$", re.IGNORECASE)
_NUMBERED_STEM = re.compile(r"\((\d+)\)\s*$")
_NUMBERED_MASK = re.compile(r"^mask\s*\(\d+\)$", re.IGNORECASE)


@dataclass(frozen=True)
class MaskMatch:
    path: Path
    kind: str  # masks.BINARY_IMAGE or masks.YOLO
    rule: str


@dataclass
class FolderIndex:
    """Cached folder listings: lower-case name -> path, files and folders apart."""

    listings: dict[Path, tuple[dict[str, Path], dict[str, Path]]] = field(default_factory=dict)
    seg_listings: dict[Path, list[tuple[str, Path]]] = field(default_factory=dict)

    def _listing(self, folder: Path) -> tuple[dict[str, Path], dict[str, Path]]:
        if folder not in self.listings:
            files, folders = {}, {}
            try:
                with os.scandir(folder) as entries:
                    for entry in entries:
                        if entry.name.startswith("."):
                            continue
                        target = folders if entry.is_dir() else files
                        target[entry.name.lower()] = folder / entry.name
            except (FileNotFoundError, NotADirectoryError):
                pass
            self.listings[folder] = (files, folders)
        return self.listings[folder]

    def files(self, folder: Path) -> dict[str, Path]:
        return self._listing(folder)[0]

    def folders(self, folder: Path) -> dict[str, Path]:
        return self._listing(folder)[1]

    def seg_files(self, folder: Path) -> list[tuple[str, Path]]:
        """Return (lower-case case prefix, path) of the ``<case>_seg`` images in ``folder``."""
        if folder not in self.seg_listings:
            segs = []
            for name, path in self.files(folder).items():
                stem, suffix = os.path.splitext(name)
                match = _SEG_STEM.match(stem)
                if match is not None and suffix in IMAGE_SUFFIXES:
                    segs.append((match.group("case"), path))
            self.seg_listings[folder] = segs
        return self.seg_listings[folder]

    def find(self, folder: Path, name: str) -> Path | None:
        return self.files(folder).get(name.lower())


def is_mask_name(path: Path, index: FolderIndex) -> bool:
    """True when a PNG/JPEG file is a mask by its name or folder, not an image to import."""
    stem = path.stem
    lower = stem.lower()
    if lower.endswith("_mask") or _SEG_STEM.match(stem) or _NUMBERED_MASK.match(stem):
        return True
    if path.parent.name.lower() in MASK_FOLDERS | LABEL_FOLDERS:
        return True
    # Source 05 keeps a PNG mask under the same stem as its JPEG image.
    if path.suffix.lower() == ".png":
        files = index.files(path.parent)
        return any(f"{lower}{suffix}" in files for suffix in (".jpg", ".jpeg"))
    return False


def _with_image_suffix(folder: Path, stem: str, index: FolderIndex) -> Path | None:
    for suffix in IMAGE_SUFFIXES:
        found = index.find(folder, stem + suffix)
        if found is not None:
            return found
    return None


def _sibling_mask(image: Path, index: FolderIndex) -> Path | None:
    return _with_image_suffix(image.parent, image.stem + "_mask", index)


def _case_seg(image: Path, index: FolderIndex) -> Path | None:
    best, best_length = None, -1
    stem = image.stem.lower()
    for case, path in index.seg_files(image.parent):
        if stem.startswith(case) and len(case) > best_length:
            best, best_length = path, len(case)
    return best


def _mask_folder(image: Path, index: FolderIndex) -> Path | None:
    folder = image.parent
    for candidate in _role_folders(folder, MASK_FOLDERS, index):
        found = _with_image_suffix(candidate, image.stem, index)
        if found is not None:
            return found
    if image.suffix.lower() in (".jpg", ".jpeg"):
        return index.find(folder, image.stem + ".png")
    return None


def _numbered_mask(image: Path, index: FolderIndex) -> Path | None:
    match = _NUMBERED_STEM.search(image.stem)
    if match is None or _NUMBERED_MASK.match(image.stem):
        return None
    return _with_image_suffix(image.parent, f"mask ({match.group(1)})", index)


def _yolo_label(image: Path, index: FolderIndex) -> Path | None:
    folder = image.parent
    for candidate in (folder, *_role_folders(folder, LABEL_FOLDERS, index)):
        found = index.find(candidate, image.stem + ".txt")
        if found is not None:
            return found
    return None


def _role_folders(folder: Path, names: frozenset[str], index: FolderIndex) -> list[Path]:
    """Folders named like ``names`` inside ``folder`` and beside it (in its parent)."""
    found = []
    for parent in (folder, folder.parent):
        subfolders = index.folders(parent)
        found.extend(subfolders[name] for name in sorted(names)
                     if name in subfolders and subfolders[name] != folder)
    return found


_RULES = (
    ("<stem>_mask", _sibling_mask, BINARY_IMAGE),
    ("case _seg", _case_seg, BINARY_IMAGE),
    ("mask folder", _mask_folder, BINARY_IMAGE),
    ("mask (N)", _numbered_mask, BINARY_IMAGE),
    ("YOLO labels", _yolo_label, YOLO),
)


def find_mask(image: Path, index: FolderIndex) -> MaskMatch | None:
    """Return the mask of the 2D ``image`` by the first rule that finds one, or None."""
    for rule, finder, kind in _RULES:
        path = finder(image, index)
        if path is not None and path != image:
            return MaskMatch(path, kind, rule)
    return None
