"""The application's persistent settings, stored with QSettings.

Values are converted explicitly on read, because an INI file returns every value as a
string. The application uses the platform's settings store; tests and scripts pass an INI
file of their own (:meth:`AppSettings.at`), so they never touch the user's settings.
"""

from __future__ import annotations

import json
import os

from PySide6.QtCore import QByteArray, QSettings

ORGANIZATION = "NeuroOncoWorkbench"
APPLICATION = "NeuroOncoWorkbench"


class AppSettings:
    """Typed access to the workbench settings."""

    def __init__(self, settings: QSettings) -> None:
        self.qsettings = settings

    @classmethod
    def default(cls) -> AppSettings:
        """Return the platform's settings store, or the INI file ``$NEUROONCO_SETTINGS`` names."""
        override = os.environ.get("NEUROONCO_SETTINGS")
        if override:
            return cls.at(override)
        return cls(QSettings(ORGANIZATION, APPLICATION))

    @classmethod
    def at(cls, path) -> AppSettings:
        """Return settings kept in the INI file at ``path``."""
        return cls(QSettings(str(path), QSettings.Format.IniFormat))

    def sync(self) -> None:
        self.qsettings.sync()

    # ------------------------------------------------------------ plain values

    def _text(self, key: str, default: str = "") -> str:
        value = self.qsettings.value(key, default)
        return default if value is None else str(value)

    def _float(self, key: str, default: float) -> float:
        try:
            return float(self.qsettings.value(key, default))
        except (TypeError, ValueError):
            return default

    def _bool(self, key: str, default: bool) -> bool:
        value = self.qsettings.value(key, default)
        if isinstance(value, str):
            return value.lower() in ("1", "true", "yes")
        return bool(value)

    @property
    def reviewer(self) -> str:
        return self._text("review/reviewer").strip()

    def set_reviewer(self, name: str) -> None:
        self.qsettings.setValue("review/reviewer", name.strip())

    @property
    def blind(self) -> bool:
        return self._bool("review/blind", False)

    def set_blind(self, blind: bool) -> None:
        self.qsettings.setValue("review/blind", bool(blind))

    @property
    def last_dataset(self) -> str | None:
        return self._text("browser/last_dataset") or None

    def set_last_dataset(self, name: str | None) -> None:
        self.qsettings.setValue("browser/last_dataset", name or "")

    @property
    def overlay_opacity(self) -> float:
        return min(max(self._float("overlay/opacity", 0.5), 0.0), 1.0)

    @property
    def overlay_mode(self) -> str:
        mode = self._text("overlay/mode", "fill")
        return mode if mode in ("fill", "outline") else "fill"

    @property
    def overlay_visible(self) -> bool:
        return self._bool("overlay/visible", True)

    def set_overlay(self, opacity: float, mode: str, visible: bool) -> None:
        self.qsettings.setValue("overlay/opacity", float(opacity))
        self.qsettings.setValue("overlay/mode", mode)
        self.qsettings.setValue("overlay/visible", bool(visible))

    # ------------------------------------------------------------ data roots

    @property
    def data_roots(self) -> dict[str, str]:
        """The folders last chosen as data roots, by benchmark or dataset name."""
        try:
            roots = json.loads(self._text("data/roots", "{}"))
        except json.JSONDecodeError:
            return {}
        return {str(name): str(folder) for name, folder in roots.items()} if isinstance(roots, dict) else {}

    def set_data_root(self, name: str, folder: str) -> None:
        roots = self.data_roots
        roots[name] = folder
        self.qsettings.setValue("data/roots", json.dumps(roots, sort_keys=True))

    # ------------------------------------------------------------ window

    def save_window(self, window) -> None:
        self.qsettings.setValue("window/geometry", window.saveGeometry())
        self.qsettings.setValue("window/state", window.saveState())

    def restore_window(self, window) -> bool:
        """Restore geometry and dock layout; return False when none was saved."""
        geometry = self.qsettings.value("window/geometry")
        state = self.qsettings.value("window/state")
        if not isinstance(geometry, QByteArray) or geometry.isEmpty():
            return False
        window.restoreGeometry(geometry)
        if isinstance(state, QByteArray) and not state.isEmpty():
            window.restoreState(state)
        return True
