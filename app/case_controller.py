"""Opens cases in the linked panes and keeps track of the slice on screen.

The controller owns the central widget: the panes, or a placeholder while nothing is
selected, a case is loading, or its image is missing. Files are read by the case loader on
a worker thread. The slice on screen is announced with ``currentSliceChanged(slice_id)``
once scrolling pauses, so the panels query the database once per stop, not per frame.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QStackedWidget
from sqlalchemy import select

from app.case_loader import CaseLoader
from db.models import Slice
from db.session import Database
from engine.catalog_tree import slice_position
from engine.display.sources import ImageSliceSource
from engine.errors import WorkbenchError
from engine.viewer.case_files import ImageMissingError, case_files
from engine.viewer.case_loading import LoadedCase
from widgets.image_placeholder import ImagePlaceholder
from widgets.linked_views import LinkedSliceViews

log = logging.getLogger(__name__)

SETTLE_MS = 150  # the slice must stay this long before the panels follow it


@dataclass(frozen=True)
class DataRootRequest:
    """The target of a "Set data root" button: a benchmark's images or a dataset's files."""

    kind: str  # "benchmark" or "dataset"
    key: int | str  # benchmark name or dataset id
    label: str


class CaseController(QObject):
    """Shows cases in the panes. Signals: ``currentSliceChanged(slice_id or None)``,
    ``caseShown(case_id)``, ``message(text)`` for the status bar."""

    currentSliceChanged = Signal(object)
    caseShown = Signal(int)
    message = Signal(str)
    dataRootRequested = Signal(object)

    def __init__(self, db: Database, panes: LinkedSliceViews, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.db = db
        self.panes = panes
        self.placeholder = ImagePlaceholder()
        self.stack = QStackedWidget()
        self.stack.addWidget(self.placeholder)
        self.stack.addWidget(panes)
        self.loader = CaseLoader(self)
        self.loader.progressed.connect(self._on_loader_progressed)
        self.loader.loaded.connect(self._on_loader_loaded)
        self.loader.failed.connect(self._on_loader_failed)
        self.loader.cancelled.connect(self._on_loader_cancelled)
        self.placeholder.cancelRequested.connect(self.loader.cancel)
        self.placeholder.setDataRootRequested.connect(self._on_placeholder_data_root_requested)
        self.panes.sliceChanged.connect(self._on_panes_slice_changed)
        self.panes.activePaneChanged.connect(self._on_panes_slice_changed)
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(SETTLE_MS)
        self._settle.timeout.connect(self._announce_slice)

        self.case_id: int | None = None
        self.loading_case_id: int | None = None
        self.slice_id: int | None = None
        self._shown_series: list[int] = []
        self._slice_ids: dict[tuple[int, int], int] = {}
        self._pending: tuple[int, int] | None = None  # (series id, slice index) to show after loading
        self._requested: tuple[int, int, int] | None = None  # the last (case, series, index) loaded
        self._data_root_request: DataRootRequest | None = None

    # ------------------------------------------------------------ opening

    def open_slice(self, slice_id: int) -> bool:
        """Show slice ``slice_id`` (loading its case when needed); return False if it is gone."""
        with self.db.session() as session:
            position = slice_position(session, slice_id)
        if position is None:
            self.message.emit(f"slice {slice_id} no longer exists; refresh the browser")
            return False
        _dataset_id, case_id, series_id, index = position
        self._go_to(case_id, series_id, index)
        self._set_slice_id(slice_id)
        return True

    def _go_to(self, case_id: int, series_id: int, index: int) -> None:
        if case_id == self.case_id and series_id in self._shown_series and self.loading_case_id is None:
            self._show_in_pane(series_id, index)
            return
        if case_id == self.loading_case_id:
            self._pending = (series_id, index)
            return
        self._start_loading(case_id, series_id, index)

    def _start_loading(self, case_id: int, series_id: int, index: int) -> None:
        with self.db.session() as session:
            files = case_files(session, case_id)
            self._slice_ids = {
                (row.series_id, row.index): row.id for row in session.execute(
                    select(Slice.id, Slice.series_id, Slice.index)
                    .where(Slice.series_id.in_([entry.series_id for entry in files.series])))
            }
        self.loading_case_id = case_id
        self._pending = (series_id, index)
        self._requested = (case_id, series_id, index)
        self.placeholder.show_loading(f"Loading case {files.pseudonym} ({files.dataset})", 0, 1)
        self.stack.setCurrentWidget(self.placeholder)
        self.loader.load(files, series_id)

    def show_missing_item(self, text: str, request: DataRootRequest | None) -> None:
        """Show the placeholder for a benchmark item without an image."""
        self.loader.cancel()
        self.loading_case_id = None
        self._close_case()
        self._data_root_request = request
        self.placeholder.show_message(text, offer_data_root=request is not None)
        self.stack.setCurrentWidget(self.placeholder)
        self._set_slice_id(None)

    def clear(self, text: str = "Select a slice or a benchmark item in the browser.") -> None:
        self.loader.cancel()
        self.loading_case_id = None
        self._close_case()
        self.placeholder.show_message(text)
        self.stack.setCurrentWidget(self.placeholder)
        self._set_slice_id(None)

    def reload(self) -> None:
        """Load the shown (or last requested) case again, e.g. after its data root changed.

        The slice on screen is kept; after a failed load the slice that was asked for.
        """
        current = self.current_series_and_index()
        if current is not None and self.case_id is not None:
            case_id, target = self.case_id, current
        elif self._requested is not None:
            case_id, target = self._requested[0], self._requested[1:]
        else:
            return
        self.case_id = None
        self._start_loading(case_id, *target)

    # ------------------------------------------------------------ loading results

    def _on_loader_progressed(self, done: int, total: int, text: str) -> None:
        if self.loading_case_id is not None:
            self.placeholder.show_loading(text or "Loading", done, total)

    def _on_loader_loaded(self, loaded: LoadedCase) -> None:
        old_sources = [view.image_source for view in self.panes.views if view.image_source is not None]
        sources = [ImageSliceSource(volume, title=entry.title, stats=entry.intensity)
                   for entry, volume in zip(loaded.series, loaded.volumes)]
        messages = self.panes.set_case(sources, loaded.label_map)
        for source in old_sources:
            source.close()  # frees their cached slices at once, so the cache serves the new case
        self.case_id = loaded.files.case_id
        self.loading_case_id = None
        self._shown_series = [entry.series_id for entry in loaded.series]
        self.stack.setCurrentWidget(self.panes)
        pending, self._pending = self._pending, None
        if pending is not None:
            self._show_in_pane(*pending)
        if loaded.mask_error:
            messages.append(f"mask not shown: {loaded.mask_error}")
        for text in messages:
            self.message.emit(text)
        self.caseShown.emit(self.case_id)
        self._announce_slice()

    def _on_loader_failed(self, error: Exception) -> None:
        case_id = self.loading_case_id
        self.loading_case_id = None
        self._close_case()
        if isinstance(error, ImageMissingError) and error.dataset_id is not None:
            self._data_root_request = DataRootRequest("dataset", error.dataset_id, "the dataset's files")
            self.placeholder.show_message(str(error), offer_data_root=True)
        elif isinstance(error, WorkbenchError):
            self._data_root_request = None
            self.placeholder.show_message(str(error))
        else:
            log.error("loading case %s failed", case_id, exc_info=error)
            self._data_root_request = None
            self.placeholder.show_message(f"Loading failed: {type(error).__name__}: {error}")
        self.stack.setCurrentWidget(self.placeholder)

    def _on_loader_cancelled(self) -> None:
        if self.loading_case_id is not None:
            self.loading_case_id = None
            self.placeholder.show_message("Loading cancelled. Select the slice again to load it.")

    def _close_case(self) -> None:
        if self.case_id is None:
            return
        sources = [view.image_source for view in self.panes.views if view.image_source is not None]
        self.panes.set_case([], None)
        for source in sources:
            source.close()
        self.case_id = None
        self._shown_series = []

    # ------------------------------------------------------------ current slice

    def _show_in_pane(self, series_id: int, index: int) -> None:
        pane = self._shown_series.index(series_id)
        view = self.panes.views[pane]
        view.setFocus()
        view.set_slice(index)

    def current_series_and_index(self) -> tuple[int, int] | None:
        if self.case_id is None or not self._shown_series:
            return None
        view = self.panes.active_view
        pane = self.panes.views.index(view)
        if pane >= len(self._shown_series):
            return None
        return self._shown_series[pane], view.slice_index

    def _on_panes_slice_changed(self, *_args) -> None:
        if self.loading_case_id is None and self.case_id is not None:
            self._settle.start()

    def _announce_slice(self) -> None:
        current = self.current_series_and_index()
        if current is not None:
            self._set_slice_id(self._slice_ids.get(current))

    def _set_slice_id(self, slice_id: int | None) -> None:
        if slice_id == self.slice_id:
            return
        self.slice_id = slice_id
        self.currentSliceChanged.emit(slice_id)

    def _on_placeholder_data_root_requested(self) -> None:
        if self._data_root_request is not None:
            self.dataRootRequested.emit(self._data_root_request)

    def set_data_root_request(self, request: DataRootRequest | None) -> None:
        self._data_root_request = request

    def shutdown(self) -> None:
        self.loader.shutdown()
