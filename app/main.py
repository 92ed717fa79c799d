"""Start the desktop application.

    python -m app.main [--db URL] [--demo] [--dataset NAME] [--screenshot PNG] [--debug]

Opens (and upgrades) the database, creates the demo study on the first launch (an empty
database) or with ``--demo``, and shows the main window. Background jobs run in a worker
process that the window starts when it has work for one. With ``--screenshot`` the window
writes a PNG of itself once the opened case is on screen and quits (app/screenshot.py).
SIGTERM and SIGINT close the window as File > Quit does (app/quit_signals.py).
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass

from PySide6.QtCore import QCoreApplication, Qt, QTimer
from PySide6.QtGui import QGuiApplication, QIcon
from PySide6.QtWidgets import QApplication, QMessageBox, QProgressDialog
from sqlalchemy import func, select

from app.quit_signals import QuitOnSignal
from engine.log_levels import quiet_noisy_loggers
from engine.progress import Progress
from resources import RESOURCES_DIR

log = logging.getLogger("app")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="neuroonco-gui", description="Open the NeuroOnco Workbench window.")
    parser.add_argument("--db", metavar="URL", help="database URL (default: $NEUROONCO_DB_URL or the "
                                                    "SQLite file in the user-data folder)")
    parser.add_argument("--demo", action="store_true", help="create the demo study if needed and open it")
    parser.add_argument("--dataset", metavar="NAME", help="open this dataset")
    parser.add_argument("--screenshot", metavar="PNG",
                        help="write a PNG of the main window once the opened case is on screen, "
                             "then quit (exit status 1 if that fails)")
    parser.add_argument("--debug", action="store_true", help="log debug messages")
    return parser.parse_args(argv)


def create_application(argv: list[str]) -> QApplication:
    """Return the QApplication, set up for high-DPI screens.

    Qt 6 scales by the device pixel ratio itself. The rounding policy PassThrough keeps
    fractional factors such as 150 % exact instead of rounding them to 200 %.
    """
    app = QApplication.instance()
    if app is not None:
        return app
    QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    QCoreApplication.setOrganizationName("NeuroOncoWorkbench")
    QCoreApplication.setApplicationName("NeuroOncoWorkbench")
    app = QApplication(argv)
    app.setApplicationDisplayName("NeuroOnco Workbench")
    # Matches the window to installer/neuroonco-workbench.desktop (Wayland app id, taskbar icon).
    app.setDesktopFileName("neuroonco-workbench")
    app.setWindowIcon(QIcon(str(RESOURCES_DIR / "icons" / "neuroonco-workbench.png")))
    return app


@dataclass
class DialogProgress(Progress):
    """Shows an engine Progress in a QProgressDialog before the main window exists."""

    dialog: QProgressDialog | None = None

    def report(self) -> None:
        if self.dialog is None:
            return
        self.dialog.setMaximum(max(self.total or 0, 1))
        self.dialog.setValue(min(self.done, self.dialog.maximum()))
        if self.message:
            self.dialog.setLabelText(self.message)
        QApplication.processEvents()


def ensure_demo(db, force: bool) -> str | None:
    """Create the demo study when ``force`` is set or the database has no dataset yet.

    Returns the demo dataset's name when it was created or asked for, else None.
    """
    from db.models import Dataset
    from engine.demo import DEMO_DATASET, create_demo

    with db.session() as session:
        empty = (session.scalar(select(func.count()).select_from(Dataset)) or 0) == 0
    if not (force or empty):
        return None
    dialog = QProgressDialog("Creating the demo study", None, 0, 1)
    dialog.setWindowTitle("NeuroOnco Workbench")
    dialog.setMinimumDuration(0)
    dialog.show()
    try:
        create_demo(db, DialogProgress(dialog=dialog))
    finally:
        dialog.close()
    return DEMO_DATASET


def start(args: argparse.Namespace):
    """Open the database and show the main window, then return (window, database).

    Returns None when the database cannot be opened, after showing the error in a dialog.
    """
    from app.main_window import MainWindow
    from app.settings import AppSettings
    from db.session import open_database
    from engine.errors import WorkbenchError

    try:
        db = open_database(args.db)
        demo = ensure_demo(db, args.demo)
    except WorkbenchError as error:
        QMessageBox.critical(None, "NeuroOnco Workbench", str(error))
        return None

    from app.research import attach_research

    settings = AppSettings.default()
    window = MainWindow(db, settings)
    attach_research(window)
    window.show()
    dataset = args.dataset or demo or settings.last_dataset
    if dataset and not window.open_dataset(dataset):
        window.show_message(f"dataset '{dataset}' not found; choose one in the browser")
    return window, db


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not args.debug:
        quiet_noisy_loggers()
    app = create_application(sys.argv[:1])
    started = start(args)
    if started is None:
        return 1
    window, db = started
    quit_on_signal = QuitOnSignal(window)
    # Fires once the event loop runs, after the window's show event.
    QTimer.singleShot(0, lambda: log.info("main window shown"))
    if args.screenshot:
        from app.screenshot import WindowScreenshot

        WindowScreenshot(window, args.screenshot)
    code = app.exec()
    quit_on_signal.uninstall()
    db.dispose()
    return code


if __name__ == "__main__":
    sys.exit(main())
