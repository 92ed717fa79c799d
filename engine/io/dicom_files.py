"""Finding DICOM files in a folder and reading their headers quietly.

pydicom reports invalid header values through warnings and its ``pydicom`` logger, and
those messages quote the values, which may be patient identifiers. Every read here runs
inside :func:`quiet_pydicom`, which turns value validation off and drops pydicom's log
records, so no header value reaches the application's logs.
"""

from __future__ import annotations

import logging
import os
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from engine.errors import InvalidInputError
from engine.progress import NullProgress, Progress

log = logging.getLogger(__name__)

# Names that promise a DICOM file: such a file that is not DICOM is an error, whereas other
# non-DICOM files in a folder (notes, thumbnails, .DS_Store) are skipped.
DICOM_SUFFIXES = (".dcm", ".dicom", ".ima")
DICOM_MAGIC_OFFSET = 128
SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"
MEDIA_STORAGE_DIRECTORY = "1.2.840.10008.1.3.10"
# Elements above this size (the pixel data of all but tiny images) are read from disk
# only when used, so the headers of a large series fit in memory.
DEFER_SIZE = "16 KB"


@dataclass
class DicomFile:
    """One DICOM file: its path as found and its header (pixel data deferred).

    ``kind`` is "image" or "seg". The header contains identifiers and stays in memory.
    """

    path: Path
    header: object = field(repr=False)
    kind: str = "image"


class _DropRecords(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return False


@contextmanager
def quiet_pydicom() -> Iterator[None]:
    """Read with pydicom's value validation off and its warnings and log records dropped.

    NOTE: pydicom's settings and logger are process-wide, so a thread that reads DICOM
    outside this block at the same time is quieted too.
    """
    import pydicom.config
    import pydicom.pixels  # noqa: F401 - creates the pixel modules' child loggers

    settings = pydicom.config.settings
    saved_mode = settings.reading_validation_mode
    # A logger's filters do not apply to records that propagate from its children, so
    # every pydicom logger gets the filter.
    names = [name for name in logging.root.manager.loggerDict if name == "pydicom" or name.startswith("pydicom.")]
    loggers = [logging.getLogger(name) for name in names]
    drop = _DropRecords()
    settings.reading_validation_mode = pydicom.config.IGNORE
    for pydicom_logger in loggers:
        pydicom_logger.addFilter(drop)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for pydicom_logger in loggers:
            pydicom_logger.removeFilter(drop)
        settings.reading_validation_mode = saved_mode


def has_dicom_marker(path: Path) -> bool:
    """Return True when ``path`` is a file with the ``DICM`` marker after the 128-byte preamble."""
    try:
        with open(path, "rb") as handle:
            handle.seek(DICOM_MAGIC_OFFSET)
            return handle.read(4) == b"DICM"
    except OSError:
        return False


def looks_like_dicom(path: Path) -> bool:
    """Return True for a DICOM file, or a folder with a DICOM file anywhere below it."""
    path = Path(path)
    if path.is_file():
        return has_dicom_marker(path) or path.suffix.lower() in DICOM_SUFFIXES
    return any(has_dicom_marker(candidate) for candidate in _walk(path))


def _walk(folder: Path) -> Iterator[Path]:
    for root, directories, names in os.walk(folder):
        directories.sort()
        for name in sorted(names):
            yield Path(root) / name


def read_header(path: Path):
    """Read the header of one DICOM file with the pixel data deferred.

    Raises InvalidInputError naming ``path`` when it is not a readable DICOM file.
    """
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        with quiet_pydicom():
            header = pydicom.dcmread(path, defer_size=DEFER_SIZE)
            _convert_elements(header)
            return header
    except InvalidDicomError:
        raise InvalidInputError(
            f"{path} is not a DICOM file (no 'DICM' marker after the 128-byte preamble); "
            "remove it or export the image again as DICOM Part 10"
        ) from None
    except (OSError, ValueError, EOFError, KeyError, TypeError) as error:
        # The library's text is left out on purpose: it can quote header values.
        raise InvalidInputError(
            f"{path} could not be read as DICOM ({type(error).__name__}); the file is damaged "
            "or truncated, so export it again"
        ) from None


def _convert_elements(dataset) -> None:
    """Convert every raw element of ``dataset`` and its sequences, except deferred ones.

    pydicom converts raw elements (and parses sequences) on first access, and in debug
    mode that logs their values, so the conversion must happen inside :func:`quiet_pydicom`.
    Deferred elements (the pixel data) stay on disk until decoded.
    """
    from pydicom.dataelem import RawDataElement

    for tag in list(dataset.keys()):
        raw = dataset.get_item(tag, keep_deferred=True)
        if isinstance(raw, RawDataElement) and raw.value is None and raw.length:
            continue
        element = dataset[tag]
        if element.VR == "SQ":
            for item in element.value:
                _convert_elements(item)


def classify(path: Path, header) -> str | None:
    """Return "image", "seg", or None for a DICOMDIR index; raise for files without pixel data."""
    sop_class = str(header.get("SOPClassUID", "") or header.file_meta.get("MediaStorageSOPClassUID", ""))
    if sop_class == MEDIA_STORAGE_DIRECTORY:
        return None
    if "PixelData" not in header:
        raise InvalidInputError(
            f"DICOM file {path} has no pixel data (no image, or the file is truncated); "
            "only DICOM images and DICOM SEG files can be imported"
        )
    return "seg" if sop_class == SEGMENTATION_STORAGE else "image"


def find_dicom_files(path: Path, progress: Progress | None = None) -> list[DicomFile]:
    """Read the headers of a DICOM file or of every DICOM file below a folder.

    Files without the DICOM marker are skipped unless their name ends in .dcm, .dicom or
    .ima, which raises InvalidInputError. DICOMDIR index files are skipped. Raises
    InvalidInputError for a missing path, a folder without DICOM files, and a DICOM file
    without pixel data.
    """
    progress = progress or NullProgress()
    path = Path(path)
    if not path.exists():
        raise InvalidInputError(f"{path} does not exist; check the path")
    candidates = [path] if path.is_file() else list(_walk(path))
    progress.start(len(candidates), "reading DICOM headers")

    found: list[DicomFile] = []
    skipped = 0
    for candidate in candidates:
        if path.is_dir() and not has_dicom_marker(candidate) and candidate.suffix.lower() not in DICOM_SUFFIXES:
            skipped += 1
            progress.advance()
            continue
        header = read_header(candidate)
        kind = classify(candidate, header)
        if kind is not None:
            found.append(DicomFile(candidate, header, kind))
        progress.advance()

    if skipped:
        log.info("skipped %d files without a DICOM marker below %s", skipped, path)
    if not found:
        raise InvalidInputError(
            f"no DICOM image files found in {path}; choose the folder that contains the .dcm files"
        )
    return found
