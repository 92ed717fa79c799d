"""Recognise input files by their content (magic bytes and headers), not by their names.

A file named ``.png`` that contains a JPEG is read as a JPEG, and a text file named ``.dcm``
is not taken for DICOM.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

NIFTI = "nifti"
NIFTI_PAIR = "nifti-pair"
PNG = "png"
JPEG = "jpeg"
DICOM = "dicom"
BENCHMARK_JSON = "benchmark-json"
JSON = "json"
TEXT = "text"
UNKNOWN = "unknown"
MISSING = "missing"

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8\xff"
_GZIP_MAGIC = b"\x1f\x8b"
_NIFTI1_HEADER_SIZE = 348
_NIFTI2_HEADER_SIZE = 540
# JSON keys of the MM-NeuroOnco closed (vqa_pairs) and open (qa_pairs) benchmark files.
_BENCHMARK_KEYS = (b'"vqa_pairs"', b'"qa_pairs"')
_HEAD_BYTES = 1024
_JSON_SNIFF_BYTES = 65536


def detect_file_type(path: Path) -> str:
    """Return the type of the file at ``path``: one of the module's type constants.

    Reads the first KiB (64 KiB of a JSON file, 540 bytes of a gzip stream).
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(_HEAD_BYTES)
            if head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"[", b"{"):
                head += handle.read(_JSON_SNIFF_BYTES - len(head))
    except FileNotFoundError:
        return MISSING

    if head.startswith(_PNG_MAGIC):
        return PNG
    if head.startswith(_JPEG_MAGIC):
        return JPEG
    if head.startswith(_GZIP_MAGIC):
        return _nifti_type(_gunzip_head(path)) or UNKNOWN
    nifti = _nifti_type(head)
    if nifti:
        return nifti
    if _is_dicom(head):
        return DICOM
    return _text_type(head)


def is_gzip_named_nifti(path: Path) -> bool:
    """Return whether ``path`` is named ``*.nii.gz`` and starts with the gzip magic bytes."""
    if not path.name.lower().endswith(".nii.gz"):
        return False
    try:
        with open(path, "rb") as handle:
            return handle.read(len(_GZIP_MAGIC)) == _GZIP_MAGIC
    except OSError:
        return False


def _gunzip_head(path: Path) -> bytes:
    try:
        with gzip.open(path, "rb") as stream:
            return stream.read(_NIFTI2_HEADER_SIZE)
    except (OSError, EOFError, zlib.error):
        return b""


def _nifti_type(head: bytes) -> str | None:
    """Return NIFTI or NIFTI_PAIR when ``head`` starts with a NIfTI-1 or NIfTI-2 header."""
    if len(head) >= _NIFTI1_HEADER_SIZE:
        for order in ("<", ">"):
            if struct.unpack(order + "i", head[:4])[0] == _NIFTI1_HEADER_SIZE:
                magic = head[344:348]
                if magic == b"n+1\x00":
                    return NIFTI
                if magic == b"ni1\x00":
                    return NIFTI_PAIR
    if len(head) >= _NIFTI2_HEADER_SIZE:
        for order in ("<", ">"):
            if struct.unpack(order + "i", head[:4])[0] == _NIFTI2_HEADER_SIZE:
                magic = head[4:8]
                if magic == b"n+2\x00":
                    return NIFTI
                if magic == b"ni2\x00":
                    return NIFTI_PAIR
    return None


def _is_dicom(head: bytes) -> bool:
    """True for a DICOM Part 10 file, or a preamble-less one that starts with a group 0008 tag."""
    if len(head) >= 132 and head[128:132] == b"DICM":
        return True
    if len(head) < 8:
        return False
    # Old files without the 128-byte preamble start directly with a data element of the
    # identifying group (0008,xxxx): little endian with explicit or implicit VR, or big
    # endian with explicit VR.
    vr = head[4:6]
    explicit_vr = vr.isalpha() and vr.isupper()
    if head[:2] == b"\x08\x00":
        return explicit_vr or struct.unpack("<I", head[4:8])[0] < 1 << 16
    return head[:2] == b"\x00\x08" and explicit_vr


def _text_type(head: bytes) -> str:
    if not head or b"\x00" in head:
        return UNKNOWN
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        # The sniffed block may end inside a multi-byte character.
        try:
            text = head[:-3].decode("utf-8")
        except UnicodeDecodeError:
            return UNKNOWN
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped[:1] in ("[", "{"):
        return BENCHMARK_JSON if any(key in head for key in _BENCHMARK_KEYS) else JSON
    return TEXT
