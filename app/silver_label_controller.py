"""Silver-label review in the viewer: the labels of the slice on screen, a verdict per field.

Each verdict is a review with target ``silver_label``, the field's name and, for a
correction, the reviewer's value in ``corrected_label``, appended with
:func:`engine.review.record_review` like every other review; undo appends the version
before (:func:`engine.review.undo_review`). ``neuroonco pipeline air`` and the pipeline
window count these reviews as the labels' precision and omission.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Qt, QTimer

from engine.errors import WorkbenchError
from engine.pipeline.slice_labels import field_choices, slice_labels
from engine.pipeline.vocabulary import FIELDS
from engine.review import ReviewTarget, record_review, undo_review
from widgets.silver_label_panel import SilverLabelPanel

log = logging.getLogger(__name__)

UNDO_DEPTH = 100
CHOICES = {field: field_choices(field) for field in FIELDS}


class SilverLabelController(QObject):
    """Owns the silver-label dock; follows the window's slice and reviewer."""

    def __init__(self, window, open_dock, parent: QObject | None = None) -> None:  # noqa: ANN001
        super().__init__(parent or window)
        self.window = window
        self.db = window.db
        self._open_dock = open_dock
        self.slice_id: int | None = None
        self.undo_stack: list[int] = []
        self.panel = SilverLabelPanel()
        self.dock = window.add_dock(self.panel, "Silver labels", Qt.DockWidgetArea.RightDockWidgetArea,
                                    object_name="dock_Silver_labels")
        window.tabifyDockWidget(window.docks["Review"], self.dock)
        self.dock.hide()
        self.panel.verdictRequested.connect(self.record)
        self.panel.undoRequested.connect(self.undo)
        window.currentSliceChanged.connect(self.show_slice)
        window.review.reviewerChanged.connect(lambda _name: self.reload())
        self.dock.visibilityChanged.connect(self._on_dock_visibility_changed)

    def open(self) -> None:
        """Show the dock for the slice on screen, with the keyboard focus in its table."""
        self._open_dock(self.dock)
        self.show_slice(self.window.case.slice_id)
        QTimer.singleShot(0, lambda: self.panel.table.setFocus(Qt.FocusReason.ShortcutFocusReason))

    def show_slice(self, slice_id: int | None) -> None:
        """Show the silver labels of ``slice_id`` (None: no slice)."""
        self.slice_id = slice_id
        if self.dock.isVisible():
            self.reload()

    def reload(self) -> None:
        """Query the labels of the current slice again; one indexed query."""
        if self.slice_id is None:
            self.panel.set_labels(None, [], CHOICES)
            return
        with self.db.session() as session:
            labels = slice_labels(session, self.slice_id, self.window.settings.reviewer or None)
        self.panel.set_labels(f"Slice {self.slice_id}", labels, CHOICES)

    def record(self, label_id: int, field: str, verdict: str, corrected: str | None) -> None:
        """Save a verdict on one field; without a reviewer name, request it first."""
        reviewer = self.window.settings.reviewer
        if not reviewer:
            self.window.review.ask_reviewer(then=lambda: self.record(label_id, field, verdict, corrected))
            return
        try:
            with self.db.session(write=True) as session:
                review = record_review(session, ReviewTarget("silver_label", label_id, field), reviewer,
                                       verdict, corrected_label=corrected)
                review_id = review.id
        except WorkbenchError as error:
            self.panel.show_status(str(error))
            return
        self.undo_stack = [*self.undo_stack, review_id][-UNDO_DEPTH:]
        what = "accepted" if verdict == "agree" else f"corrected to {corrected or 'empty'}"
        self.panel.show_status(f"Saved: {field} {what}.")
        self.reload()
        self.window.reviewSaved.emit(review_id)

    def undo(self) -> None:
        """Undo the last silver-label review saved here."""
        if not self.undo_stack:
            self.panel.show_status("Nothing to undo.")
            return
        with self.db.session(write=True) as session:
            restored = undo_review(session, self.undo_stack.pop())
            restored_id, field, verdict = restored.id, restored.field, restored.verdict
        self.panel.show_status(f"Undone: {field} is {verdict} again." if verdict != "withdrawn"
                               else f"Undone: the review of {field} is withdrawn.")
        self.reload()
        self.window.reviewSaved.emit(restored_id)

    def _on_dock_visibility_changed(self, visible: bool) -> None:
        if visible:
            self.reload()

    def shutdown(self) -> None:
        """Nothing runs in the background here."""
