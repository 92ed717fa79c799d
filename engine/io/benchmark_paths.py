"""Benchmark image paths: the safety rules, where they point, and what they encode.

An MM-NeuroOnco ``image_path`` is relative to the root of the image collection and reads
``<class>/<NN>_<modalities>[_mask]/.../<file>``, for example
``glioma/16_t1_t2_t1ce_flair_mask/BraTS2021_01648/BraTS2021_01648_flair.png``. The class
folder names the tumour class and ``NN`` the public source dataset.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath, PureWindowsPath

_SOURCE_PREFIX = re.compile(r"^(\d+)_")


def image_path_problem(image_path: str) -> str | None:
    """Return why ``image_path`` may not be used as a path inside a data root, or None.

    The path must be relative and must not contain a ``..`` segment, so that it cannot
    leave the data root by its text alone. Symlinks are checked by :func:`resolve_in_root`.
    """
    if not image_path.strip():
        return "image_path is empty"
    if "\x00" in image_path:
        return f"image_path {image_path!r} contains a NUL character"
    windows = PureWindowsPath(image_path)
    if PurePosixPath(image_path).is_absolute() or windows.drive or windows.root:
        return f"image_path {image_path!r} is absolute; it must be relative to the data root"
    if ".." in re.split(r"[\\/]", image_path):
        return f"image_path {image_path!r} contains a '..' segment; it must stay inside the data root"
    return None


class OutsideRootError(ValueError):
    """A path under a data root resolves (through a symlink) to a place outside it."""

    def __init__(self, image_path: str, target: str) -> None:
        super().__init__(f"image_path {image_path!r} leads through a symlink to {target!r}, "
                         "outside the data root")
        self.image_path = image_path
        self.target = target


def resolve_in_root(root: Path, image_path: str) -> Path:
    """Return the real location of ``image_path`` under ``root``, following symlinks.

    ``image_path`` must already pass :func:`image_path_problem`. Raises
    :class:`OutsideRootError` when a symlink on the way (also a dangling one) points
    outside ``root``. The returned path need not exist.
    """
    real_root = os.path.realpath(root)
    target = os.path.realpath(os.path.join(real_root, image_path))
    if os.path.commonpath([real_root, target]) != real_root:
        raise OutsideRootError(image_path, target)
    return Path(target)


def tumour_class_and_source(image_path: str) -> tuple[str | None, str | None]:
    """Return the class folder and the ``NN`` source prefix encoded in ``image_path``.

    ``"glioma/16_t1_t2_t1ce_flair_mask/x.png"`` gives ``("glioma", "16")``. A part that the
    path does not have (a bare file name, a folder without a numeric prefix) is None.
    """
    parts = PurePosixPath(image_path.replace("\\", "/")).parts
    if len(parts) < 2:
        return None, None
    tumour_class = parts[0]
    match = _SOURCE_PREFIX.match(parts[1]) if len(parts) >= 3 else None
    return tumour_class, match.group(1) if match else None
