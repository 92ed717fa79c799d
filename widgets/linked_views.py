"""Side-by-side slice views of one case (for example T1, T1CE, T2 and FLAIR), linked.

Linked panes follow each other's slice (by world position, so series with other slice
counts or voxel orders stay at the same anatomy), zoom and pan (the scenes share world
millimetres), cursor and display convention. Unlinking leaves each pane where it is.
"""

from __future__ import annotations

from typing import Sequence

from PySide6.QtCore import QEvent, QObject, QSignalBlocker, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from engine.display.labels import DisplayLabelMap
from engine.display.sources import ImageSliceSource, LabelSliceSource
from engine.errors import InvalidInputError
from widgets.overlay_settings import OverlaySettings
from widgets.shortcuts import action_for_event, shortcut
from widgets.slice_view import SliceView

PANE_COUNTS = (1, 2, 4)
GRID_POSITIONS = ((0, 0), (0, 1), (1, 0), (1, 1))


class LinkedSliceViews(QWidget):
    """Up to four :class:`SliceView` panes sharing one :class:`OverlaySettings`.

    Signals: ``linkedChanged(bool)``, ``paneCountChanged(n)``, ``activePaneChanged(i)``, and,
    from the active pane, ``sliceChanged``, ``labelCountsChanged``, ``labelSourceChanged``
    and ``cursorMoved``, so a legend or status bar can follow this widget like one view.
    """

    linkedChanged = Signal(bool)
    paneCountChanged = Signal(int)
    activePaneChanged = Signal(int)
    sliceChanged = Signal(int)
    labelCountsChanged = Signal(object)
    labelSourceChanged = Signal(object)
    cursorMoved = Signal(object)

    def __init__(self, settings: OverlaySettings | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings if settings is not None else OverlaySettings(self)
        self.views = [SliceView(self.settings, self) for _ in GRID_POSITIONS]
        self._linked = True
        self._pane_count = 4
        self._active = 0
        self._syncing = False
        self._build_toolbar()
        self._build_layout()
        for number, view in enumerate(self.views):
            self._connect_view(number, view)
        self._link_ranges(True)
        self.set_pane_count(4)

    def _build_toolbar(self) -> None:
        self.pane_box = QComboBox(self)
        for count in PANE_COUNTS:
            self.pane_box.addItem("1 pane" if count == 1 else f"{count} panes", count)
        self.pane_box.setToolTip("Number of panes (Ctrl+1, Ctrl+2, Ctrl+4)")
        self.link_box = QCheckBox("Link panes", self)
        self.link_box.setChecked(True)
        self.link_box.setToolTip(f"Link slice, zoom, pan and cursor ({' / '.join(shortcut('linked.toggle').keys)})")
        self.pane_box.currentIndexChanged.connect(self._on_pane_box_index_changed)
        self.link_box.toggled.connect(self._on_link_box_toggled)

    def _build_layout(self) -> None:
        toolbar = QHBoxLayout()
        toolbar.setContentsMargins(0, 0, 0, 0)
        toolbar.addWidget(QLabel("Panes:", self))
        toolbar.addWidget(self.pane_box)
        toolbar.addWidget(self.link_box)
        toolbar.addStretch(1)
        self._grid = QGridLayout()
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setSpacing(3)
        for view, (row, column) in zip(self.views, GRID_POSITIONS):
            self._grid.addWidget(view, row, column)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(toolbar)
        layout.addLayout(self._grid, 1)

    def _connect_view(self, number: int, view: SliceView) -> None:
        view.sliceChanged.connect(lambda index, n=number: self._on_view_slice_changed(n, index))
        view.cursorMoved.connect(lambda readout, n=number: self._on_view_cursor_moved(n, readout))
        view.conventionChanged.connect(lambda convention, n=number: self._on_view_convention_changed(n, convention))
        view.labelCountsChanged.connect(lambda counts, n=number: self._on_view_label_counts_changed(n, counts))
        view.labelSourceChanged.connect(lambda source, n=number: self._on_view_label_source_changed(n, source))
        view.installEventFilter(self)

    # ---------------------------------------------------------------- state

    @property
    def linked(self) -> bool:
        return self._linked

    @property
    def pane_count(self) -> int:
        return self._pane_count

    @property
    def active_view(self) -> SliceView:
        return self.views[self._active]

    @property
    def label_source(self) -> LabelSliceSource | None:
        return self.active_view.label_source

    @property
    def slice_index(self) -> int:
        return self.active_view.slice_index

    def visible_views(self) -> list[SliceView]:
        return self.views[: self._pane_count]

    # ---------------------------------------------------------------- content

    def set_case(self, images: Sequence[ImageSliceSource | None], label_map: DisplayLabelMap | None = None) -> list[str]:
        """Show up to four series, one per pane, with ``label_map`` over each pane on its grid.

        Returns one message per pane that gets no overlay because its grid differs from the
        mask's (masks are never resampled); the caller shows them.
        """
        if len(images) > len(self.views):
            raise ValueError(f"at most {len(self.views)} series fit in the panes, not {len(images)}")
        messages = []
        self._syncing = True
        try:
            for number, view in enumerate(self.views):
                image = images[number] if number < len(images) else None
                view.set_labels(None)
                view.set_image(image)
                if image is None or label_map is None:
                    continue
                try:
                    view.set_labels(LabelSliceSource.for_image(label_map, image))
                except InvalidInputError as error:
                    messages.append(str(error))
        finally:
            self._syncing = False
        count = len([image for image in images if image is not None])
        self.set_pane_count(next((n for n in PANE_COUNTS if n >= count), PANE_COUNTS[-1]))
        self._set_active(0)
        self._sync_slices_from(0)
        return messages

    def set_pane_count(self, count: int) -> None:
        """Show 1, 2 (side by side) or 4 (two by two) panes."""
        if count not in PANE_COUNTS:
            raise ValueError(f"pane count must be one of {PANE_COUNTS}, not {count}")
        self._pane_count = count
        for number, view in enumerate(self.views):
            view.setVisible(number < count)
        with QSignalBlocker(self.pane_box):
            self.pane_box.setCurrentIndex(PANE_COUNTS.index(count))
        if self._active >= count:
            self._set_active(0)
        self.paneCountChanged.emit(count)

    def set_linked(self, linked: bool) -> None:
        """Link or unlink slice, zoom, pan, cursor and convention; linking aligns to the active pane."""
        linked = bool(linked)
        if linked == self._linked:
            return
        self._linked = linked
        with QSignalBlocker(self.link_box):
            self.link_box.setChecked(linked)
        self._link_ranges(linked)
        if linked:
            self._sync_slices_from(self._active)
        else:
            for view in self.views:
                view.show_linked_cursor(None)
        self.linkedChanged.emit(linked)

    def set_convention(self, convention: str) -> None:
        """Switch every pane to the ``radiological`` or ``neurological`` convention."""
        self._syncing = True
        try:
            for view in self.views:
                view.set_convention(convention)
        finally:
            self._syncing = False

    # ---------------------------------------------------------------- linking

    def _link_ranges(self, linked: bool) -> None:
        leader = self.views[0].view_box
        for view in self.views[1:]:
            view.view_box.setXLink(leader if linked else None)
            view.view_box.setYLink(leader if linked else None)

    def _sync_slices_from(self, number: int) -> None:
        leader = self.views[number]
        source = leader.image_source
        if not self._linked or source is None:
            return
        geometry = source.geometry
        centre = geometry.voxel_of_pixel(geometry.rows // 2, geometry.cols // 2, leader.slice_index)
        world = geometry.world_of_voxel(centre)
        self._syncing = True  # a flag, not a QSignalBlocker: followers must still tell their legends
        try:
            for view in self.visible_views():
                follower = view.image_source
                if view is leader or follower is None:
                    continue
                position = follower.geometry.position_of_world(world) if world is not None else None
                target = leader.slice_index if position is None else int(round(position[2]))
                view.set_slice(target)
        finally:
            self._syncing = False

    def _set_active(self, number: int) -> None:
        if number == self._active:
            return
        self._active = number
        view = self.views[number]
        self.activePaneChanged.emit(number)
        self.labelSourceChanged.emit(view.label_source)
        if view.label_source is not None:
            self.labelCountsChanged.emit(view.label_source.counts(view.slice_index))
        self.sliceChanged.emit(view.slice_index)

    def _on_view_slice_changed(self, number: int, index: int) -> None:
        if number == self._active:
            self.sliceChanged.emit(index)
        if not self._syncing:
            self._sync_slices_from(number)

    def _on_view_cursor_moved(self, number: int, readout) -> None:
        if readout is not None:
            self._set_active(number)
        self.cursorMoved.emit(readout)
        if not self._linked:
            return
        for other, view in enumerate(self.visible_views()):
            if other != number:
                view.show_linked_cursor(readout)

    def _on_view_convention_changed(self, number: int, convention: str) -> None:
        if self._linked and not self._syncing:
            self.set_convention(convention)

    def _on_view_label_counts_changed(self, number: int, counts) -> None:
        if number == self._active:
            self.labelCountsChanged.emit(counts)

    def _on_view_label_source_changed(self, number: int, source) -> None:
        if number == self._active:
            self.labelSourceChanged.emit(source)

    def _on_pane_box_index_changed(self, index: int) -> None:
        self.set_pane_count(self.pane_box.itemData(index))

    def _on_link_box_toggled(self, checked: bool) -> None:
        self.set_linked(checked)

    # ---------------------------------------------------------------- events

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.FocusIn and watched in self.views:
            self._set_active(self.views.index(watched))
        return False

    def keyPressEvent(self, event) -> None:
        action = action_for_event(event)
        if action == "linked.toggle":
            self.set_linked(not self._linked)
        elif action is not None and action.startswith("linked.panes_"):
            self.set_pane_count(int(action.rsplit("_", 1)[1]))
        else:
            super().keyPressEvent(event)
            return
        event.accept()
