"""The post-training benchmark dialog: one adapter against its base model on one benchmark.

It takes the adapter and benchmark names and emits ``startRequested(dict)`` with
``adapter``, ``benchmark``, ``setting``, ``mode``, ``seed`` and ``limit`` (None for all
questions). The application creates the two sessions and compares them when they finish.
"""

from __future__ import annotations

from typing import Sequence

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QComboBox, QDialog, QFormLayout, QHBoxLayout, QLabel, QPushButton,
                               QSpinBox, QVBoxLayout, QWidget)

SETTINGS = ("rejection-aware", "standard")
MODES = ("generate", "letter-prob")


class PostTrainingDialog(QDialog):
    """Chooses the adapter, benchmark and shared session settings."""

    startRequested = Signal(dict)

    def __init__(self, run_name: str, adapters: Sequence[str], benchmarks: Sequence[str],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Benchmark {run_name}: adapter against base")
        self.adapter = QComboBox(self, objectName="adapter")
        self.adapter.addItems(list(adapters))
        self.benchmark = QComboBox(self, objectName="benchmark")
        self.benchmark.addItems(list(benchmarks))
        self.setting = QComboBox(self, objectName="setting")
        self.setting.addItems(SETTINGS)
        self.mode = QComboBox(self, objectName="mode")
        self.mode.addItems(MODES)
        self.seed = QSpinBox(self, objectName="seed")
        self.seed.setRange(0, 2**31 - 1)
        self.limit = QSpinBox(self, objectName="limit")
        self.limit.setRange(0, 10_000_000)
        self.limit.setSpecialValueText("all questions")
        form = QFormLayout()
        for label, editor in (("Adapter", self.adapter), ("Benchmark", self.benchmark),
                              ("Setting", self.setting), ("Scoring mode", self.mode),
                              ("Seed", self.seed), ("Limit", self.limit)):
            form.addRow(label, editor)
        note = QLabel("Two sessions with the same settings run as jobs: the base model alone "
                      "and the base model with the adapter. The comparison opens when both "
                      "have finished.", self, wordWrap=True)
        self.error = QLabel(self, objectName="error", wordWrap=True)
        self.error.setStyleSheet("color: #b00020;")
        if not adapters:
            self.error.setText("Register a checkpoint of this run as an adapter first "
                               "(select it in the monitor, then Register as adapter).")
        self.start_button = QPushButton("Start both sessions", self, objectName="start")
        self.start_button.setEnabled(bool(adapters) and bool(benchmarks))
        self.start_button.clicked.connect(self._on_start_clicked)
        close = QPushButton("Close", self)
        close.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.start_button)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(self.error)
        layout.addLayout(buttons)

    def show_error(self, text: str) -> None:
        self.error.setText(text)

    def values(self) -> dict:
        return {"adapter": self.adapter.currentText(), "benchmark": self.benchmark.currentText(),
                "setting": self.setting.currentText(), "mode": self.mode.currentText(),
                "seed": self.seed.value(), "limit": self.limit.value() or None}

    def _on_start_clicked(self) -> None:
        self.show_error("")
        self.startRequested.emit(self.values())
