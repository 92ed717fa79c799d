"""The cursor readout: voxel index, world position, raw value and label under a display pixel."""

from __future__ import annotations

import math
from dataclasses import dataclass

from engine.display.sources import ImageSliceSource, LabelSliceSource


@dataclass(frozen=True)
class Readout:
    """The voxel, position, value and label under display pixel (``row``, ``col``) of slice ``index``.

    ``voxel`` is (i, j, k) for volumes and (row, col) as stored for 2D images. ``world_mm`` is
    the RAS+ position in millimetres, None without geometry. ``value`` is the raw float32
    intensity, ``label_value`` the label there: 0 for background, None without a label map.
    """

    row: int
    col: int
    index: int
    voxel: tuple[int, ...]
    world_mm: tuple[float, float, float] | None
    value: float
    label_value: int | None = None
    label_name: str | None = None

    def text(self) -> str:
        """Return the one-line form shown under the view."""
        names = "(i, j, k)" if len(self.voxel) == 3 else "(row, col)"
        parts = [f"{names} = ({', '.join(str(v) for v in self.voxel)})"]
        if self.world_mm is not None:
            parts.append("({:.1f}, {:.1f}, {:.1f}) mm RAS".format(*self.world_mm))
        parts.append(f"value {format_value(self.value)}")
        if self.label_value is not None:
            parts.append(f"label {self.label_value} {self.label_name}" if self.label_value else "no label")
        return "   ".join(parts)


def format_value(value: float) -> str:
    """Format an intensity: NaN and infinities by name, others with up to 6 significant digits."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+inf" if value > 0 else "-inf"
    return f"{value:.6g}"


def read_out(image: ImageSliceSource, labels: LabelSliceSource | None, row: int, col: int,
             index: int) -> Readout:
    """Return the readout of display pixel (``row``, ``col``) on slice ``index`` of ``image``."""
    geometry = image.geometry
    voxel = tuple(int(v) for v in geometry.voxel_of_pixel(row, col, index))
    world = geometry.world_of_voxel(voxel)
    value = image.value_at(voxel)
    label_value = label_name = None
    if labels is not None:
        label_value = labels.value_at(voxel)
        label_name = labels.label_map.name_of(label_value) if label_value else None
    return Readout(row, col, index, voxel, world, value, label_value, label_name)
