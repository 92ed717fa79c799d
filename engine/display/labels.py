"""Label maps prepared for display: compact uint8 indices, names, colours and the RGBA table.

A label map is shown through a lookup table of at most 256 rows, so label values are stored
as uint8 indices into ``values``. Values up to 255 are their own index; larger values (for
example atlas codes such as 2001) are renumbered in ascending order. Index 0 is always the
background, value 0, and is drawn transparent.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from engine.errors import InvalidInputError

MAX_LABELS = 255  # non-zero labels one uint8 index table can hold

# Colours of the first labels, as ITK-SNAP assigns them (red, green, blue, yellow, cyan,
# magenta), so BraTS labels 1, 2 and 4 read as necrotic core red, oedema green and enhancing
# tumour yellow.
FIRST_COLORS = {
    1: (255, 0, 0), 2: (0, 255, 0), 3: (0, 0, 255),
    4: (255, 255, 0), 5: (0, 255, 255), 6: (255, 0, 255),
}
GOLDEN_RATIO_CONJUGATE = 0.618033988749895


def label_color(value: int) -> tuple[int, int, int]:
    """Return the default RGB colour of label ``value``, stable across slices and series."""
    if value in FIRST_COLORS:
        return FIRST_COLORS[value]
    hue = (value * GOLDEN_RATIO_CONJUGATE) % 1.0
    saturation = 0.65 + 0.35 * ((value * 7) % 3) / 2
    red, green, blue = colorsys.hsv_to_rgb(hue, saturation, 1.0)
    return int(round(red * 255)), int(round(green * 255)), int(round(blue * 255))


@dataclass
class DisplayLabelMap:
    """A label map on the grid of an image series, ready for display (the display form of
    :class:`engine.io.masks.LabelMap`).

    ``indices`` has the image's shape (uint8, 0 = background), and ``values[i]`` is the label
    value of index ``i``. ``colors`` contains one RGB row per index. ``voxel_counts`` is the
    number of voxels of each index in the whole map.
    """

    indices: np.ndarray
    affine: np.ndarray
    values: np.ndarray
    names: dict[int, str]
    colors: np.ndarray
    voxel_counts: np.ndarray
    is_synthetic: bool = False
    has_geometry: bool = True
    name: str = ""
    _index_of_value: dict[int, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._index_of_value = {int(v): i for i, v in enumerate(self.values)}

    @classmethod
    def from_array(cls, array: np.ndarray, affine: np.ndarray, *, names: Mapping | None = None,
                   colors: Mapping | None = None, is_synthetic: bool = False,
                   has_geometry: bool = True, name: str = "label map") -> DisplayLabelMap:
        """Build a label map from integer-valued ``array`` (any integer or float dtype).

        ``names`` and ``colors`` map label values (int or str keys) to names and RGB triples.
        Raises InvalidInputError for non-integer or negative values, or more than 255 labels.
        """
        array = np.asarray(array)
        if array.ndim not in (2, 3):
            raise InvalidInputError(f"{name} has {array.ndim} dimensions; a label map must be 2D or 3D")
        values, indices = _compact_indices(array, name)
        names = {int(k): str(v) for k, v in (names or {}).items()}
        chosen = {int(k): tuple(int(c) for c in v[:3]) for k, v in (colors or {}).items()}
        color_rows = np.array([chosen.get(int(v), label_color(int(v))) for v in values], dtype=np.uint8)
        counts = np.bincount(indices.ravel(), minlength=len(values))
        return cls(indices, np.asarray(affine, dtype=float), values, names, color_rows, counts,
                   is_synthetic=is_synthetic, has_geometry=has_geometry, name=name)

    @classmethod
    def from_volume(cls, volume, **kwargs) -> DisplayLabelMap:
        """Build a label map from an :class:`engine.io.volume.Volume` holding label values."""
        kwargs.setdefault("name", f"label map '{volume.source_path.name}'")
        return cls.from_array(volume.data, volume.affine, has_geometry=volume.has_geometry, **kwargs)

    @classmethod
    def from_label_map(cls, label_map, **kwargs) -> DisplayLabelMap:
        """Build the display form of an :class:`engine.io.masks.LabelMap` (``read_label_map``)."""
        kwargs.setdefault("name", f"label map '{label_map.path.name}'")
        return cls.from_array(label_map.labels, label_map.affine, **kwargs)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.indices.shape)

    def index_of(self, value: int) -> int | None:
        return self._index_of_value.get(int(value))

    def name_of(self, value: int) -> str:
        return self.names.get(int(value), f"label {int(value)}")

    def present_values(self) -> list[int]:
        """Return the non-zero label values that occur in the map, ascending."""
        return [int(v) for v, n in zip(self.values[1:], self.voxel_counts[1:]) if n > 0]

    def lookup_table(self, hidden: set[int] | frozenset[int] = frozenset()) -> np.ndarray:
        """Return the 256 x 4 RGBA uint8 table: index 0 and ``hidden`` values transparent."""
        table = np.zeros((256, 4), dtype=np.uint8)
        table[: len(self.values), :3] = self.colors
        table[1 : len(self.values), 3] = 255
        for value in hidden:
            index = self.index_of(value)
            if index:
                table[index, 3] = 0
        return table


def _compact_indices(array: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    if array.dtype.kind == "f":
        if not np.isfinite(array).all():
            raise InvalidInputError(f"{name} contains NaN or infinite values; a label map must hold whole label numbers")
        if not np.array_equal(array, np.round(array)):
            raise InvalidInputError(f"{name} has fractional values; a label map must hold whole label numbers")
    elif array.dtype.kind not in "iub":
        raise InvalidInputError(f"{name} has dtype {array.dtype}; a label map must hold whole label numbers")
    if array.size and array.min() < 0:
        raise InvalidInputError(f"{name} has negative values (minimum {array.min()}); labels must be 0 or more")

    top = int(array.max()) if array.size else 0
    if top <= MAX_LABELS:
        indices = array.astype(np.uint8, copy=array.dtype != np.uint8)
        return np.arange(top + 1, dtype=np.int64), indices

    values = np.unique(array).astype(np.int64)
    if values[0] != 0:
        values = np.concatenate([[0], values])
    if len(values) - 1 > MAX_LABELS:
        raise InvalidInputError(
            f"{name} has {len(values) - 1} distinct non-zero labels; the viewer shows at most {MAX_LABELS}"
        )
    indices = np.searchsorted(values, array).astype(np.uint8)
    return values, indices
