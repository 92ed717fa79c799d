"""Overlay display settings shared by every pane, the legend and the overlay controls."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

FILL = "fill"
OUTLINE = "outline"
DEFAULT_OPACITY = 0.5


class OverlaySettings(QObject):
    """Display state of the mask overlay: shown or hidden, opacity, fill or outline, hidden labels.

    Setters emit their signal only when the value changes, so two-way bindings settle.
    """

    visibleChanged = Signal(bool)
    opacityChanged = Signal(float)
    modeChanged = Signal(str)
    labelVisibilityChanged = Signal(int, bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._visible = True
        self._opacity = DEFAULT_OPACITY
        self._mode = FILL
        self._hidden: set[int] = set()

    @property
    def visible(self) -> bool:
        return self._visible

    @property
    def opacity(self) -> float:
        """Opacity of the whole overlay, 0 to 1."""
        return self._opacity

    @property
    def mode(self) -> str:
        """``fill`` or ``outline``."""
        return self._mode

    @property
    def hidden_labels(self) -> frozenset[int]:
        return frozenset(self._hidden)

    def set_visible(self, visible: bool) -> None:
        if bool(visible) != self._visible:
            self._visible = bool(visible)
            self.visibleChanged.emit(self._visible)

    def toggle_visible(self) -> None:
        self.set_visible(not self._visible)

    def set_opacity(self, opacity: float) -> None:
        """Set the opacity, clipped to 0..1 and rounded to whole percent."""
        opacity = round(min(max(float(opacity), 0.0), 1.0), 2)
        if opacity != self._opacity:
            self._opacity = opacity
            self.opacityChanged.emit(opacity)

    def step_opacity(self, delta: float) -> None:
        self.set_opacity(self._opacity + delta)

    def set_mode(self, mode: str) -> None:
        if mode not in (FILL, OUTLINE):
            raise ValueError(f"overlay mode must be '{FILL}' or '{OUTLINE}', not {mode!r}")
        if mode != self._mode:
            self._mode = mode
            self.modeChanged.emit(mode)

    def toggle_mode(self) -> None:
        self.set_mode(OUTLINE if self._mode == FILL else FILL)

    def is_label_visible(self, value: int) -> bool:
        return int(value) not in self._hidden

    def set_label_visible(self, value: int, visible: bool) -> None:
        value = int(value)
        if visible == self.is_label_visible(value):
            return
        if visible:
            self._hidden.discard(value)
        else:
            self._hidden.add(value)
        self.labelVisibilityChanged.emit(value, bool(visible))
