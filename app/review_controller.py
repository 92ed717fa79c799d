"""The review workflow: verdict keys, save and go on, undo, history and the reviewer name.

Reviews are written with :mod:`engine.review`, which only appends: an edit is a new
version and an undo appends the version before. The undo stack of this window contains the
ids of the reviews saved here, newest last.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QInputDialog, QLineEdit

from app.settings import AppSettings
from db.session import Database
from engine.catalog import distinct_values
from engine.errors import WorkbenchError
from engine.review import ReviewTarget, history, record_review, undo_review
from engine.viewer.review_queue import ReviewItem, next_unreviewed, review_items
from widgets.questions_panel import QuestionsPanel
from widgets.review_panel import SEMANTIC_FIELDS, ReviewPanel

log = logging.getLogger(__name__)

UNDO_DEPTH = 100  # saves of this window that Ctrl+Z can walk back


def history_line(review) -> str:
    """Return one review version as a line of the history list."""
    when = review.created_at.strftime("%Y-%m-%d %H:%M") if review.created_at else ""
    line = f"v{review.version}  {when}  {review.reviewer}: {review.verdict}"
    if review.comment:
        line += f" - {review.comment}"
    if review.corrected_answer:
        line += f" [corrected answer: {review.corrected_answer}]"
    if review.corrected_label:
        line += f" [corrected label: {review.corrected_label}]"
    return line


class ReviewController(QObject):
    """Drives the review panel for the queue of the slice or item on screen.

    Signals: ``reviewSaved(review_id)`` after a save or an undo, ``queueFinished()`` when
    every item here is reviewed and the window should move on, ``message(text)``.
    """

    reviewSaved = Signal(int)
    queueFinished = Signal()
    message = Signal(str)
    reviewerChanged = Signal(str)

    def __init__(self, db: Database, settings: AppSettings, panel: ReviewPanel, questions: QuestionsPanel,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.db = db
        self.settings = settings
        self.panel = panel
        self.questions_panel = questions
        self.questions: list = []
        self.slice_id: int | None = None
        self.item_pk: int | None = None
        self.items: list[ReviewItem] = []
        self.position: int | None = None
        self.undo_stack: list[int] = []
        self._label_choices: dict[str, list[str]] | None = None
        self._name_dialog: QInputDialog | None = None
        panel.saveRequested.connect(self.save_and_next)
        panel.undoRequested.connect(self.undo)
        panel.itemStepRequested.connect(self.step)
        panel.reviewerChangeRequested.connect(lambda: self.ask_reviewer())
        questions.answerSelected.connect(self._on_questions_answer_selected)
        panel.set_reviewer(settings.reviewer)
        panel.set_undo_enabled(False)

    # ------------------------------------------------------------ queue

    @property
    def current(self) -> ReviewItem | None:
        return self.items[self.position] if self.position is not None else None

    def set_context(self, questions: list, slice_id: int | None, item_pk: int | None) -> None:
        """Review what is on screen now: the answers to ``questions`` and ``slice_id``."""
        self.questions, self.slice_id, self.item_pk = list(questions), slice_id, item_pk
        self._reload_items()
        first = next_unreviewed(self.items)
        if first is None and self.items:
            first = 0  # everything is reviewed: show the first item and its verdict
        self._show(first)

    def _reload_items(self) -> None:
        with self.db.session() as session:
            self.items = review_items(session, self.questions, self.slice_id, self.settings.reviewer or None)
        self.questions_panel.set_verdicts({item.target.target_id: item.verdict for item in self.items
                                           if item.target.kind == "answer" and item.verdict})

    def _show(self, position: int | None) -> None:
        self.position = position
        item = self.current
        if item is None:
            self.panel.set_item(None)
            return
        unreviewed = sum(not entry.reviewed for entry in self.items)
        where = f"item {position + 1} of {len(self.items)}, {unreviewed} unreviewed"
        if item.verdict:
            where += f"; your current verdict: {item.verdict}"
        self.panel.set_item(item.label, item.target.kind, self._answer_choices(item),
                            self._semantic_choices() if item.target.kind == "slice" else None, where)
        self._show_history(item.target)
        if item.target.kind == "answer":
            self.questions_panel.select_answer(item.target.target_id, notify=False)

    def _answer_choices(self, item: ReviewItem) -> list[str]:
        question = next((entry for entry in self.questions if entry.question_id == item.question_id), None)
        if question is None or question.kind != "closed":
            return []
        return [letter for letter, _text in question.options]

    def _semantic_choices(self) -> dict[str, list[str]]:
        if self._label_choices is None:
            with self.db.session() as session:
                values = distinct_values(session)
            self._label_choices = {field: values.get(f"{field}s", []) for field in SEMANTIC_FIELDS}
        return self._label_choices

    def _show_history(self, target: ReviewTarget) -> None:
        with self.db.session() as session:
            self.panel.set_history([history_line(review) for review in history(session, target)])

    def step(self, delta: int) -> None:
        """Move ``delta`` items through the queue without saving (wrapping around)."""
        if not self.items:
            return
        position = 0 if self.position is None else (self.position + delta) % len(self.items)
        self._show(position)

    def _on_questions_answer_selected(self, answer_id) -> None:
        if answer_id is None:
            return
        for position, item in enumerate(self.items):
            if item.target == ReviewTarget("answer", answer_id) and position != self.position:
                self._show(position)
                return

    # ------------------------------------------------------------ verdicts

    def choose_verdict(self, verdict: str) -> None:
        if self.current is None:
            self.message.emit("Nothing to review here.")
            return
        self.panel.set_verdict(verdict)

    def save_and_next(self) -> None:
        """Save the form as a review of the current item, then show the next unreviewed one.

        Asks for the reviewer name first when none is set.
        """
        item = self.current
        if item is None:
            self.message.emit("Nothing to review here.")
            return
        verdict = self.panel.verdict
        if verdict is None:
            self.message.emit("Choose a verdict first: Y agree, U disagree, F flag.")
            return
        if not self.settings.reviewer:
            self.ask_reviewer(then=self.save_and_next)
            return
        try:
            with self.db.session(write=True) as session:
                review = record_review(
                    session, item.target, self.settings.reviewer, verdict, comment=self.panel.comment_text,
                    corrected_answer=self.panel.corrected_answer_text,
                    corrected_label=self.panel.corrected_label_text)
                review_id = review.id
        except WorkbenchError as error:
            self.message.emit(str(error))
            return
        self.undo_stack = [*self.undo_stack, review_id][-UNDO_DEPTH:]
        self.panel.set_undo_enabled(True)
        saved_at = self.position
        self._reload_items()
        self.message.emit(f"Saved: {verdict} on {item.label}.")
        self.reviewSaved.emit(review_id)
        following = next_unreviewed(self.items, after=saved_at)
        if following is None:
            following = next_unreviewed(self.items)
        if following is not None:
            self._show(following)
        else:
            self._show(saved_at)
            self.queueFinished.emit()

    def undo(self) -> None:
        """Undo the last review saved in this window (appends the version it replaced)."""
        if not self.undo_stack:
            self.message.emit("Nothing to undo.")
            return
        review_id = self.undo_stack.pop()
        with self.db.session(write=True) as session:
            restored = undo_review(session, review_id)
            target = ReviewTarget(restored.target, restored.answer_id if restored.target == "answer"
                                  else restored.slice_id, restored.field)
            restored_id, verdict = restored.id, restored.verdict
        self.panel.set_undo_enabled(bool(self.undo_stack))
        self._reload_items()
        position = next((index for index, item in enumerate(self.items) if item.target == target), self.position)
        self._show(position)
        self.message.emit("Undone: the review is withdrawn." if verdict == "withdrawn"
                          else f"Undone: the verdict is {verdict} again.")
        self.reviewSaved.emit(restored_id)

    # ------------------------------------------------------------ reviewer

    def ask_reviewer(self, then=None) -> QInputDialog:
        """Ask for the reviewer name (kept in the settings); run ``then`` once it is set."""
        dialog = QInputDialog(self.panel.window())
        dialog.setWindowTitle("Reviewer name")
        dialog.setLabelText("Your name as it should appear on your reviews:")
        dialog.setTextEchoMode(QLineEdit.EchoMode.Normal)
        dialog.setTextValue(self.settings.reviewer)

        def accepted() -> None:
            name = dialog.textValue().strip()
            if not name:
                self.message.emit("The reviewer name is empty; nothing was saved.")
                return
            self.set_reviewer(name)
            if then is not None:
                then()

        dialog.accepted.connect(accepted)
        dialog.finished.connect(dialog.deleteLater)
        self._name_dialog = dialog
        dialog.open()
        return dialog

    def set_reviewer(self, name: str) -> None:
        self.settings.set_reviewer(name)
        self.panel.set_reviewer(name)
        position = self.position
        form = self.panel.form_state()
        self._reload_items()
        self._show(position if position is not None and position < len(self.items) else None)
        if self.position == position:
            self.panel.restore_form(form)  # the name was asked for in the middle of a save
        self.reviewerChanged.emit(name)
