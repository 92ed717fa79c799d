"""Placement of a series' slices on screen in millimetres, and the mappings between screen
(scene) points, display pixels, voxels and world (RAS+) millimetres.

The scene is the coordinate system of the view: x grows to the right of the screen and y
grows downwards, both in millimetres. A slice is drawn as a rectangle of ``cols * col_mm`` by
``rows * row_mm``, so anisotropic voxels keep their true aspect and the array is never
resampled. For volumes the rectangle sits at the world position of the slice projected on
the screen directions, so co-registered series of different grids line up in linked views.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.io.volume import SliceFrame, WORLD_AXIS_LETTERS

LETTER_DIRECTIONS = {
    letter: (axis, sign)
    for axis, pair in enumerate(WORLD_AXIS_LETTERS)
    for letter, sign in zip(pair, (-1, +1))
}


def world_direction(letter: str) -> np.ndarray:
    """Return the RAS+ unit vector that points towards the anatomical direction ``letter``."""
    axis, sign = LETTER_DIRECTIONS[letter]
    vector = np.zeros(3)
    vector[axis] = sign
    return vector


@dataclass(frozen=True)
class DisplayGeometry:
    """Screen placement of the slices of one series in one display frame.

    ``row_mm``/``col_mm`` are the pixel size along display rows and columns; ``x0``/``y0`` the
    scene position of the top-left corner of display pixel (0, 0).
    """

    frame: SliceFrame
    shape: tuple[int, ...]
    affine: np.ndarray
    has_geometry: bool
    rows: int
    cols: int
    row_mm: float
    col_mm: float
    x0: float
    y0: float

    @property
    def rect(self) -> tuple[float, float, float, float]:
        """(x, y, width, height) of a slice in the scene, millimetres."""
        return (self.x0, self.y0, self.cols * self.col_mm, self.rows * self.row_mm)

    @property
    def pixel_area_mm2(self) -> float:
        return self.row_mm * self.col_mm

    def pixel_at_scene(self, x: float, y: float) -> tuple[int, int] | None:
        """Return the display pixel (row, col) containing scene point (x, y), or None outside."""
        row = math.floor((y - self.y0) / self.row_mm)
        col = math.floor((x - self.x0) / self.col_mm)
        if 0 <= row < self.rows and 0 <= col < self.cols:
            return row, col
        return None

    def scene_of_position(self, row: float, col: float) -> tuple[float, float]:
        """Return the scene point of display position (row, col); integers are pixel centres."""
        return self.x0 + (col + 0.5) * self.col_mm, self.y0 + (row + 0.5) * self.row_mm

    def position_of_scene(self, x: float, y: float) -> tuple[float, float]:
        """Return the fractional display position (row, col) of scene point (x, y)."""
        return (y - self.y0) / self.row_mm - 0.5, (x - self.x0) / self.col_mm - 0.5

    def voxel_of_pixel(self, row: int, col: int, index: int) -> tuple[int, ...]:
        return self.frame.to_voxel(row, col, index, self.shape)

    def world_of_voxel(self, voxel) -> tuple[float, float, float] | None:
        """Return the RAS+ millimetre position of a (fractional) voxel, or None without geometry."""
        if not self.has_geometry:
            return None
        homogeneous = np.ones(4)
        homogeneous[: len(voxel)] = voxel
        if len(voxel) == 2:
            homogeneous[2] = 0.0
        world = self.affine @ homogeneous
        return float(world[0]), float(world[1]), float(world[2])

    def world_of_scene(self, x: float, y: float, index: float) -> tuple[float, float, float] | None:
        """Return the world point shown at scene point (x, y) on slice ``index``."""
        row, col = self.position_of_scene(x, y)
        return self.world_of_voxel(self.frame.to_voxel(row, col, index, self.shape))

    def position_of_world(self, world) -> tuple[float, float, float] | None:
        """Return the fractional (row, col, slice index) of a world point, or None without geometry."""
        if not self.has_geometry:
            return None
        voxel = np.linalg.solve(self.affine, np.append(np.asarray(world, dtype=float), 1.0))[:3]
        return self.frame.to_display_position(voxel[: len(self.shape)], self.shape)

    def scene_of_world(self, world) -> tuple[float, float] | None:
        """Return the scene point where a world point is drawn, or None without geometry."""
        position = self.position_of_world(world)
        if position is None:
            return None
        return self.scene_of_position(position[0], position[1])


def display_geometry(frame: SliceFrame, shape: tuple[int, ...], affine: np.ndarray,
                     has_geometry: bool) -> DisplayGeometry:
    """Work out where slices in ``frame`` of a series with ``shape`` and ``affine`` are drawn."""
    affine = np.asarray(affine, dtype=float)
    rows, cols = frame.display_shape(shape)
    if len(shape) == 2:
        row_axis, col_axis = 0, 1
    else:
        first, second = frame.in_plane_axes
        row_axis, col_axis = (second, first) if frame.transpose else (first, second)
    row_mm = float(np.linalg.norm(affine[:3, row_axis]))
    col_mm = float(np.linalg.norm(affine[:3, col_axis]))
    if not has_geometry or len(shape) == 2 or not frame.letters.get("right"):
        return DisplayGeometry(frame, tuple(shape), affine, has_geometry, rows, cols, row_mm, col_mm, 0.0, 0.0)

    # NOTE: an oblique slice is drawn axis-aligned, so this projection of its corner is
    # approximate. Axis-aligned affines (BraTS NIfTI, most DICOM series) are exact.
    middle = shape[frame.slice_axis] // 2
    corner = np.asarray(frame.to_voxel(0, 0, middle, shape), dtype=float)
    world = affine @ np.append(corner, 1.0)
    x0 = float(world[:3] @ world_direction(frame.letters["right"])) - col_mm / 2
    y0 = float(world[:3] @ world_direction(frame.letters["bottom"])) - row_mm / 2
    return DisplayGeometry(frame, tuple(shape), affine, has_geometry, rows, cols, row_mm, col_mm, x0, y0)


def next_slice_step(affine: np.ndarray, slice_axis: int) -> int:
    """Return +1 or -1: the index step that moves a slice towards superior, anterior or right.

    "Next slice" in the viewer always moves along the positive RAS+ direction of the slice
    normal, whatever the voxel order of the file.
    """
    import nibabel as nib

    orientation = nib.orientations.io_orientation(np.asarray(affine, dtype=float))
    sign = orientation[slice_axis][1]
    return -1 if sign < 0 else 1


def plane_axis(affine: np.ndarray, plane: str) -> int:
    """Return the voxel axis closest to the normal of ``plane`` (axial, coronal or sagittal)."""
    import nibabel as nib

    world_axis = {"sagittal": 0, "coronal": 1, "axial": 2}.get(plane)
    if world_axis is None:
        raise ValueError(f"plane must be 'axial', 'coronal' or 'sagittal', not {plane!r}")
    orientation = nib.orientations.io_orientation(np.asarray(affine, dtype=float))
    for axis, (world, _sign) in enumerate(orientation):
        if world == world_axis:
            return axis
    raise ValueError(f"no voxel axis of the affine is close to the {plane} normal")
