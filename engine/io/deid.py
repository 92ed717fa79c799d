"""De-identification of DICOM headers: pseudonyms and an allow-list of technical attributes.

Nothing read from a DICOM header leaves the reader unless it is named in
:data:`TECHNICAL_ATTRIBUTES` (or is the contrast-agent flag derived here). Patient, study,
staff, institution and device identifiers, dates and times, UIDs, free-text descriptions
and private tags are never copied, so they cannot reach the database, logs, exports or
prompts. Cases get :func:`pseudonym`, a keyed hash that only this installation can
reproduce. docs/privacy.md describes the design.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path
from typing import Any, Iterable

from engine.errors import InvalidInputError

SECRET_FILE_NAME = "secret.key"
SECRET_BYTES = 32
PSEUDONYM_PREFIX = "case-"
PSEUDONYM_HEX_CHARS = 12

# Technical attributes that may leave the reader, by DICOM keyword. All are acquisition
# physics, pixel encoding or display parameters; none identifies a patient, a person, a
# place, a device or a date.
TECHNICAL_ATTRIBUTES: tuple[str, ...] = (
    "Modality",
    "Manufacturer",
    "ManufacturerModelName",
    "MagneticFieldStrength",
    "ImagedNucleus",
    "ImagingFrequency",
    "MRAcquisitionType",
    "AcquisitionContrast",
    "ScanningSequence",
    "SequenceVariant",
    "ScanOptions",
    "RepetitionTime",
    "EchoTime",
    "EffectiveEchoTime",
    "InversionTime",
    "InversionTimes",
    "FlipAngle",
    "EchoTrainLength",
    "NumberOfAverages",
    "PixelBandwidth",
    "SliceThickness",
    "SpacingBetweenSlices",
    "PixelSpacing",
    "Rows",
    "Columns",
    "NumberOfFrames",
    "SamplesPerPixel",
    "BitsAllocated",
    "BitsStored",
    "HighBit",
    "PixelRepresentation",
    "PhotometricInterpretation",
    "RescaleSlope",
    "RescaleIntercept",
    "RescaleType",
    "WindowCenter",
    "WindowWidth",
    "BodyPartExamined",
    "PatientPosition",
)

# Functional-group sequences of enhanced multi-frame objects that hold technical
# attributes; the reader looks one level into these and nowhere else.
TECHNICAL_SEQUENCES: tuple[str, ...] = (
    "MRTimingAndRelatedParametersSequence",
    "MREchoSequence",
    "MRModifierSequence",
    "MRImageFrameTypeSequence",
    "PixelMeasuresSequence",
    "PixelValueTransformationSequence",
    "FrameVOILUTSequence",
)


def installation_secret(directory: Path | None = None) -> bytes:
    """Read the per-installation pseudonym key, creating ``secret.key`` (mode 0600) on first use.

    ``directory`` defaults to :func:`db.session.data_dir`. The key is never written to the
    database. Raises InvalidInputError when an existing key file is empty or too short.
    """
    if directory is None:
        from db.session import data_dir

        directory = data_dir()
    Path(directory).mkdir(parents=True, exist_ok=True)
    path = Path(directory) / SECRET_FILE_NAME
    try:
        # O_EXCL makes creation atomic, so two processes never end up with different keys.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_bytes()
        if len(key) < SECRET_BYTES:
            raise InvalidInputError(
                f"pseudonym key {path} is shorter than {SECRET_BYTES} bytes; restore it from a "
                "backup (deleting it changes every new pseudonym)"
            ) from None
        return key
    key = secrets.token_bytes(SECRET_BYTES)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key)
    return key


def pseudonym_for(identifier: str, key: bytes) -> str:
    """Return ``case-`` plus the first 12 hex digits of HMAC-SHA256(``key``, ``identifier``)."""
    digest = hmac.new(key, identifier.encode("utf-8"), hashlib.sha256).hexdigest()
    return PSEUDONYM_PREFIX + digest[:PSEUDONYM_HEX_CHARS]


def pseudonym(dataset, source: Path, key: bytes | None = None) -> str:
    """Return the pseudonymous case id of a DICOM header (a pydicom Dataset).

    The hash input is PatientID, or StudyInstanceUID when PatientID is missing or empty.
    Raises InvalidInputError naming ``source`` when both are missing.
    """
    identifier = _text(dataset.get("PatientID")) or _text(dataset.get("StudyInstanceUID"))
    if not identifier:
        raise InvalidInputError(
            f"DICOM file {source} has neither PatientID nor StudyInstanceUID, so it cannot be "
            "assigned to a case; add one of them with a DICOM editor and import again"
        )
    return pseudonym_for(identifier, key if key is not None else installation_secret())


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def technical_metadata(dataset) -> dict[str, Any]:
    """Return the allow-listed technical attributes of a DICOM header as plain Python values.

    Keys are DICOM keywords; ``ContrastAgent`` is a boolean (True when the header names a
    contrast agent or says one was administered). Multi-frame objects are read from the
    top level first, then the shared and the first per-frame functional groups.
    """
    found: dict[str, Any] = {}
    for source in _metadata_sources(dataset):
        for keyword in TECHNICAL_ATTRIBUTES:
            if keyword in found or keyword not in source:
                continue
            value = _plain(source[keyword].value)
            if value is not None:
                found[keyword] = value
    found["ContrastAgent"] = contrast_agent_given(dataset)
    return found


def _metadata_sources(dataset) -> Iterable:
    yield dataset
    for groups_keyword in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
        groups = dataset.get(groups_keyword)
        if not groups:
            continue
        for sequence_keyword in TECHNICAL_SEQUENCES:
            sequence = groups[0].get(sequence_keyword)
            if sequence:
                yield sequence[0]


def contrast_agent_given(dataset) -> bool:
    """Return True when the header names a contrast agent or records its administration."""
    if _text(dataset.get("ContrastBolusAgent")) or dataset.get("ContrastBolusAgentSequence"):
        return True
    for usage in dataset.get("ContrastBolusUsageSequence") or ():
        if _text(usage.get("ContrastBolusAgentAdministered")).upper() == "YES":
            return True
    return False


def _plain(value: Any) -> Any:
    """Convert a pydicom value (DS, IS, MultiValue, UID) to float, int, str or a list of them."""
    from pydicom.multival import MultiValue
    from pydicom.valuerep import DSfloat, IS

    if value is None or value == "":
        return None
    if isinstance(value, (list, tuple, MultiValue)):
        items = [_plain(item) for item in value]
        return [item for item in items if item is not None] or None
    if isinstance(value, IS):
        return int(value)
    if isinstance(value, (DSfloat, float)):
        return float(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, bytes):
        return None
    return str(value).strip() or None


def identifying_strings(dataset, min_length: int = 4) -> set[str]:
    """Return every string value of ``dataset`` outside the allow-list, for :func:`scrub`.

    Walks nested sequences and private tags. Values shorter than ``min_length`` are
    skipped: they are too short to identify anyone and would mangle ordinary words.
    """
    allowed = set(TECHNICAL_ATTRIBUTES)
    strings: set[str] = set()
    for element in dataset.iterall():
        if element.keyword in allowed or element.VR in ("SQ", "OB", "OW", "OF", "OD", "UN"):
            continue
        values = element.value if element.VM > 1 else [element.value]
        for value in values:
            text = _text(value)
            if len(text) >= min_length:
                strings.add(text)
                strings.update(part for part in text.split("^") if len(part) >= min_length)
    return strings


def scrub(text: str, datasets: Iterable) -> str:
    """Replace any identifying header value of ``datasets`` found in ``text`` with ``[removed]``.

    A second line of defence for messages that quote a library's error text.
    """
    for dataset in datasets:
        for value in sorted(identifying_strings(dataset), key=len, reverse=True):
            text = text.replace(value, "[removed]")
    return text
