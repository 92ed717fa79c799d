"""What an import will read: cases with their image files and masks, before any file is loaded.

:func:`engine.io.planner.build_plan` walks the input paths and recognises each file by
its content. It groups the files into cases: BraTS case folders, loose NIfTI images with
their masks, and 2D images in the MM-NeuroOnco layout with their masks. DICOM files are
kept apart for the DICOM reader.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from engine.errors import InvalidInputError
from engine.io import detect

log = logging.getLogger(__name__)

# The length of Case.pseudonym (VARCHAR(200), which PostgreSQL enforces).
PSEUDONYM_LENGTH = 200


@dataclass
class ImageSource:
    """An image file to load as one series."""

    path: Path
    file_type: str  # detect.NIFTI, detect.PNG, detect.JPEG
    modality: str = "unknown"
    image_path: str | None = None  # data-root-relative path of a 2D image ('/' separators)


@dataclass
class MaskSource:
    """A mask file and the images of its case that it lies on."""

    path: Path
    kind: str  # masks.LABEL_MAP, masks.BINARY_IMAGE, masks.YOLO
    images: list[Path] = field(default_factory=list)
    brats: bool = False  # BraTS label names allowed


@dataclass
class CasePlan:
    pseudonym: str
    tumour_type: str | None = None
    source: str | None = None
    images: list[ImageSource] = field(default_factory=list)
    masks: list[MaskSource] = field(default_factory=list)
    one_grid: bool = False  # all images must share one voxel grid (a BraTS case)

    def add_image(self, image: ImageSource) -> None:
        if all(existing.path != image.path for existing in self.images):
            self.images.append(image)

    def add_mask(self, path: Path, kind: str, image: Path, brats: bool = False) -> None:
        """Attach mask ``path`` to ``image``; a mask shared by several images is listed once."""
        for mask in self.masks:
            if mask.path == path:
                if image not in mask.images:
                    mask.images.append(image)
                return
        self.masks.append(MaskSource(path, kind, [image], brats))


@dataclass
class ImportPlan:
    cases: dict[str, CasePlan] = field(default_factory=dict)
    # Input paths (files or folders) with DICOM files, and how many files each has.
    dicom_inputs: dict[Path, int] = field(default_factory=dict)
    data_root: Path | None = None
    kinds: set[str] = field(default_factory=set)  # nifti, brats, mm-neuroonco, images, dicom
    skipped: list[str] = field(default_factory=list)  # "path: reason"

    def case(self, pseudonym: str, tumour_type: str | None = None,
             source: str | None = None) -> CasePlan:
        pseudonym = fit_pseudonym(pseudonym)
        if pseudonym not in self.cases:
            self.cases[pseudonym] = CasePlan(pseudonym, tumour_type, source)
        return self.cases[pseudonym]

    def skip(self, path: Path, reason: str) -> None:
        self.skipped.append(f"{path}: {reason}")
        log.info("skipped %s: %s", path, reason)

    @property
    def image_count(self) -> int:
        return sum(len(case.images) for case in self.cases.values())

    @property
    def dataset_kind(self) -> str:
        return next(iter(self.kinds)) if len(self.kinds) == 1 else "mixed"


def fit_pseudonym(name: str) -> str:
    """Shorten ``name`` to the pseudonym column's length, keeping it unique with a hash."""
    if len(name) <= PSEUDONYM_LENGTH:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:12]
    return f"{name[: PSEUDONYM_LENGTH - 14]}~{digest}"


@dataclass
class InputFile:
    """A file found under one input path."""

    path: Path
    file_type: str
    input_path: Path  # the PATH argument it was found under
    explicit: bool  # named on the command line itself


def existing_path(path: Path) -> Path:
    """Return ``path`` made absolute; raise InvalidInputError if it does not exist."""
    path = Path(path).expanduser()
    if not path.exists():
        raise InvalidInputError(f"path '{path}' does not exist; check the spelling, or mount the drive")
    # Absolute but not resolved: a symlinked file inside a data root stays inside it.
    return Path(os.path.normpath(path.absolute()))


def walk_files(folder: Path) -> Iterator[Path]:
    """Yield the files under ``folder`` in sorted order, skipping hidden files and folders.

    Symlinked folders are followed (data roots are often assembled from links), each
    real folder once, so a link loop ends.
    """
    visited = set()
    for current, folders, files in os.walk(folder, followlinks=True):
        real = os.path.realpath(current)
        if real in visited:
            folders[:] = []
            continue
        visited.add(real)
        folders[:] = sorted(name for name in folders if not name.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(current) / name


def collect_files(paths: Iterable[Path]) -> list[InputFile]:
    """Find and type every file under ``paths``; each file once, in input order."""
    found: dict[Path, InputFile] = {}
    for path in paths:
        if path.is_file():
            file_type = detect.detect_file_type(path)
            check_explicit_file(path, file_type)
            found.setdefault(path, InputFile(path, file_type, path, explicit=True))
            continue
        for file in walk_files(path):
            if file not in found:
                found[file] = InputFile(file, detect.detect_file_type(file), path, explicit=False)
    return list(found.values())


def check_explicit_file(path: Path, file_type: str) -> None:
    """Raise InvalidInputError for a file named on the command line that cannot be imported."""
    if file_type == detect.BENCHMARK_JSON:
        raise InvalidInputError(
            f"'{path}' is an MM-NeuroOnco benchmark file; import it with "
            f"'neuroonco bench import --closed {path}' (or --open), not 'neuroonco import'"
        )
    if file_type == detect.NIFTI_PAIR:
        raise InvalidInputError(
            f"'{path}' is a NIfTI header of a .hdr/.img pair, which is not supported; "
            "convert the pair to a single .nii.gz file and import that"
        )
    if file_type == detect.TEXT and path.suffix.lower() == ".txt":
        raise InvalidInputError(
            f"'{path}' is a text file; a YOLO label file is imported with its image, so "
            "import the image or its folder (or name the label file with --mask)"
        )
    if file_type == detect.UNKNOWN and detect.is_gzip_named_nifti(path):
        raise InvalidInputError(
            f"NIfTI file '{path}' could not be read: it is truncated or damaged (its gzip "
            "stream holds no complete NIfTI header); copy or export it again"
        )
    if file_type in (detect.UNKNOWN, detect.JSON, detect.TEXT):
        hint = " (it has a .dcm name but no DICOM header)" if path.suffix.lower() == ".dcm" else ""
        raise InvalidInputError(
            f"'{path}' is not a NIfTI, DICOM, PNG or JPEG file{hint}; "
            "check the file, or import the folder that contains your images"
        )
