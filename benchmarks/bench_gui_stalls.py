"""Event-loop stalls of the main window during a scripted session (target: none over 100 ms).

Run from the repository root with the offscreen platform:

    QT_QPA_PLATFORM=offscreen python -m benchmarks.bench_gui_stalls

The script builds a temporary database: the demo study, a BraTS-shaped four-modality case
(240 x 240 x 155 int16 NIfTI with the AAL atlas as its label map, imported with the
engine's importer) and, when the MM-NeuroOnco files are beside the repository, a small real
benchmark with two runs (the test suite's ``tests/app_data.py`` builds it). Then it opens
the main window and runs a session while :class:`app.stall_monitor.StallMonitor` records
the gaps between 10 ms timer firings on the GUI thread:

open the demo, scroll 120 slices at a 16 ms cadence, change the overlay, open the
four-modality case (read on the loader thread), scroll the linked panes, set browser
filters, open benchmark items (with and without images), review 20 items with Y and Enter,
toggle blind mode, and undo.

It prints the median, 99th percentile and maximum gap per phase and every gap over 100 ms.
The gap includes up to one 10 ms timer interval. Exits 1 when a gap exceeds 100 ms.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "tests"))

import nibabel as nib  # noqa: E402
import numpy as np  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

THRESHOLD_MS = 100.0
CADENCE_MS = 16
SHARED_DATA = REPO_ROOT.parent / "shared" / "data" / "mm-neuroonco"


def write_brats_case(folder: Path) -> Path:
    """Write the 240 x 240 x 155 case of the viewer benchmarks with BraTS file names."""
    from benchmarks.viewer_cases import brats_like_case

    volumes, labels = brats_like_case()
    case = folder / "BraTS2021_99999"
    case.mkdir(parents=True)
    for volume, token in zip(volumes, ("t1", "t1ce", "t2", "flair")):
        nib.save(nib.Nifti1Image(np.round(volume.data).astype(np.int16), volume.affine),
                 str(case / f"BraTS2021_99999_{token}.nii.gz"))
    # The AAL atlas as the case's label map: 116 labels, more than any tumour mask.
    nib.save(nib.Nifti1Image(labels.values[labels.indices].astype(np.uint16), labels.affine),
             str(case / "BraTS2021_99999_seg.nii.gz"))
    return case


def build_database(folder: Path) -> tuple[str, bool]:
    from db.session import open_database
    from engine.demo import create_demo
    from engine.io.importer import import_paths

    url = f"sqlite:///{folder / 'bench.sqlite'}"
    db = open_database(url)
    create_demo(db)
    import_paths(db, [write_brats_case(folder / "brats")], dataset="BraTS-like")
    has_benchmark = SHARED_DATA.exists()
    if has_benchmark:
        from app_data import BENCHMARK, add_runs, write_benchmark_files
        from engine.bench.images import set_data_root
        from engine.bench.importer import import_benchmark

        files = write_benchmark_files(folder / "benchmark", SHARED_DATA)
        import_benchmark(db, files.closed, files.open, name=BENCHMARK)
        set_data_root(db, BENCHMARK, files.root)
        add_runs(db)
    db.dispose()
    return url, has_benchmark


def wait_for(app, condition, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit("error: the window did not finish loading within a minute")
        QTest.qWait(5)


def run_session(window, monitor, app, has_benchmark: bool) -> None:
    from engine.demo import DEMO_DATASET

    def phase(name):
        monitor.set_phase(name)
        QTest.qWait(50)

    def loaded():
        return window.case.loading_case_id is None and window.case.case_id is not None

    phase("open demo")
    window.open_dataset(DEMO_DATASET)
    wait_for(app, loaded)
    QTest.qWait(300)

    phase("scroll demo")
    view = window.panes.active_view
    view.setFocus()
    for step in range(120):
        QTest.keyClick(view, Qt.Key.Key_Down if step < 60 else Qt.Key.Key_Up)
        QTest.qWait(CADENCE_MS)
    QTest.qWait(300)

    phase("overlay keys")
    for key in (Qt.Key.Key_S, Qt.Key.Key_S, Qt.Key.Key_D, Qt.Key.Key_A, Qt.Key.Key_O, Qt.Key.Key_O):
        QTest.keyClick(view, key)
        QTest.qWait(CADENCE_MS)

    phase("open four-modality case")
    node = window.browser.dataset_node("BraTS-like")
    window.browser.tree.expand_node(node)
    window.browser.tree.select_node(node.children[0])
    wait_for(app, loaded)
    QTest.qWait(300)

    phase("scroll linked panes")
    view = window.panes.active_view
    view.setFocus()
    for step in range(100):
        QTest.keyClick(view, Qt.Key.Key_Up if step < 50 else Qt.Key.Key_Down)
        QTest.qWait(CADENCE_MS)
    QTest.qWait(300)

    phase("browser filters")
    panel = window.browser.filter_panel
    for key, value in (("has_mask", True), ("modality", "T1"), ("modality", None), ("has_mask", None),
                       ("text", "colin"), ("text", "")):
        if key != "text" and panel.boxes[key].findData(value) < 0:
            continue
        panel.set_value(key, value)
        QTest.qWait(50)

    if has_benchmark:
        from sqlalchemy import select

        from db.models import BenchmarkItem

        phase("open benchmark items")
        with window.db.session() as session:
            items = list(session.scalars(select(BenchmarkItem.id).order_by(BenchmarkItem.item_id)))
        for item_pk in items:
            window.open_item(item_pk)
            wait_for(app, lambda: window.case.loading_case_id is None)
            QTest.qWait(200)
        window.open_item(items[1])
        wait_for(app, loaded)

        phase("review 20 items")
        window.settings.set_reviewer("benchmark")
        target = window.panes.active_view
        target.setFocus()
        for _ in range(20):
            QTest.keyClick(target, Qt.Key.Key_Y)
            QTest.keyClick(target, Qt.Key.Key_Return)
            QTest.qWait(60)

        phase("blind and undo")
        QTest.keyClick(target, Qt.Key.Key_B)
        QTest.qWait(100)
        QTest.keyClick(target, Qt.Key.Key_B)
        for _ in range(5):
            QTest.keyClick(target, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
            QTest.qWait(60)
    phase("idle")
    QTest.qWait(1500)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.parse_args()
    from app.main import create_application

    app = create_application(sys.argv[:1])
    from app.main_window import MainWindow
    from app.settings import AppSettings
    from app.stall_monitor import StallMonitor
    from db.session import open_database

    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        os.environ["NEUROONCO_DATA_DIR"] = str(folder / "data")
        print("building the database ...", flush=True)
        url, has_benchmark = build_database(folder)
        db = open_database(url)
        window = MainWindow(db, AppSettings.at(folder / "settings.ini"), start_workers=False)
        window.resize(1600, 1000)
        window.show()
        QTest.qWaitForWindowExposed(window)
        monitor = StallMonitor()
        monitor.start()
        run_session(window, monitor, app, has_benchmark)
        monitor.stop()
        window.close()
        window.case.shutdown()
        db.dispose()

    print(f"machine: {platform.node()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'phase':<26} {'samples':>7} {'median':>8} {'p99':>8} {'max':>8}   (ms between 10 ms timer firings)")
    phases: dict[str, list[float]] = {}
    for gap, name in zip(monitor.gaps, monitor.phases):
        phases.setdefault(name, []).append(gap)
    for name, gaps in phases.items():
        gaps_array = np.asarray(gaps)
        print(f"{name:<26} {len(gaps):>7} {np.median(gaps_array):>8.1f} {np.percentile(gaps_array, 99):>8.1f} "
              f"{gaps_array.max():>8.1f}")
    stalls = [(stall.phase, round(stall.gap_ms, 1)) for stall in monitor.stalls]
    print(f"gaps over {THRESHOLD_MS:.0f} ms: {stalls if stalls else 'none'}")
    return 1 if stalls else 0


if __name__ == "__main__":
    sys.exit(main())
