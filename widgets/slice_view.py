"""The slice view: one series on screen, with levels, mask overlay, letters and readout.

The view draws from slice sources (:mod:`engine.display.sources`) and never reads files or
the database. Slices are shown in the display frame of the source (radiological by
default), placed in a millimetre rectangle with the aspect ratio locked.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QRectF, Qt, Signal
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from engine.display.levels import WindowLevel, dragged, guard
from engine.display.readout import Readout, read_out
from engine.display.sources import ImageSliceSource, LabelSliceSource
from engine.errors import InvalidInputError
from engine.io.volume import NEUROLOGICAL, RADIOLOGICAL
from widgets.idle_prefetch import idle_prefetch_for
from widgets.image_layers import Crosshair, ImageLayer
from widgets.label_overlay import LabelOverlayLayer
from widgets.overlay_settings import OverlaySettings
from widgets.shortcuts import OPACITY_STEP, PAGE_STEP, action_for_event
from widgets.slice_view_box import SliceViewBox
from widgets.view_annotations import EDGES, AnnotatedGraphicsView

ZOOM_STEP = 1.25
SYNTHETIC_BANNER = "SYNTHETIC MASK"


class SliceView(QWidget):
    """One image series with an optional label-map overlay.

    Signals: ``sliceChanged(index)`` (voxel index along the slice axis),
    ``windowChanged(center, width)``, ``cursorMoved(readout or None)`` when the mouse moves
    over this view or the slice under the mouse changes, ``labelCountsChanged(counts)`` (pixels per label index on the new slice),
    ``labelSourceChanged(source or None)`` and ``conventionChanged(convention)``.

    Key presses are looked up in :data:`widgets.shortcuts.SHORTCUTS`, and keys this view
    does not handle go to the parent widget. Give each view its own sources, because a
    source stores the view's slice axis and convention.
    """

    sliceChanged = Signal(int)
    windowChanged = Signal(float, float)
    cursorMoved = Signal(object)
    labelCountsChanged = Signal(object)
    labelSourceChanged = Signal(object)
    conventionChanged = Signal(str)

    def __init__(self, settings: OverlaySettings | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._settings = settings if settings is not None else OverlaySettings(self)
        self._image: ImageSliceSource | None = None
        self._labels: LabelSliceSource | None = None
        self._index = 0
        self._window = WindowLevel(0.5, 1.0)
        self._header_preset = -1
        self._cursor_pixel: tuple[int, int] | None = None
        self._cursor_is_mouse = False  # False while the cursor is another view's linked crosshair
        self._build_graphics()
        self._build_layout()
        self._actions = self._action_table()

    # ---------------------------------------------------------------- construction

    def _build_graphics(self) -> None:
        self._graphics = AnnotatedGraphicsView(self, background="k")
        self._graphics.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self._graphics.setMinimumSize(120, 120)
        self._view_box = SliceViewBox()
        self._graphics.setCentralItem(self._view_box)

        self._image_layer = ImageLayer(self._view_box)
        self._image_item = self._image_layer.item
        self._nan_item = self._image_layer.nan_item
        self._overlay = LabelOverlayLayer(self._view_box, self._settings, self)
        self._crosshair = Crosshair(self._view_box)

        self._annotations = self._graphics.annotations
        self._view_box.sigSliceScrolled.connect(self._on_view_box_slice_scrolled)
        self._view_box.sigWindowDragged.connect(self._on_view_box_window_dragged)
        self._graphics.scene().sigMouseMoved.connect(self._on_scene_mouse_moved)
        self._graphics.viewport().installEventFilter(self)

    def _build_layout(self) -> None:
        self._readout_label = QLabel(self)
        self._readout_label.setObjectName("readout")
        self._readout_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self._readout_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self._graphics, 1)
        layout.addWidget(self._readout_label)

    def _action_table(self) -> dict:
        settings = self._settings
        return {
            "slice.next": lambda: self.step(1),
            "slice.previous": lambda: self.step(-1),
            "slice.page_next": lambda: self.step(PAGE_STEP),
            "slice.page_previous": lambda: self.step(-PAGE_STEP),
            "slice.first": self.go_to_first,
            "slice.last": self.go_to_last,
            "window.auto": lambda: self.apply_preset("auto"),
            "window.full": lambda: self.apply_preset("full"),
            "window.header": lambda: self.apply_preset("header"),
            "view.zoom_in": lambda: self.zoom(ZOOM_STEP),
            "view.zoom_out": lambda: self.zoom(1 / ZOOM_STEP),
            "view.reset": self.reset_view,
            "view.convention": self.toggle_convention,
            "view.crosshair": lambda: self.set_crosshair_enabled(not self._crosshair.enabled),
            "overlay.toggle": settings.toggle_visible,
            "overlay.opacity_down": lambda: settings.step_opacity(-OPACITY_STEP),
            "overlay.opacity_up": lambda: settings.step_opacity(OPACITY_STEP),
            "overlay.outline": settings.toggle_mode,
        }

    # ---------------------------------------------------------------- public state

    @property
    def image_source(self) -> ImageSliceSource | None:
        return self._image

    @property
    def label_source(self) -> LabelSliceSource | None:
        return self._labels

    @property
    def overlay_settings(self) -> OverlaySettings:
        return self._settings

    @property
    def view_box(self) -> SliceViewBox:
        """The pyqtgraph view box, for linking zoom and pan between views."""
        return self._view_box

    @property
    def slice_index(self) -> int:
        return self._index

    @property
    def window(self) -> WindowLevel:
        return self._window

    @property
    def convention(self) -> str:
        return self._image.convention if self._image is not None else RADIOLOGICAL

    @property
    def letters(self) -> dict[str, str]:
        """The orientation letters on screen, edge -> letter ("" where none is shown)."""
        return {edge: self._annotations.text(edge) for edge in EDGES}

    @property
    def readout_text(self) -> str:
        return self._readout_label.text()

    @property
    def crosshair_visible(self) -> bool:
        return self._crosshair.visible

    @property
    def crosshair_position(self) -> tuple[float, float]:
        """The scene point (x, y), millimetres, of the linked-cursor crosshair."""
        return self._crosshair.position

    @property
    def banner_text(self) -> str:
        """The banner over the image ("" when hidden), e.g. for a synthetic mask."""
        return self._annotations.text("banner")

    # ---------------------------------------------------------------- sources

    def set_image(self, source: ImageSliceSource | None, *, index: int | None = None,
                  window: WindowLevel | None = None) -> None:
        """Show ``source`` at slice ``index`` (the middle slice by default) with ``window``
        (the auto preset by default). A label source on another grid is removed."""
        self._image = source
        self._image_layer.relayout()
        self._header_preset = -1
        if self._labels is not None and (source is None or not self._labels.same_grid(source)):
            self.set_labels(None)
        if source is None:
            self._image_layer.clear()
            self._annotations.set_letters({})
            self._annotations.set_corner("top_left", "")
            self._annotations.set_corner("bottom_left", "")
            self._cursor_pixel = None
            was_mouse, self._cursor_is_mouse = self._cursor_is_mouse, False
            self._refresh_readout(emit=was_mouse)
            return
        idle_prefetch_for(source.prefetch_queue)
        chosen = window if window is not None else source.window_presets()[0].window
        self._window = guard(chosen, source.stats)
        self._index = source.clamp(source.slice_count // 2 if index is None else index)
        if self._labels is not None:
            self._labels.set_view(slice_axis=source.slice_axis, convention=source.convention)
        self._annotations.set_letters(source.letters)
        self._show_slice()
        self._show_window_text()
        self.reset_view()
        self.sliceChanged.emit(self._index)
        self.windowChanged.emit(self._window.center, self._window.width)

    def set_labels(self, source: LabelSliceSource | None) -> None:
        """Overlay ``source`` (a label map on the image's grid), or remove the overlay.

        Raises InvalidInputError when its shape or affine differs from the image's.
        """
        if source is not None and self._image is not None:
            if not source.same_grid(self._image):
                raise InvalidInputError(
                    f"{source.label_map.name} has shape {source.shape} but image '{self._image.title}' "
                    f"has {self._image.shape} or a different affine; masks are never resampled"
                )
            source.set_view(slice_axis=self._image.slice_axis, convention=self._image.convention)
        self._labels = source
        self._overlay.set_source(source)
        synthetic = source is not None and source.label_map.is_synthetic
        self._annotations.set_banner(SYNTHETIC_BANNER if synthetic else "")
        self.labelSourceChanged.emit(source)
        if self._image is not None:
            self._overlay.show_slice(self._index)
            self._emit_label_counts()
            self._refresh_readout()

    # ---------------------------------------------------------------- slices

    def set_slice(self, index: int) -> None:
        """Show voxel index ``index`` along the slice axis (clamped to the volume)."""
        if self._image is None:
            return
        index = self._image.clamp(index)
        if index == self._index:
            return
        self._index = index
        self._show_slice()
        self.sliceChanged.emit(index)

    def step(self, count: int) -> None:
        """Move ``count`` slices towards "next" (superior, anterior or right); negative goes back."""
        if self._image is not None:
            self.set_slice(self._index + count * self._image.next_step)

    def go_to_first(self) -> None:
        """Show the first slice: the most inferior, posterior or left one."""
        if self._image is not None:
            self.set_slice(0 if self._image.next_step > 0 else self._image.slice_count - 1)

    def go_to_last(self) -> None:
        """Show the last slice: the most superior, anterior or right one."""
        if self._image is not None:
            self.set_slice(self._image.slice_count - 1 if self._image.next_step > 0 else 0)

    def _show_slice(self) -> None:
        image, index = self._image, self._index
        self._image_layer.show(image.slice(index), image.nan_mask(index), image.geometry.rect, self._window.levels)
        self._overlay.show_slice(index)
        self._emit_label_counts()
        self._annotations.set_corner("top_left", f"{image.title}   slice {index}/{image.slice_count - 1}")
        # The voxel under the mouse is on the new slice now, so listeners get its readout.
        self._refresh_readout(emit=self._cursor_is_mouse)
        image.prefetch(index)
        if self._labels is not None:
            self._labels.prefetch(index)

    def _emit_label_counts(self) -> None:
        if self._labels is not None:
            self.labelCountsChanged.emit(self._labels.counts(self._index))

    # ---------------------------------------------------------------- window / level

    def set_window(self, window: WindowLevel) -> None:
        """Display intensities ``window.center`` +- ``window.width / 2`` as black to white."""
        if self._image is None:
            return
        window = guard(window, self._image.stats)
        if window == self._window:
            return
        self._window = window
        self._image_layer.set_levels(window.levels)
        self._show_window_text()
        self.windowChanged.emit(window.center, window.width)

    def apply_preset(self, kind: str) -> bool:
        """Apply the ``auto``, ``full`` or next ``header`` window; return False if there is none."""
        if self._image is None:
            return False
        candidates = [preset for preset in self._image.window_presets() if preset.kind == kind]
        if not candidates:
            return False
        if kind == "header":
            self._header_preset = (self._header_preset + 1) % len(candidates)
            chosen = candidates[self._header_preset]
        else:
            chosen = candidates[0]
        self.set_window(chosen.window)
        return True

    def _show_window_text(self) -> None:
        self._annotations.set_corner("bottom_left", f"W {self._window.width:.4g}   L {self._window.center:.4g}")

    def _on_view_box_window_dragged(self, dx: float, dy: float) -> None:
        if self._image is not None:
            self.set_window(dragged(self._window, dx, dy, self._image.stats))

    # ---------------------------------------------------------------- view

    def zoom(self, factor: float) -> None:
        """Zoom by ``factor`` (above 1 enlarges) around the centre of the view."""
        self._view_box.scaleBy((1 / factor, 1 / factor))

    def reset_view(self) -> None:
        """Fit the whole slice into the view."""
        if self._image is not None:
            self._view_box.setRange(QRectF(*self._image.geometry.rect), padding=0.02)

    def set_convention(self, convention: str) -> None:
        """Show axial and coronal slices in ``radiological`` or ``neurological`` convention."""
        if self._image is None or convention == self._image.convention:
            return
        self._image.set_view(convention=convention)
        if self._labels is not None:
            self._labels.set_view(convention=convention)
        self._image_layer.relayout()
        self._annotations.set_letters(self._image.letters)
        self._show_slice()
        self._overlay.relayout()
        self.reset_view()
        self.conventionChanged.emit(convention)

    def toggle_convention(self) -> None:
        self.set_convention(NEUROLOGICAL if self.convention == RADIOLOGICAL else RADIOLOGICAL)

    def trigger(self, action: str) -> bool:
        """Run a shortcut-table action of this view; return False for actions it does not own."""
        handler = self._actions.get(action)
        if handler is None:
            return False
        handler()
        return True

    def keyPressEvent(self, event) -> None:
        action = action_for_event(event)
        if action is not None and self.trigger(action):
            event.accept()
            return
        super().keyPressEvent(event)

    def _on_view_box_slice_scrolled(self, steps: int) -> None:
        self.step(steps)

    # ---------------------------------------------------------------- cursor

    def readout_at(self, row: int, col: int) -> Readout | None:
        """Return the readout of display pixel (``row``, ``col``) on the current slice."""
        if self._image is None:
            return None
        return read_out(self._image, self._labels, row, col, self._index)

    def pixel_at_scene(self, scene_x: float, scene_y: float) -> tuple[int, int] | None:
        """Return the display pixel under a point of the graphics scene, or None."""
        if self._image is None:
            return None
        point = self._view_box.mapSceneToView(pg.Point(scene_x, scene_y))
        return self._image.geometry.pixel_at_scene(point.x(), point.y())

    def show_linked_cursor(self, readout: Readout | None) -> None:
        """Mark the point of another view's ``readout`` with the crosshair and read it out here."""
        self._cursor_is_mouse = False
        position = self._linked_position(readout)
        if position is None:
            self._crosshair.hide()
            self._cursor_pixel = None
            self._readout_label.clear()
            return
        row, col = position
        geometry = self._image.geometry
        if readout.world_mm is not None and geometry.has_geometry:
            x, y = geometry.scene_of_world(readout.world_mm)
        else:
            x, y = geometry.scene_of_position(row, col)
        self._crosshair.show_at(x, y)
        inside = 0 <= row < geometry.rows and 0 <= col < geometry.cols
        self._cursor_pixel = (row, col) if inside else None
        self._refresh_readout(emit=False)

    def set_crosshair_enabled(self, enabled: bool) -> None:
        """Allow or forbid the crosshair that marks another pane's cursor."""
        self._crosshair.enabled = bool(enabled)
        if not enabled:
            self._crosshair.hide()

    def _linked_position(self, readout: Readout | None) -> tuple[int, int] | None:
        if readout is None or self._image is None:
            return None
        geometry = self._image.geometry
        if readout.world_mm is not None and geometry.has_geometry:
            row, col, _ = geometry.position_of_world(readout.world_mm)
            return int(round(row)), int(round(col))
        return readout.row, readout.col

    def _on_scene_mouse_moved(self, scene_pos) -> None:
        pixel = self.pixel_at_scene(scene_pos.x(), scene_pos.y())
        self._crosshair.hide()
        if pixel is None and self._cursor_pixel is None:
            return  # still outside the image
        self._cursor_pixel = pixel
        self._cursor_is_mouse = pixel is not None
        self._refresh_readout(emit=True)

    def _refresh_readout(self, emit: bool = False) -> None:
        readout = None
        if self._cursor_pixel is not None and self._image is not None:
            readout = self.readout_at(*self._cursor_pixel)
        self._readout_label.setText(readout.text() if readout is not None else "")
        if emit:
            self.cursorMoved.emit(readout)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Leave and self._cursor_pixel is not None:
            self._cursor_pixel = None
            self._cursor_is_mouse = False
            self._refresh_readout(emit=True)
        return False
