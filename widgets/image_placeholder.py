"""What the viewer shows instead of an image: nothing selected, loading, or image missing."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget


class ImagePlaceholder(QWidget):
    """A message with an optional "Set data root..." button and an optional progress bar.

    ``setDataRootRequested`` fires when the button is pressed; ``cancelRequested`` when a
    load in progress is cancelled.
    """

    setDataRootRequested = Signal()
    cancelRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.message = QLabel(self)
        self.message.setObjectName("placeholder_message")
        self.message.setWordWrap(True)
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.progress = QProgressBar(self)
        self.data_root_button = QPushButton("Set data root...", self)
        self.data_root_button.clicked.connect(self.setDataRootRequested)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.clicked.connect(self.cancelRequested)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(self.message)
        layout.addWidget(self.progress)
        layout.addWidget(self.data_root_button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.cancel_button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(1)
        self.show_message("Select a slice or a benchmark item in the browser.")

    @property
    def text(self) -> str:
        return self.message.text()

    def show_message(self, text: str, offer_data_root: bool = False) -> None:
        self.message.setText(text)
        self.progress.hide()
        self.cancel_button.hide()
        self.data_root_button.setVisible(offer_data_root)

    def show_loading(self, text: str, done: int, total: int) -> None:
        self.message.setText(text)
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.progress.show()
        self.cancel_button.show()
        self.data_root_button.hide()
