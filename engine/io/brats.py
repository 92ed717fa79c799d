"""BraTS case folders: one NIfTI file per modality plus a label map, all on one grid.

BraTS 2021 names the files ``<case>_t1``, ``_t1ce``, ``_t2``, ``_flair`` and ``_seg``;
BraTS 2023 names them ``<case>-t1n``, ``-t1c``, ``-t2w``, ``-t2f`` and ``-seg``.
"""

from __future__ import annotations

import re
from pathlib import Path

_BRATS_FILE = re.compile(
    r"^(?P<case>.+?)[_-](?P<token>t1ce|t1c|t1n|t1|t2w|t2f|t2|flair|seg)\.nii(?:\.gz)?$",
    re.IGNORECASE,
)
MODALITY_OF_TOKEN = {
    "t1": "T1", "t1n": "T1",
    "t1ce": "T1CE", "t1c": "T1CE",
    "t2": "T2", "t2w": "T2",
    "flair": "FLAIR", "t2f": "FLAIR",
}
SEG_TOKEN = "seg"


def brats_token(path: Path) -> tuple[str, str] | None:
    """Return (case prefix, lower-case token) of a BraTS-named NIfTI file, else None."""
    match = _BRATS_FILE.match(path.name)
    if match is None:
        return None
    return match.group("case"), match.group("token").lower()


def brats_case_files(files: list[Path]) -> dict[str, Path] | None:
    """Return {token: path} when the NIfTI ``files`` of one folder form a BraTS case, else None.

    A BraTS case has at least two BraTS-named files of one case prefix, each token once,
    and at least one image (not only a label map).
    """
    by_case: dict[str, dict[str, Path]] = {}
    for path in files:
        named = brats_token(path)
        if named is None:
            continue
        case, token = named
        tokens = by_case.setdefault(case, {})
        if token in tokens or MODALITY_OF_TOKEN.get(token) in _modalities(tokens):
            return None  # two files for one modality: not a single case
        tokens[token] = path
    if len(by_case) != 1:
        return None
    tokens = next(iter(by_case.values()))
    images = [token for token in tokens if token != SEG_TOKEN]
    return tokens if len(tokens) >= 2 and images else None


def _modalities(tokens: dict[str, Path]) -> set[str]:
    return {MODALITY_OF_TOKEN[token] for token in tokens if token in MODALITY_OF_TOKEN}
