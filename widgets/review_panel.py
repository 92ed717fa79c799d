"""The review panel: verdict, comment and corrections for one answer or slice, and its history.

The panel holds the form; the application saves it. ``saveRequested`` asks to save the
form and go on, ``undoRequested`` to undo the last save, ``itemStepRequested(+1 or -1)`` to
move through the review queue, and ``reviewerChangeRequested`` to set the reviewer name.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QButtonGroup, QComboBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit,
                               QListWidget, QPushButton, QVBoxLayout, QWidget)

from widgets.window_shortcuts import key_hint

VERDICTS = (("agree", "Agree", "review.agree"), ("disagree", "Disagree", "review.disagree"),
            ("flag", "Flag", "review.flag"))
SEMANTIC_FIELDS = ("size", "shape", "spread", "location")
UNCHANGED = "(unchanged)"


class ReviewPanel(QWidget):
    """Form for one review: verdict buttons, comment, corrected answer or semantic label."""

    saveRequested = Signal()
    undoRequested = Signal()
    itemStepRequested = Signal(int)
    reviewerChangeRequested = Signal()
    verdictChanged = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._kind: str | None = None
        self.item_label = QLabel("Nothing to review", self)
        self.item_label.setObjectName("review_item")
        self.item_label.setWordWrap(True)
        self.position_label = QLabel(self)
        self.reviewer_label = QLabel(self)
        self.reviewer_button = QPushButton("Change...", self)
        self.reviewer_button.clicked.connect(self.reviewerChangeRequested)

        self.verdict_buttons = QButtonGroup(self)
        self.verdict_buttons.setExclusive(True)
        verdict_row = QHBoxLayout()
        for verdict, text, action in VERDICTS:
            button = QPushButton(f"{text} ({key_hint(action)})", self)
            button.setCheckable(True)
            button.setObjectName(f"verdict_{verdict}")
            button.setProperty("verdict", verdict)
            self.verdict_buttons.addButton(button)
            verdict_row.addWidget(button)
        self.verdict_buttons.buttonToggled.connect(self._on_verdict_buttons_toggled)

        self.comment = QLineEdit(self)
        self.comment.setPlaceholderText(f"Comment ({key_hint('review.comment')}); Enter saves")
        self.corrected_answer = QComboBox(self)
        self.corrected_answer.setEditable(True)
        self.corrected_answer.setToolTip("The answer you would give: a letter or text")
        self.label_field = QComboBox(self)
        self.label_field.addItems(SEMANTIC_FIELDS)
        self.label_value = QComboBox(self)
        self.label_value.setEditable(True)
        self.label_value.setToolTip("The semantic label you would give instead")
        label_row = QHBoxLayout()
        label_row.addWidget(self.label_field)
        label_row.addWidget(self.label_value, 1)
        self._label_choices: dict[str, list[str]] = {}
        self.label_field.currentTextChanged.connect(self._on_label_field_text_changed)

        self.save_button = QPushButton(f"Save and next ({key_hint('review.save_next')})", self)
        self.save_button.clicked.connect(self.saveRequested)
        self.undo_button = QPushButton(f"Undo ({key_hint('review.undo')})", self)
        self.undo_button.clicked.connect(self.undoRequested)
        previous_button = QPushButton(f"Previous ({key_hint('review.previous_item')})", self)
        previous_button.clicked.connect(lambda: self.itemStepRequested.emit(-1))
        next_button = QPushButton(f"Skip ({key_hint('review.next_item')})", self)
        next_button.clicked.connect(lambda: self.itemStepRequested.emit(1))
        self.history = QListWidget(self)
        self.history.setObjectName("review_history")

        form = QFormLayout()
        form.addRow("Comment", self.comment)
        form.addRow("Corrected answer", self.corrected_answer)
        form.addRow("Corrected label", label_row)
        self._form = form
        reviewer_row = QHBoxLayout()
        reviewer_row.addWidget(self.reviewer_label, 1)
        reviewer_row.addWidget(self.reviewer_button)
        buttons = QHBoxLayout()
        buttons.addWidget(previous_button)
        buttons.addWidget(next_button)
        buttons.addStretch(1)
        buttons.addWidget(self.undo_button)
        buttons.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(reviewer_row)
        layout.addWidget(self.item_label)
        layout.addWidget(self.position_label)
        layout.addLayout(verdict_row)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(QLabel("History of this item (all reviewers, oldest first)", self))
        layout.addWidget(self.history, 1)
        self.set_item(None)
        self.set_reviewer("")

    # ------------------------------------------------------------ form values

    @property
    def verdict(self) -> str | None:
        button = self.verdict_buttons.checkedButton()
        return button.property("verdict") if button is not None else None

    def set_verdict(self, verdict: str | None) -> None:
        """Check the button of ``verdict`` (agree, disagree or flag), or none."""
        for button in self.verdict_buttons.buttons():
            if button.property("verdict") == verdict:
                button.setChecked(True)
                return
        self.verdict_buttons.setExclusive(False)
        for button in self.verdict_buttons.buttons():
            button.setChecked(False)
        self.verdict_buttons.setExclusive(True)

    @property
    def comment_text(self) -> str | None:
        return self.comment.text().strip() or None

    @property
    def corrected_answer_text(self) -> str | None:
        if self._kind != "answer":
            return None
        text = self.corrected_answer.currentText().strip()
        return None if text in ("", UNCHANGED) else text

    @property
    def corrected_label_text(self) -> str | None:
        """The corrected semantic label as ``field=value`` (for example ``size=Medium``), or None."""
        if self._kind != "slice":
            return None
        value = self.label_value.currentText().strip()
        if value in ("", UNCHANGED):
            return None
        return f"{self.label_field.currentText()}={value}"

    def form_state(self) -> tuple:
        """Return the form's inputs, for :meth:`restore_form` after the item is shown again."""
        return (self.verdict, self.comment.text(), self.corrected_answer.currentText(),
                self.label_field.currentText(), self.label_value.currentText())

    def restore_form(self, state: tuple) -> None:
        verdict, comment, answer, field, value = state
        self.set_verdict(verdict)
        self.comment.setText(comment)
        self.corrected_answer.setEditText(answer)
        self.label_field.setCurrentText(field)
        self.label_value.setEditText(value)

    # ------------------------------------------------------------ content

    def set_reviewer(self, name: str) -> None:
        self.reviewer_label.setText(f"Reviewer: {name}" if name else "Reviewer: not set")

    def set_item(self, label: str | None, kind: str | None = None, answer_choices: list[str] | None = None,
                 label_choices: dict[str, list[str]] | None = None, position: str = "") -> None:
        """Show a new review item (an ``answer`` or a ``slice``) with an empty form.

        ``answer_choices`` are offered as corrected answers, ``label_choices`` the known
        values per semantic field.
        """
        self._kind = kind
        self.item_label.setText(label or "Nothing to review")
        self.position_label.setText(position)
        self.set_verdict(None)
        self.comment.clear()
        self.corrected_answer.clear()
        self.corrected_answer.addItem(UNCHANGED)
        self.corrected_answer.addItems(answer_choices or [])
        self._label_choices = dict(label_choices or {})
        self._on_label_field_text_changed(self.label_field.currentText())
        self._form.setRowVisible(1, kind == "answer")
        self._form.setRowVisible(2, kind == "slice")
        enabled = kind is not None
        for button in self.verdict_buttons.buttons():
            button.setEnabled(enabled)
        self.comment.setEnabled(enabled)
        self.save_button.setEnabled(enabled)
        self.history.clear()

    def set_history(self, lines: list[str]) -> None:
        self.history.clear()
        self.history.addItems(lines)
        if lines:
            self.history.scrollToBottom()

    def set_undo_enabled(self, enabled: bool) -> None:
        self.undo_button.setEnabled(enabled)

    def focus_comment(self) -> None:
        self.comment.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.comment.selectAll()

    def _on_label_field_text_changed(self, field: str) -> None:
        self.label_value.clear()
        self.label_value.addItem(UNCHANGED)
        self.label_value.addItems(self._label_choices.get(field, []))

    def _on_verdict_buttons_toggled(self, button, checked: bool) -> None:
        if checked:
            self.verdictChanged.emit(button.property("verdict"))
