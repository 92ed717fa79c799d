"""Fills the semantics panel, the questions panel and the runs table for what is on screen."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from db.session import Database
from engine.viewer.items import item_row
from engine.viewer.questions_view import questions_for_item, questions_for_slice
from engine.viewer.run_overview import run_overview
from engine.viewer.semantics_view import slice_semantics
from widgets.questions_panel import QuestionsPanel
from widgets.runs_table import RunsTable
from widgets.semantics_panel import SemanticsPanel


class PanelsController(QObject):
    """Queries the panel data of the current slice or benchmark item and shows it.

    ``questionsShown(questions, slice_id, item_pk)`` gives the review controller what can
    be reviewed now.
    """

    questionsShown = Signal(list, object, object)

    def __init__(self, db: Database, semantics: SemanticsPanel, questions: QuestionsPanel, runs: RunsTable,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.db = db
        self.semantics = semantics
        self.questions = questions
        self.runs = runs
        self.overviews: dict[int, object] = {}
        self.slice_id: int | None = None
        self.item_pk: int | None = None
        self.refresh_runs()

    def show_slice(self, slice_id: int | None) -> None:
        """Show the semantics and questions of ``slice_id`` (None clears both panels)."""
        self.slice_id, self.item_pk = slice_id, None
        if slice_id is None:
            self.semantics.set_semantics(None)
            self.questions.set_questions([], self.overviews, {}, title="No slice selected.")
            self.questionsShown.emit([], None, None)
            return
        with self.db.session() as session:
            semantics = slice_semantics(session, slice_id)
            questions = questions_for_slice(session, slice_id)
        self.semantics.set_semantics(semantics)
        self.questions.set_questions(questions, self.overviews, {})
        self.questionsShown.emit(questions, slice_id, None)

    def show_item(self, item_pk: int) -> None:
        """Show the questions of a benchmark item that has no imported image."""
        self.slice_id, self.item_pk = None, item_pk
        with self.db.session() as session:
            row = item_row(session, item_pk)
            questions = questions_for_item(session, item_pk)
        title = f"{row.benchmark} item {row.item_id}: {row.image_path}" if row else ""
        if row is not None and row.image_missing:
            title += " (image missing)"
        self.semantics.set_semantics(None)
        self.semantics.description.setText("The image of this item is not imported, so it has no semantics.")
        self.questions.set_questions(questions, self.overviews, {}, title=title)
        self.questionsShown.emit(questions, None, item_pk)

    def refresh_runs(self) -> None:
        """Reload the runs' accuracy and agreement (after a review or a finished run)."""
        overviews = run_overview(self.db)
        self.overviews = {overview.run_id: overview for overview in overviews}
        self.runs.set_runs(overviews)
        self.questions.set_overviews(self.overviews)

    def refresh(self) -> None:
        """Query the shown slice or item again (after an import or a data-root change)."""
        if self.item_pk is not None:
            self.show_item(self.item_pk)
        else:
            self.show_slice(self.slice_id)
