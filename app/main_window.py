"""The main window: browser, linked panes, semantics, questions, review, runs and jobs.

The window lays out the views and connects the controllers; each controller owns one
concern (browser, case on screen, panels, review, jobs). Other windows attach through
:meth:`MainWindow.add_dock`, :meth:`MainWindow.menu` and :meth:`MainWindow.add_action`,
and follow the window through its signals.
"""

from __future__ import annotations

import logging
from typing import Callable

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (QDockWidget, QFileDialog, QLabel, QMainWindow, QMenu, QScrollArea, QVBoxLayout,
                               QWidget)

from app.browser_controller import BrowserController
from app.case_controller import CaseController, DataRootRequest
from app.jobs_controller import JobsController
from app.panels_controller import PanelsController
from app.review_controller import ReviewController
from app.settings import AppSettings
from app.window_actions import build_menus
from db.session import Database
from engine.datasets import relocate_dataset
from engine.errors import WorkbenchError
from engine.viewer.items import item_row
from widgets.jobs_panel import JobsPanel
from widgets.label_legend import LabelLegend
from widgets.linked_views import LinkedSliceViews
from widgets.overlay_controls import OverlayControls
from widgets.questions_panel import QuestionsPanel
from widgets.review_panel import ReviewPanel
from widgets.runs_table import RunsTable
from widgets.semantics_panel import SemanticsPanel
from widgets.shortcut_sheet import ShortcutSheet

log = logging.getLogger(__name__)

LEFT = Qt.DockWidgetArea.LeftDockWidgetArea
RIGHT = Qt.DockWidgetArea.RightDockWidgetArea
BOTTOM = Qt.DockWidgetArea.BottomDockWidgetArea
STATUS_MESSAGE_MS = 8000


class MainWindow(QMainWindow):
    """The workbench window over one database.

    Signals: ``currentSliceChanged(slice_id or None)`` when the slice on screen settles,
    ``currentItemChanged(item_pk or None)`` for a benchmark item without an image,
    ``reviewSaved(review_id)`` and ``jobFinished(job_id, kind, state)``.
    """

    currentSliceChanged = Signal(object)
    currentItemChanged = Signal(object)
    reviewSaved = Signal(int)
    jobFinished = Signal(int, str, str)

    def __init__(self, db: Database, settings: AppSettings, start_workers: bool = True,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.db = db
        self.settings = settings
        self.setWindowTitle(f"NeuroOnco Workbench - {db.url}")
        self.setDockNestingEnabled(True)
        self.origin = "slice"  # what Enter moves through when a queue is done: "slice" or "item"
        self.item_pk: int | None = None
        self._dialogs: list[QObject] = []
        self.docks: dict[str, QDockWidget] = {}

        self._build_views()
        self._build_controllers(start_workers)
        self._connect()
        self.menus: dict[str, QMenu] = {}
        self.actions_by_name: dict[str, QAction] = build_menus(self)
        self._restore_settings()

    # ------------------------------------------------------------ construction

    def _build_views(self) -> None:
        self.panes = LinkedSliceViews()
        self.overlay_controls = OverlayControls(self.panes.settings)
        self.legend = LabelLegend(self.panes.settings)
        self.legend.attach(self.panes)
        self.semantics_panel = SemanticsPanel()
        self.questions_panel = QuestionsPanel()
        self.review_panel = ReviewPanel()
        self.runs_table = RunsTable()
        self.jobs_panel = JobsPanel()
        self.readout = QLabel()
        self.statusBar().addPermanentWidget(self.readout, 1)

        overlay = QWidget()
        overlay_layout = QVBoxLayout(overlay)
        overlay_layout.setContentsMargins(2, 2, 2, 2)
        overlay_layout.addWidget(self.overlay_controls)
        overlay_layout.addWidget(self.legend, 1)
        self._overlay_widget = overlay

    def _build_controllers(self, start_workers: bool) -> None:
        self.browser = BrowserController(self.db, self)
        self.case = CaseController(self.db, self.panes, self)
        self.setCentralWidget(self.case.stack)
        self.panels = PanelsController(self.db, self.semantics_panel, self.questions_panel, self.runs_table, self)
        self.review = ReviewController(self.db, self.settings, self.review_panel, self.questions_panel, self)
        self.jobs = JobsController(self.db, self.jobs_panel, start_workers=start_workers, parent=self)

        semantics = QScrollArea()
        semantics.setWidget(self.semantics_panel)
        semantics.setWidgetResizable(True)
        self.add_dock(self.browser.widget, "Browser", LEFT)
        self.add_dock(semantics, "Semantics", LEFT)
        self.add_dock(self.questions_panel, "Questions", RIGHT)
        self.add_dock(self.review_panel, "Review", RIGHT)
        self.add_dock(self._overlay_widget, "Overlay", BOTTOM)
        self.add_dock(self.runs_table, "Runs", BOTTOM)
        self.add_dock(self.jobs_panel, "Jobs", BOTTOM)
        self.splitDockWidget(self.docks["Overlay"], self.docks["Runs"], Qt.Orientation.Horizontal)
        self.tabifyDockWidget(self.docks["Runs"], self.docks["Jobs"])
        self.docks["Runs"].raise_()
        docks = self.docks
        self.resizeDocks([docks["Browser"], docks["Questions"]], [340, 470], Qt.Orientation.Horizontal)
        self.resizeDocks([docks["Browser"], docks["Semantics"], docks["Questions"], docks["Review"], docks["Overlay"]],
                         [330, 470, 500, 300, 180], Qt.Orientation.Vertical)
        self.resizeDocks([docks["Overlay"], docks["Runs"]], [560, 1040], Qt.Orientation.Horizontal)

    def _connect(self) -> None:
        self.browser.sliceRequested.connect(self._on_browser_slice_requested)
        self.browser.itemRequested.connect(self.open_item)
        self.browser.datasetChosen.connect(self.settings.set_last_dataset)
        self.case.currentSliceChanged.connect(self._on_case_current_slice_changed)
        self.case.message.connect(self.show_message)
        self.case.dataRootRequested.connect(self.request_data_root)
        self.panels.questionsShown.connect(self.review.set_context)
        self.review.reviewSaved.connect(self._on_review_saved)
        self.review.queueFinished.connect(self.go_to_next)
        self.review.message.connect(self.show_message)
        self.jobs.jobFinished.connect(self._on_jobs_job_finished)
        self.jobs.message.connect(self.show_message)
        self.panes.cursorMoved.connect(self._on_panes_cursor_moved)
        self.questions_panel.blindChanged.connect(self._on_questions_blind_changed)
        overlay = self.panes.settings
        for signal in (overlay.opacityChanged, overlay.modeChanged, overlay.visibleChanged):
            signal.connect(self._save_overlay)

    def _restore_settings(self) -> None:
        overlay = self.panes.settings
        overlay.set_opacity(self.settings.overlay_opacity)
        overlay.set_mode(self.settings.overlay_mode)
        overlay.set_visible(self.settings.overlay_visible)
        self.questions_panel.set_blind(self.settings.blind)
        self.runs_table.set_blind(self.settings.blind)
        if not self.settings.restore_window(self):
            self.resize(1600, 1000)

    # ------------------------------------------------------------ extension API

    def add_dock(self, widget: QWidget, title: str, area=RIGHT, object_name: str | None = None) -> QDockWidget:
        """Add ``widget`` as a dock titled ``title``; View > Panels gets a switch for it.

        ``object_name`` (default: the title) identifies the dock in the saved layout, so
        keep it stable.
        """
        dock = QDockWidget(title, self)
        dock.setObjectName(object_name or f"dock_{title}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        self.docks[title] = dock
        panels = getattr(self, "menus", {}).get("Panels")
        if panels is not None:
            panels.addAction(dock.toggleViewAction())
        return dock

    def menu(self, title: str) -> QMenu:
        """Return the top-level menu ``title``, creating it before the Help menu."""
        if title in self.menus:
            return self.menus[title]
        menu = QMenu(title, self)
        help_menu = self.menus.get("Help")
        if help_menu is not None:
            self.menuBar().insertMenu(help_menu.menuAction(), menu)
        else:
            self.menuBar().addMenu(menu)
        self.menus[title] = menu
        return menu

    def add_action(self, menu_title: str, text: str, callback: Callable[[], object],
                   shortcuts: tuple[str, ...] = ()) -> QAction:
        """Add a window-wide action to menu ``menu_title`` (for example "Tools")."""
        action = QAction(text, self)
        if shortcuts:
            from PySide6.QtGui import QKeySequence

            action.setShortcuts([QKeySequence(key) for key in shortcuts])
        action.triggered.connect(lambda _checked=False: callback())
        self.menu(menu_title).addAction(action)
        self.addAction(action)
        return action

    def keep_dialog(self, dialog: QObject) -> QObject:
        """Keep a reference to a non-modal dialog until it is destroyed (see the tests' notes)."""
        self._dialogs.append(dialog)
        dialog.destroyed.connect(lambda _object=None, kept=dialog: self._forget_dialog(kept))
        return dialog

    def _forget_dialog(self, dialog: QObject) -> None:
        if dialog in self._dialogs:
            self._dialogs.remove(dialog)

    # ------------------------------------------------------------ navigation

    def open_slice(self, slice_id: int) -> bool:
        """Show slice ``slice_id``; Enter then moves through slices in browser order."""
        self.origin, self.item_pk = "slice", None
        return self.case.open_slice(slice_id)

    def open_item(self, item_pk: int) -> None:
        """Show benchmark item ``item_pk``: its slice when imported, else its questions only."""
        with self.db.session() as session:
            row = item_row(session, item_pk)
        if row is None:
            self.show_message(f"benchmark item {item_pk} no longer exists; refresh the browser")
            return
        self.origin, self.item_pk = "item", item_pk
        if row.slice_id is not None:
            already_shown = self.case.slice_id == row.slice_id
            if self.case.open_slice(row.slice_id) and already_shown:
                self.panels.show_slice(row.slice_id)  # no slice change, so no signal refreshes them
            self.currentItemChanged.emit(item_pk)
            return
        text = (f"The image of {row.benchmark} item {row.item_id} is not available:\n{row.image_path}\n\n"
                "Its questions and answers are shown on the right. Set the data root to the folder "
                "that holds the benchmark's images to see it.")
        request = DataRootRequest("benchmark", row.benchmark, f"the images of benchmark '{row.benchmark}'")
        self.case.show_missing_item(text, request)
        self.panels.show_item(item_pk)
        self.currentItemChanged.emit(item_pk)

    def open_dataset(self, name: str) -> bool:
        """Expand dataset ``name`` in the browser and show its first case; False if absent."""
        node = self.browser.dataset_node(name)
        if node is None:
            return False
        self.browser.tree.expand_node(node)
        if node.children:
            self.browser.tree.select_node(node.children[0])
        return True

    def go_to_next(self) -> None:
        """Go to the next slice (or item) in browser order that this reviewer has not finished."""
        reviewer = self.settings.reviewer or None
        if self.origin == "item" and self.item_pk is not None:
            following = self.browser.next_item(self.item_pk, reviewer)
            if following is None:
                self.show_message("No further benchmark item to review with these filters.")
                return
            self.open_item(following)
            return
        following = self.browser.next_slice(self.case.slice_id, reviewer)
        if following is None:
            self.show_message("No further slice to review with these filters.")
            return
        self.open_slice(following)

    def _on_browser_slice_requested(self, slice_id: int) -> None:
        self.open_slice(slice_id)

    def _on_case_current_slice_changed(self, slice_id) -> None:
        if slice_id is not None or self.origin != "item":
            self.panels.show_slice(slice_id)
        self.currentSliceChanged.emit(slice_id)

    # ------------------------------------------------------------ data roots and imports

    def choose_folder(self, title: str, start: str, accepted: Callable[[str], None]) -> QFileDialog:
        """Open a folder chooser without blocking; ``accepted(folder)`` runs on OK."""
        dialog = QFileDialog(self, title, start)
        dialog.setFileMode(QFileDialog.FileMode.Directory)
        dialog.setOption(QFileDialog.Option.ShowDirsOnly, True)
        dialog.fileSelected.connect(accepted)
        dialog.finished.connect(dialog.deleteLater)
        self.keep_dialog(dialog)
        dialog.open()
        return dialog

    def request_data_root(self, request: DataRootRequest) -> None:
        """Ask for the folder that contains a benchmark's images or a dataset's files."""
        name = str(request.key)
        start = self.settings.data_roots.get(name, "")
        if request.kind == "benchmark":
            self.choose_folder(f"Data root of {request.label}", start,
                               lambda folder: self.set_benchmark_data_root(name, folder))
        else:
            self.choose_folder(f"Data root of {request.label}", start,
                               lambda folder: self.set_dataset_data_root(int(request.key), folder))

    def set_benchmark_data_root(self, benchmark: str, folder: str) -> int:
        """Queue the job that checks, imports and links the benchmark's images under ``folder``."""
        self.settings.set_data_root(benchmark, folder)
        return self.jobs.submit("bench.set_data_root", {"benchmark": benchmark, "data_root": folder})

    def set_dataset_data_root(self, dataset_id: int, folder: str) -> None:
        """Point a dataset at the folder its files moved to, then load the case again."""
        try:
            result = relocate_dataset(self.db, dataset_id, folder)
        except WorkbenchError as error:
            self.show_message(str(error))
            self.case.placeholder.show_message(str(error), offer_data_root=True)
            return
        self.settings.set_data_root(str(dataset_id), folder)
        self.show_message(f"Data root set to {result.data_root}: {result.found} files found, "
                          f"{result.missing} still missing.")
        self.case.reload()

    def submit_import(self, paths: list[str], dataset: str | None = None) -> int:
        """Queue an import of files or folders (images, masks, DICOM) as a background job."""
        return self.jobs.submit("import", {"paths": list(paths), "dataset": dataset})

    def submit_benchmark_import(self, closed: str, open_path: str | None = None) -> int:
        return self.jobs.submit("bench.import", {"closed": closed, "open": open_path})

    def _on_jobs_job_finished(self, job_id: int, kind: str, state: str) -> None:
        self.jobFinished.emit(job_id, kind, state)
        if state != "succeeded":
            return
        if kind in ("import", "bench.import", "bench.set_data_root", "semantics.compute"):
            self.browser.refresh_choices()
            self.browser.reload()
        if kind == "bench.set_data_root" and self.origin == "item" and self.item_pk is not None:
            self.open_item(self.item_pk)
        elif kind in ("bench.run", "bench.set_data_root"):
            self.panels.refresh()
        self.panels.refresh_runs()

    # ------------------------------------------------------------ small slots

    def show_message(self, text: str) -> None:
        log.info("%s", text)
        self.statusBar().showMessage(text, STATUS_MESSAGE_MS)

    def show_shortcuts(self) -> ShortcutSheet:
        sheet = ShortcutSheet(self)
        sheet.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.keep_dialog(sheet)
        sheet.show()
        return sheet

    def _on_review_saved(self, review_id: int) -> None:
        self.panels.refresh_runs()
        self.reviewSaved.emit(review_id)

    def _on_panes_cursor_moved(self, readout) -> None:
        self.readout.setText(readout.text() if readout is not None else "")

    def _on_questions_blind_changed(self, blind: bool) -> None:
        self.settings.set_blind(blind)
        self.runs_table.set_blind(blind)
        action = self.actions_by_name.get("review.blind")
        if action is not None and action.isChecked() != blind:
            action.setChecked(blind)

    def _save_overlay(self, *_args) -> None:
        overlay = self.panes.settings
        self.settings.set_overlay(overlay.opacity, overlay.mode, overlay.visible)

    # ------------------------------------------------------------ closing

    def closeEvent(self, event) -> None:
        self.settings.save_window(self)
        self._save_overlay()
        self.settings.sync()
        self.case.shutdown()
        outcome = self.jobs.shutdown()
        log.info("worker on exit: %s", outcome)
        super().closeEvent(event)
