"""Controls of the mask overlay: show/hide, opacity slider and fill/outline switch."""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QSlider, QWidget

from widgets.overlay_settings import FILL, OUTLINE, OverlaySettings
from widgets.shortcuts import shortcut

MODES = ((FILL, "Fill"), (OUTLINE, "Outline"))


def _key_hint(action: str) -> str:
    return " / ".join(shortcut(action).keys)


class OverlayControls(QWidget):
    """Widgets bound both ways to an :class:`OverlaySettings` (keys and controls stay in step)."""

    def __init__(self, settings: OverlaySettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self.visible_box = QCheckBox("Mask", self)
        self.visible_box.setToolTip(f"Show or hide the mask ({_key_hint('overlay.toggle')})")
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal, self)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setSingleStep(5)
        self.opacity_slider.setPageStep(10)
        self.opacity_slider.setToolTip(
            f"Overlay opacity ({_key_hint('overlay.opacity_down')} and {_key_hint('overlay.opacity_up')} in 5 % steps)"
        )
        self.opacity_label = QLabel(self)
        self.opacity_label.setMinimumWidth(self.opacity_label.fontMetrics().horizontalAdvance("100 %"))
        self.mode_box = QComboBox(self)
        for mode, text in MODES:
            self.mode_box.addItem(text, mode)
        self.mode_box.setToolTip(f"Fill or outline ({_key_hint('overlay.outline')})")

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.visible_box)
        layout.addWidget(self.opacity_slider, 1)
        layout.addWidget(self.opacity_label)
        layout.addWidget(self.mode_box)

        self.visible_box.toggled.connect(self._on_visible_box_toggled)
        self.opacity_slider.valueChanged.connect(self._on_opacity_slider_value_changed)
        self.mode_box.currentIndexChanged.connect(self._on_mode_box_index_changed)
        settings.visibleChanged.connect(self._on_settings_visible_changed)
        settings.opacityChanged.connect(self._on_settings_opacity_changed)
        settings.modeChanged.connect(self._on_settings_mode_changed)
        self._on_settings_visible_changed(settings.visible)
        self._on_settings_opacity_changed(settings.opacity)
        self._on_settings_mode_changed(settings.mode)

    def _on_visible_box_toggled(self, checked: bool) -> None:
        self._settings.set_visible(checked)

    def _on_opacity_slider_value_changed(self, percent: int) -> None:
        self._settings.set_opacity(percent / 100)
        self.opacity_label.setText(f"{percent} %")

    def _on_mode_box_index_changed(self, index: int) -> None:
        self._settings.set_mode(self.mode_box.itemData(index))

    def _on_settings_visible_changed(self, visible: bool) -> None:
        with QSignalBlocker(self.visible_box):
            self.visible_box.setChecked(visible)

    def _on_settings_opacity_changed(self, opacity: float) -> None:
        percent = int(round(opacity * 100))
        with QSignalBlocker(self.opacity_slider):
            self.opacity_slider.setValue(percent)
        self.opacity_label.setText(f"{percent} %")

    def _on_settings_mode_changed(self, mode: str) -> None:
        with QSignalBlocker(self.mode_box):
            self.mode_box.setCurrentIndex(self.mode_box.findData(mode))
