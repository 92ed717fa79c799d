"""Image volumes in memory and the 2D display frame of their slices.

Every loader returns a :class:`Volume`: float32 voxels, the voxel-to-world affine (RAS+,
millimetres, as in NIfTI) and where the data came from. Slices are shown and analysed in
one display frame, defined by :class:`SliceFrame` from the affine, never from array order:

- axial slices: anterior at the top;
- coronal and sagittal slices: superior at the top;
- radiological convention: the patient's right on the left of the screen (axial, coronal);
  neurological convention: the patient's left on the left;
- sagittal slices: anterior on the left.

Mask semantics of volume slices are computed in the radiological frame, so the
"Upper-Left" of a semantics label is the upper left of the slice as the viewer shows it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np

WORLD_AXIS_LETTERS = (("L", "R"), ("P", "A"), ("I", "S"))  # (negative, positive) per RAS axis
RADIOLOGICAL = "radiological"
NEUROLOGICAL = "neurological"


@dataclass
class Volume:
    """Voxel data with geometry.

    ``data`` is float32 with shape ``(I, J, K)`` for a volume or ``(H, W)`` for a 2D image
    (rows, columns). ``affine`` maps voxel indices to RAS+ millimetres; 2D images without
    geometry get a diagonal affine with ``has_geometry`` False.
    """

    data: np.ndarray
    affine: np.ndarray
    source_path: Path
    content_sha256: str
    file_format: str
    modality: str = "unknown"
    volume_index: int = 0
    volume_count: int = 1
    has_geometry: bool = True
    header_windows: list[dict] = field(default_factory=list)
    nonfinite_count: int = 0
    original_dtype: str = "float32"

    @property
    def spacing(self) -> tuple[float, ...]:
        """Voxel size in millimetres along each array axis."""
        columns = self.affine[:3, : self.data.ndim]
        return tuple(float(v) for v in np.sqrt((columns**2).sum(axis=0)))

    @property
    def is_2d(self) -> bool:
        return self.data.ndim == 2

    @property
    def slice_axis(self) -> int:
        """The voxel axis slices are taken along: the one closest to superior-inferior."""
        return 0 if self.is_2d else axial_axis(self.affine)

    @property
    def slice_count(self) -> int:
        return 1 if self.is_2d else int(self.data.shape[self.slice_axis])

    def intensity_stats(self) -> dict[str, float]:
        """Finite minimum, maximum and 1st/99th percentiles, for explicit display levels."""
        finite = self.data[np.isfinite(self.data)]
        if finite.size == 0:
            return {"min": 0.0, "max": 0.0, "p1": 0.0, "p99": 0.0, "nonfinite": int(self.data.size)}
        sample = finite if finite.size <= 2_000_000 else finite[:: finite.size // 2_000_000 + 1]
        p1, p99 = np.percentile(sample, [1, 99])
        return {"min": float(finite.min()), "max": float(finite.max()), "p1": float(p1),
                "p99": float(p99), "nonfinite": int(self.nonfinite_count)}


def axial_axis(affine: np.ndarray) -> int:
    """Return the voxel axis of a 3D affine that is closest to the world S/I axis."""
    import nibabel as nib

    orientation = nib.orientations.io_orientation(np.asarray(affine, dtype=float))
    world_axes = [int(row[0]) if not np.isnan(row[0]) else -1 for row in orientation]
    return world_axes.index(2) if 2 in world_axes else 2


def axis_codes(affine: np.ndarray) -> tuple[str, ...]:
    """Return the nibabel axis codes, e.g. ``('R', 'A', 'S')`` or ``('L', 'A', 'S')``."""
    import nibabel as nib

    return tuple(nib.aff2axcodes(np.asarray(affine, dtype=float)))


@dataclass(frozen=True)
class SliceFrame:
    """How a slice ``data.take(k, slice_axis)`` maps to the screen, and back.

    ``transpose`` swaps the two in-plane axes; ``flip_rows`` / ``flip_cols`` reverse them
    after the transpose. ``letters`` are the world directions at the top, bottom, left and
    right edges (empty strings for 2D images without geometry).
    """

    slice_axis: int
    in_plane_axes: tuple[int, int]
    transpose: bool
    flip_rows: bool
    flip_cols: bool
    letters: dict[str, str]

    def to_display(self, plane: np.ndarray) -> np.ndarray:
        """Return ``plane`` (a slice in array order) as displayed; a view, not a copy."""
        view = plane.T if self.transpose else plane
        if self.flip_rows:
            view = view[::-1, :]
        if self.flip_cols:
            view = view[:, ::-1]
        return view

    def display_shape(self, volume_shape: tuple[int, ...]) -> tuple[int, int]:
        a, b = (volume_shape[axis] for axis in self.in_plane_axes)
        return (b, a) if self.transpose else (a, b)

    def to_voxel(self, row: int, col: int, index: int, volume_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Return the voxel index of display pixel (``row``, ``col``) on slice ``index``."""
        rows, cols = self.display_shape(volume_shape)
        if self.flip_rows:
            row = rows - 1 - row
        if self.flip_cols:
            col = cols - 1 - col
        first, second = (col, row) if self.transpose else (row, col)
        voxel = [0] * len(volume_shape)
        voxel[self.in_plane_axes[0]] = first
        voxel[self.in_plane_axes[1]] = second
        if len(volume_shape) == 3:
            voxel[self.slice_axis] = index
        return tuple(voxel)


    def to_display_position(self, voxel, volume_shape: tuple[int, ...]) -> tuple[float, float, float]:
        """Return (row, col, slice index) of a voxel position; the inverse of :meth:`to_voxel`.

        ``voxel`` may hold fractional coordinates (a world point mapped through the inverse
        affine); the result is then fractional too. The slice index is 0 for 2D images.
        """
        rows, cols = self.display_shape(volume_shape)
        first, second = (float(voxel[axis]) for axis in self.in_plane_axes)
        row, col = (second, first) if self.transpose else (first, second)
        if self.flip_rows:
            row = rows - 1 - row
        if self.flip_cols:
            col = cols - 1 - col
        index = float(voxel[self.slice_axis]) if len(volume_shape) == 3 else 0.0
        return row, col, index


def image_frame() -> SliceFrame:
    """The frame of a 2D image file: rows and columns as stored, no orientation letters."""
    return SliceFrame(0, (0, 1), False, False, False, {"top": "", "bottom": "", "left": "", "right": ""})


def slice_frame(affine: np.ndarray, slice_axis: int, convention: str = RADIOLOGICAL) -> SliceFrame:
    """Work out the display frame of slices along ``slice_axis`` of a volume with ``affine``."""
    import nibabel as nib

    if convention not in (RADIOLOGICAL, NEUROLOGICAL):
        raise ValueError(f"convention must be '{RADIOLOGICAL}' or '{NEUROLOGICAL}', not {convention!r}")
    orientation = nib.orientations.io_orientation(np.asarray(affine, dtype=float))
    in_plane = tuple(axis for axis in range(3) if axis != slice_axis)
    world = {axis: (int(orientation[axis][0]), int(orientation[axis][1])) for axis in range(3)}
    normal = world[slice_axis][0]

    # Wanted world direction down the rows and across the columns, as (world axis, sign).
    if normal == 2:  # axial: anterior at the top
        down = (1, -1)
        across = (0, -1) if convention == RADIOLOGICAL else (0, +1)
    elif normal == 1:  # coronal: superior at the top
        down = (2, -1)
        across = (0, -1) if convention == RADIOLOGICAL else (0, +1)
    else:  # sagittal: superior at the top, anterior on the left
        down = (2, -1)
        across = (1, -1)

    first, second = in_plane
    if world[first][0] == down[0]:
        row_axis, col_axis, transpose = first, second, False
    else:
        row_axis, col_axis, transpose = second, first, True
    flip_rows = world[row_axis][1] != down[1]
    flip_cols = world[col_axis][1] != across[1]

    def letter(world_axis: int, sign: int) -> str:
        return WORLD_AXIS_LETTERS[world_axis][1 if sign > 0 else 0]

    letters = {
        "top": letter(down[0], -down[1]),
        "bottom": letter(down[0], down[1]),
        "left": letter(across[0], -across[1]),
        "right": letter(across[0], across[1]),
    }
    return SliceFrame(slice_axis, in_plane, transpose, flip_rows, flip_cols, letters)


def display_slice(volume: Volume, index: int, convention: str = RADIOLOGICAL) -> np.ndarray:
    """Return slice ``index`` of ``volume`` in the display frame (2D images as stored)."""
    if volume.is_2d:
        return volume.data
    frame = slice_frame(volume.affine, volume.slice_axis, convention)
    return frame.to_display(np.take(volume.data, index, axis=volume.slice_axis))


def sha256_bytes(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def sha256_file(path: Path, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_files(paths: Iterable[Path]) -> str:
    """Hash a set of files (a DICOM series) independent of their order and names."""
    digests = sorted(sha256_file(Path(path)) for path in paths)
    return hashlib.sha256("".join(digests).encode()).hexdigest()
