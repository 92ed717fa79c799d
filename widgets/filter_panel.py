"""The browser's filters: search text and one choice per attribute.

The panel emits ``filtersChanged(dict)`` with plain values (see :meth:`FilterPanel.values`);
the application turns them into database queries. Choices come from
:meth:`FilterPanel.set_choices`, so the panel offers only values that exist.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSignalBlocker, QTimer, Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QGroupBox, QLineEdit, QVBoxLayout, QWidget

ANY = None
TEXT_DELAY_MS = 250  # typing pauses this long before the browser queries again
YES_NO = (("any", ANY), ("yes", True), ("no", False))
REVIEW_STATES = (("any", ANY), ("unreviewed", "unreviewed"), ("reviewed", "reviewed"),
                 ("agree", "agree"), ("disagree", "disagree"), ("flag", "flag"))
OUTCOMES = (("answered", ANY), ("answered right", "right"), ("answered wrong", "wrong"))
IMAGES = (("any", ANY), ("present", False), ("missing", True))
# Keys of values() whose choices come from set_choices: key, form label, key in the choices.
CHOICE_FIELDS = (("tumour_type", "Tumour type", "tumour_types"), ("modality", "Modality", "modalities"),
                 ("size", "Size", "sizes"), ("shape", "Shape", "shapes"), ("spread", "Spread", "spreads"),
                 ("location", "Location", "locations"))


class FilterPanel(QGroupBox):
    """Search box and filter choices, bound to a plain ``dict`` of values."""

    filtersChanged = Signal(dict)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Filters", parent)
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Search case, file, tumour type, description")
        self.search.setClearButtonEnabled(True)
        self._text_timer = QTimer(self)
        self._text_timer.setSingleShot(True)
        self._text_timer.setInterval(TEXT_DELAY_MS)
        self._text_timer.timeout.connect(self._emit)
        self.search.textChanged.connect(self._on_search_text_changed)

        self.boxes: dict[str, QComboBox] = {}
        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        for key, label, _choices in CHOICE_FIELDS:
            form.addRow(label, self._box(key, (("any", ANY),)))
        form.addRow("Has mask", self._box("has_mask", YES_NO))
        form.addRow("Has lesion", self._box("has_lesion", YES_NO))
        form.addRow("Image", self._box("image_missing", IMAGES))
        form.addRow("Review", self._box("review_state", REVIEW_STATES))
        form.addRow("Reviewer", self._box("reviewer", (("any", ANY),)))
        form.addRow("Benchmark", self._box("benchmark", (("any", ANY), ("has questions", "any"))))
        form.addRow("Run", self._box("run", (("any", ANY),)))
        form.addRow("Run outcome", self._box("run_outcome", OUTCOMES))
        self.boxes["run_outcome"].setEnabled(False)

        layout = QVBoxLayout(self)
        layout.addWidget(self.search)
        layout.addLayout(form)

    def _box(self, key: str, entries) -> QComboBox:
        box = QComboBox(self)
        box.setObjectName(f"filter_{key}")
        for text, value in entries:
            box.addItem(text, value)
        box.currentIndexChanged.connect(self._on_box_index_changed)
        self.boxes[key] = box
        return box

    def set_choices(self, choices: dict[str, list]) -> None:
        """Offer the values present: lists of strings for the attributes and ``reviewers``,
        ``(id, name)`` pairs for ``benchmarks`` and ``runs``. The current choices stay where
        they are still offered."""
        for key, _label, choices_key in CHOICE_FIELDS:
            self._fill(key, [(value, value) for value in choices.get(choices_key, [])], (("any", ANY),))
        self._fill("reviewer", [(name, name) for name in choices.get("reviewers", [])], (("any", ANY),))
        self._fill("benchmark", [(name, benchmark_id) for benchmark_id, name in choices.get("benchmarks", [])],
                   (("any", ANY), ("has questions", "any")))
        self._fill("run", [(name, run_id) for run_id, name in choices.get("runs", [])], (("any", ANY),))

    def _fill(self, key: str, entries: list[tuple[str, Any]], fixed) -> None:
        box = self.boxes[key]
        current = box.currentData()
        with QSignalBlocker(box):
            box.clear()
            for text, value in (*fixed, *entries):
                box.addItem(str(text), value)
            position = box.findData(current)
            box.setCurrentIndex(position if position >= 0 else 0)

    def values(self) -> dict[str, Any]:
        """Return the filters: ``text`` plus one value per box (None means any).

        ``benchmark`` is a benchmark id, or ``"any"`` for slices with questions in any
        benchmark; ``run`` a run id, ``run_outcome`` ``"right"``, ``"wrong"`` or None.
        """
        values: dict[str, Any] = {"text": self.search.text().strip() or None}
        for key, box in self.boxes.items():
            values[key] = box.currentData()
        if values["run"] is None:
            values["run_outcome"] = None
        return values

    def set_value(self, key: str, value: Any) -> None:
        """Choose ``value`` in filter ``key`` (or set the search text for ``text``)."""
        if key == "text":
            self.search.setText(value or "")
            self._text_timer.stop()
            self._emit()
            return
        box = self.boxes[key]
        position = box.findData(value)
        if position < 0:
            raise ValueError(f"filter {key!r} offers no value {value!r}")
        box.setCurrentIndex(position)

    def _on_search_text_changed(self, _text: str) -> None:
        self._text_timer.start()

    def _on_box_index_changed(self, _index: int) -> None:
        self.boxes["run_outcome"].setEnabled(self.boxes["run"].currentData() is not None)
        self._emit()

    def _emit(self) -> None:
        self.filtersChanged.emit(self.values())
