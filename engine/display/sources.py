"""Slice sources: the data objects the slice views draw from.

A source turns a volume (or a 2D image) into display slices: C-contiguous, row-major arrays
in the display frame of :func:`engine.io.volume.slice_frame`, read through a shared
:class:`~engine.display.slice_cache.SliceCache`, with neighbouring slices queued for loading
in idle time. Views never touch the volume array or the database themselves.
"""

from __future__ import annotations

import itertools
import threading

import numpy as np

from engine.display.geometry import DisplayGeometry, display_geometry, next_slice_step
from engine.display.labels import DisplayLabelMap
from engine.display.levels import WindowPreset, presets
from engine.display.slice_cache import PrefetchQueue, SliceCache, default_cache, default_prefetch_queue
from engine.errors import InvalidInputError
from engine.io.volume import RADIOLOGICAL, Volume, axial_axis, image_frame, slice_frame

DEFAULT_PREFETCH_RADIUS = 4
_source_ids = itertools.count(1)


class SliceSource:
    """Display slices along one voxel axis of a 2D or 3D array with an affine."""

    kind = "slice"

    def __init__(self, data: np.ndarray, affine: np.ndarray, *, has_geometry: bool = True,
                 slice_axis: int | None = None, convention: str = RADIOLOGICAL,
                 cache: SliceCache | None = None, prefetch_queue: PrefetchQueue | None = None) -> None:
        if data.ndim not in (2, 3):
            raise InvalidInputError(f"cannot show an array with {data.ndim} dimensions; choose one 3D volume first")
        self.uid = next(_source_ids)
        self.data = data
        self.affine = np.asarray(affine, dtype=float)
        self.has_geometry = has_geometry
        self.cache = cache if cache is not None else default_cache()
        self.prefetch_queue = prefetch_queue if prefetch_queue is not None else default_prefetch_queue()
        if data.ndim == 2:
            slice_axis = 0
        elif slice_axis is None:
            slice_axis = axial_axis(self.affine)
        self._slice_axis = slice_axis
        self._convention = convention
        self._frame_lock = threading.Lock()
        self._update_frame()

    # ---------------------------------------------------------------- geometry

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape)

    @property
    def is_2d(self) -> bool:
        return self.data.ndim == 2

    @property
    def slice_axis(self) -> int:
        return self._slice_axis

    @property
    def slice_count(self) -> int:
        return 1 if self.is_2d else int(self.data.shape[self._slice_axis])

    @property
    def convention(self) -> str:
        return self._convention

    @property
    def geometry(self) -> DisplayGeometry:
        return self._geometry

    @property
    def letters(self) -> dict[str, str]:
        return dict(self._geometry.frame.letters)

    @property
    def next_step(self) -> int:
        """+1 or -1: the index step of "next slice" (towards superior, anterior or right)."""
        return self._next_step

    def set_view(self, *, slice_axis: int | None = None, convention: str | None = None) -> None:
        """Change the slice axis or the radiological/neurological convention."""
        if self.is_2d:
            return
        if slice_axis is not None:
            if slice_axis not in (0, 1, 2):
                raise ValueError(f"slice axis must be 0, 1 or 2, not {slice_axis}")
            self._slice_axis = slice_axis
        if convention is not None:
            self._convention = convention
        self._update_frame()

    def _update_frame(self) -> None:
        if self.is_2d:
            frame = image_frame()
            step = 1
        else:
            frame = slice_frame(self.affine, self._slice_axis, self._convention)
            step = next_slice_step(self.affine, self._slice_axis)
        with self._frame_lock:
            self._frame = frame
            self._geometry = display_geometry(frame, self.shape, self.affine, self.has_geometry)
            self._next_step = step

    def same_grid(self, other: SliceSource, atol: float = 1e-3) -> bool:
        """Return whether ``other`` has this source's shape and affine (within ``atol`` mm)."""
        return self.shape == other.shape and np.allclose(self.affine, other.affine, atol=atol)

    # ---------------------------------------------------------------- slices

    def clamp(self, index: int) -> int:
        return int(min(max(index, 0), self.slice_count - 1))

    def slice(self, index: int) -> np.ndarray:
        """Return slice ``index`` in the display frame: C-contiguous and read-only."""
        return self._cached("slice", index, self._compute_slice)

    def prefetch(self, index: int, radius: int = DEFAULT_PREFETCH_RADIUS) -> None:
        """Queue the slices within ``radius`` of ``index`` for loading into the cache, nearest first."""
        order = sorted(range(index - radius, index + radius + 1), key=lambda i: abs(i - index))
        neighbours = [i for i in order if 0 <= i < self.slice_count and i != index]
        self.prefetch_queue.submit(self.uid, [self._prefetch_task(i) for i in neighbours])

    def close(self) -> None:
        """Drop this source's cached slices and pending prefetches."""
        self.prefetch_queue.cancel(self.uid)
        self.cache.discard(self.uid)

    def _prefetch_task(self, index: int):
        return lambda: self.slice(index)

    def _cached(self, product: str, index: int, compute) -> np.ndarray:
        index = self.clamp(index)
        with self._frame_lock:
            frame = self._frame
        key = (self.uid, product, frame.slice_axis, frame.transpose, frame.flip_rows, frame.flip_cols, index)
        return self.cache.get_or_compute(key, lambda: compute(frame, index))

    def _compute_slice(self, frame, index: int) -> np.ndarray:
        plane = self._plane_of(frame, index)
        return np.ascontiguousarray(frame.to_display(plane))

    def _plane_of(self, frame, index: int) -> np.ndarray:
        if self.is_2d:
            return self.data
        return self.data[tuple(index if axis == frame.slice_axis else slice(None) for axis in range(3))]

    def value_at(self, voxel: tuple[int, ...]):
        return self.data[tuple(voxel)]


class ImageSliceSource(SliceSource):
    """Float32 display slices of an image :class:`~engine.io.volume.Volume` with its levels.

    ``stats`` (finite min, max, p1, p99) sets the display levels once for the series. Pass the
    stored statistics when known, because computing them reads the whole volume on first use.
    """

    kind = "image"

    def __init__(self, volume: Volume, *, stats: dict | None = None, title: str | None = None, **kwargs) -> None:
        if volume.data.dtype != np.float32:
            raise InvalidInputError(
                f"image '{volume.source_path}' has dtype {volume.data.dtype}; load it as float32 first"
            )
        super().__init__(volume.data, volume.affine, has_geometry=volume.has_geometry, **kwargs)
        self.volume = volume
        self.title = title or volume.modality
        self._stats = dict(stats) if stats else None
        self._nan_slices: dict[tuple[int, int], bool] = {}

    @property
    def stats(self) -> dict:
        if self._stats is None:
            self._stats = self.volume.intensity_stats()
        return self._stats

    @property
    def header_windows(self) -> list[dict]:
        return list(self.volume.header_windows or [])

    def window_presets(self) -> list[WindowPreset]:
        return presets(self.stats, self.header_windows)

    def nan_mask(self, index: int) -> np.ndarray | None:
        """Return a uint8 mask (1 = NaN) of slice ``index`` in the display frame, or None without NaN."""
        index = self.clamp(index)
        key = (self._slice_axis, index)
        has_nan = self._nan_slices.get(key)
        if has_nan is None:
            has_nan = bool(np.isnan(self.slice(index)).any())
            self._nan_slices[key] = has_nan
        if not has_nan:
            return None
        return self._cached("nan", index, lambda frame, i: np.isnan(self.slice(i)).astype(np.uint8))

    def value_at(self, voxel: tuple[int, ...]) -> float:
        return float(self.data[tuple(voxel)])


class LabelSliceSource(SliceSource):
    """uint8 index slices of a :class:`~engine.display.labels.DisplayLabelMap`, with outlines and areas."""

    kind = "label"

    def __init__(self, label_map: DisplayLabelMap, **kwargs) -> None:
        super().__init__(label_map.indices, label_map.affine, has_geometry=label_map.has_geometry, **kwargs)
        self.label_map = label_map
        self._counts: dict[tuple[int, int], np.ndarray] = {}

    @classmethod
    def for_image(cls, label_map: DisplayLabelMap, image: ImageSliceSource, **kwargs) -> LabelSliceSource:
        """Build the source of ``label_map`` over ``image``, in the image's slice axis and convention.

        Raises InvalidInputError when the label map's shape or affine differs from the image's:
        masks are never resampled or transposed to fit.
        """
        kwargs.setdefault("cache", image.cache)
        kwargs.setdefault("prefetch_queue", image.prefetch_queue)
        source = cls(label_map, slice_axis=image.slice_axis, convention=image.convention, **kwargs)
        if not source.same_grid(image):
            raise InvalidInputError(
                f"{label_map.name} has shape {source.shape} and affine {source.affine.round(3).tolist()} "
                f"but image '{image.title}' has shape {image.shape} and affine "
                f"{image.affine.round(3).tolist()}; masks are never resampled, so choose the mask of this series"
            )
        return source

    def outline(self, index: int) -> np.ndarray:
        """Return slice ``index`` with only the boundary pixels of each label kept (others 0)."""
        return self._cached("outline", index, lambda frame, i: label_boundaries(self.slice(i)))

    def counts(self, index: int) -> np.ndarray:
        """Return the pixel count of every label index on slice ``index`` (length ``len(values)``)."""
        index = self.clamp(index)
        key = (self._slice_axis, index)
        counts = self._counts.get(key)
        if counts is None:
            counts = np.bincount(self.slice(index).ravel(), minlength=len(self.label_map.values))
            self._counts[key] = counts
        return counts

    def value_at(self, voxel: tuple[int, ...]) -> int:
        return int(self.label_map.values[self.data[tuple(voxel)]])

    def _prefetch_task(self, index: int):
        return lambda: (self.slice(index), self.counts(index))


def label_boundaries(indices: np.ndarray) -> np.ndarray:
    """Keep the label pixels that touch a different label or the image edge (4-neighbourhood)."""
    edge = np.zeros(indices.shape, dtype=bool)
    edge[0, :] = edge[-1, :] = True
    edge[:, 0] = edge[:, -1] = True
    vertical = indices[1:, :] != indices[:-1, :]
    horizontal = indices[:, 1:] != indices[:, :-1]
    edge[1:, :] |= vertical
    edge[:-1, :] |= vertical
    edge[:, 1:] |= horizontal
    edge[:, :-1] |= horizontal
    return np.where(edge, indices, 0).astype(np.uint8)
