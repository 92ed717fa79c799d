"""The questions panel: a slice's benchmark questions, each run's answer, and a detail view.

It takes :class:`engine.viewer.questions_view.QuestionView` rows (plain data), run
overviews by run id (accuracy and agreement) and this reviewer's verdicts by answer id. A
"Blind" switch hides the gold answers and whether answers are right, so a reviewer can
judge an answer before seeing the key.
"""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QHBoxLayout, QHeaderView, QLabel, QSplitter, QTextBrowser,
                               QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget)

from widgets.question_html import answer_html, question_html
from widgets.window_shortcuts import key_hint

QUESTION_ROLE = Qt.ItemDataRole.UserRole
ANSWER_ROLE = Qt.ItemDataRole.UserRole + 1
RIGHT_MARK, WRONG_MARK = "\u2713", "\u2717"


class QuestionsPanel(QWidget):
    """Questions tree (question rows with one child per run's answer) over an HTML detail view.

    Signals: ``answerSelected(answer_id or None)`` when the current row changes (None for a
    question row), ``blindChanged(bool)``.
    """

    answerSelected = Signal(object)
    blindChanged = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._questions: list = []
        self._overviews: dict = {}
        self._verdicts: dict[int, str] = {}
        self._blind = False
        self._quiet = False  # set while the application selects a row itself

        self.title = QLabel(self)
        self.title.setWordWrap(True)
        self.blind_box = QCheckBox("Blind", self)
        self.blind_box.setToolTip(f"Hide gold answers and correctness ({key_hint('review.blind')})")
        self.blind_box.toggled.connect(self.set_blind)
        self.tree = QTreeWidget(self)
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["Question / run", "Answer", "My review"])
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.currentItemChanged.connect(self._on_tree_current_item_changed)
        self.detail = QTextBrowser(self)
        self.detail.setObjectName("question_detail")
        self.detail.setOpenLinks(False)

        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.blind_box)
        splitter = QSplitter(Qt.Orientation.Vertical, self)
        splitter.addWidget(self.tree)
        splitter.addWidget(self.detail)
        splitter.setSizes([220, 300])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(top)
        layout.addWidget(splitter, 1)
        self.set_questions([], {}, {})

    # ------------------------------------------------------------ state

    @property
    def blind(self) -> bool:
        return self._blind

    @property
    def questions(self) -> list:
        return list(self._questions)

    def current_answer_id(self) -> int | None:
        item = self.tree.currentItem()
        return item.data(0, ANSWER_ROLE) if item is not None else None

    def set_questions(self, questions, overviews: dict, verdicts: dict[int, str], title: str = "") -> None:
        """Show ``questions`` with run ``overviews`` (by run id) and this reviewer's ``verdicts``."""
        self._questions = list(questions)
        self._overviews = dict(overviews)
        self._verdicts = dict(verdicts)
        if title:
            self.title.setText(title)
        elif not self._questions:
            self.title.setText("No benchmark question refers to this slice.")
        else:
            count = len(self._questions)
            self.title.setText(f"{count} question{'s' if count != 1 else ''}")
        self._rebuild()

    def set_verdicts(self, verdicts: dict[int, str]) -> None:
        """Update the "My review" column without rebuilding the tree."""
        self._verdicts = dict(verdicts)
        for question_row in range(self.tree.topLevelItemCount()):
            question_item = self.tree.topLevelItem(question_row)
            for child_row in range(question_item.childCount()):
                child = question_item.child(child_row)
                child.setText(2, self._verdicts.get(child.data(0, ANSWER_ROLE), ""))

    def set_overviews(self, overviews: dict) -> None:
        self._overviews = dict(overviews)
        self._show_detail(self.tree.currentItem())

    def set_blind(self, blind: bool) -> None:
        """Hide (True) or show the gold answers, trap marks, correctness and scores."""
        blind = bool(blind)
        with QSignalBlocker(self.blind_box):
            self.blind_box.setChecked(blind)
        if blind == self._blind:
            return
        self._blind = blind
        self._rebuild()
        self.blindChanged.emit(blind)

    def select_answer(self, answer_id: int | None, notify: bool = True) -> bool:
        """Make the row of ``answer_id`` current; return False when it is not shown.

        With ``notify`` False the detail view follows but ``answerSelected`` is not emitted.
        """
        for question_row in range(self.tree.topLevelItemCount()):
            question_item = self.tree.topLevelItem(question_row)
            for child_row in range(question_item.childCount()):
                child = question_item.child(child_row)
                if child.data(0, ANSWER_ROLE) == answer_id:
                    self._quiet = not notify
                    try:
                        self.tree.setCurrentItem(child)
                    finally:
                        self._quiet = False
                    return True
        return False

    def item_texts(self) -> list[list[str]]:
        """Return the text of every row, questions and answers, in order (for tests and logs)."""
        rows = []
        for question_row in range(self.tree.topLevelItemCount()):
            question_item = self.tree.topLevelItem(question_row)
            rows.append([question_item.text(column) for column in range(3)])
            for child_row in range(question_item.childCount()):
                child = question_item.child(child_row)
                rows.append([child.text(column) for column in range(3)])
        return rows

    # ------------------------------------------------------------ building

    def _rebuild(self) -> None:
        selected = self.current_answer_id()
        with QSignalBlocker(self.tree):
            self.tree.clear()
            for position, question in enumerate(self._questions):
                self.tree.addTopLevelItem(self._question_item(position, question))
            self.tree.expandAll()
        if not (selected is not None and self.select_answer(selected, notify=False)):
            first = self.tree.topLevelItem(0)
            self.tree.setCurrentItem(first)
            self._show_detail(first)

    def _question_item(self, position: int, question) -> QTreeWidgetItem:
        gold = "" if self._blind or question.kind != "closed" else f"gold {question.gold_letter}"
        item = QTreeWidgetItem([f"{question.question_type}: {question.stem}", gold, ""])
        item.setToolTip(0, question.stem)
        item.setData(0, QUESTION_ROLE, position)
        for answer in question.answers:
            child = QTreeWidgetItem([answer.run_name, self._answer_text(question, answer),
                                     self._verdicts.get(answer.answer_id, "")])
            child.setToolTip(0, f"{answer.run_name}: model {answer.model_label}")
            child.setData(0, QUESTION_ROLE, position)
            child.setData(0, ANSWER_ROLE, answer.answer_id)
            item.addChild(child)
        return item

    def _answer_text(self, question, answer) -> str:
        if answer.skipped:
            return "skipped"
        if question.kind == "closed":
            text = answer.parsed_letter or "none"
        else:
            text = "text" if answer.raw_output else "no text"
        if not self._blind and answer.is_correct is not None:
            text += f" {RIGHT_MARK if answer.is_correct else WRONG_MARK}"
        elif not self._blind and question.kind == "open" and question.keywords:
            text += f" {len(answer.keywords_hit)}/{len(question.keywords)} keywords"
        return text

    def _show_detail(self, item: QTreeWidgetItem | None) -> None:
        if item is None:
            self.detail.setHtml("")
            return
        question = self._questions[item.data(0, QUESTION_ROLE)]
        answer_id = item.data(0, ANSWER_ROLE)
        if answer_id is None:
            self.detail.setHtml(question_html(question, self._overviews, self._blind))
            return
        answer = next(answer for answer in question.answers if answer.answer_id == answer_id)
        self.detail.setHtml(answer_html(question, answer, self._overviews.get(answer.run_id), self._blind))

    def _on_tree_current_item_changed(self, current: QTreeWidgetItem | None, _previous) -> None:
        self._show_detail(current)
        if not self._quiet:
            self.answerSelected.emit(current.data(0, ANSWER_ROLE) if current is not None else None)
