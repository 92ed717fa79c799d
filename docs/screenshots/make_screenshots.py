"""Make the README screenshots of the main window (run by make_screenshots.sh under Xvfb).

    DISPLAY=:99 QT_QPA_PLATFORM=xcb python docs/screenshots/make_screenshots.py OUTPUT_FOLDER

The MM-NeuroOnco images are gated, so the script imports four real closed items (with the
open questions of two) and renders stand-in images for two of them from the demo T1: the
axial slice where the demo's synthetic lesion is largest, written at item 3's image path
with the lesion as its BraTS-style ``_seg`` mask, and another slice at item 1's path. The
images of items 4 and 9 stay missing, as gated images are. Setting the data root imports
the two images, and ``neuroonco bench run --model baseline:random`` answers every question.

Screenshots:

- ``main-window-demo.png``: the demo study in the panes with its overlay, semantics and the
  demo benchmark's questions on that slice with the ``baseline:semantics-oracle`` answers;
- ``main-window-item.png``: item 3 with the rendered demo slice, its overlay and semantics,
  and the item's questions with the baseline's answers and a review;
- ``main-window-gated-item.png``: item 9, whose image is missing, with its open question.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))
SHARED_DATA = REPO_ROOT.parent / "shared" / "data" / "mm-neuroonco"
CLOSED_FILE = SHARED_DATA / "mm-neuroonco_benchmark_closed_v1.0.json"
OPEN_FILE = SHARED_DATA / "mm-neuroonco_benchmark_open_v1.0.json"
ITEMS = (1, 3, 4, 9)
OPEN_ITEMS = (3, 9)
BENCHMARK = "MM-NeuroOnco sample"
WINDOW_SIZE = (1600, 1000)


def write_benchmark(folder: Path) -> tuple[Path, Path, Path]:
    """Write the chosen items' closed and open JSON and render the two stand-in images."""
    import cv2
    import nibabel as nib
    import numpy as np

    from engine.demo import DEMO_MASK, DEMO_T1

    closed = [item for item in json.loads(CLOSED_FILE.read_text(encoding="utf-8")) if item["id"] in ITEMS]
    opened = [item for item in json.loads(OPEN_FILE.read_text(encoding="utf-8")) if item["id"] in OPEN_ITEMS]
    closed_path, open_path = folder / "closed.json", folder / "open.json"
    closed_path.write_text(json.dumps(closed), encoding="utf-8")
    open_path.write_text(json.dumps(opened), encoding="utf-8")

    volume = np.asarray(nib.load(str(DEMO_T1)).dataobj, dtype=np.float32)
    lesion = np.asarray(nib.load(str(DEMO_MASK)).dataobj)
    largest = int(np.argmax((lesion > 0).sum(axis=(0, 1))))
    root = folder / "images"
    paths = {item["id"]: item["image_path"] for item in closed}
    for item_id, k in ((3, largest), (1, largest + 20)):
        # Axial slice in the radiological display frame: anterior up, patient's right on the left.
        plane = np.rot90(volume[:, :, k])[:, ::-1]
        path = root / paths[item_id]
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), (255 * plane / volume.max()).astype(np.uint8))
        if "/16_" in paths[item_id]:
            seg = (np.rot90(lesion[:, :, k])[:, ::-1] > 0).astype(np.uint8) * 255
            cv2.imwrite(str(path.parent / f"{path.parent.name}_seg.png"), seg)
    return closed_path, open_path, root


def cli(url: str, *args: str) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    subprocess.run([sys.executable, "-m", "engine.cli.main", "--db", url, *args], check=True, cwd=REPO_ROOT,
                   env=env, stdout=subprocess.DEVNULL)


def build_database(folder: Path) -> str:
    url = f"sqlite:///{folder / 'screenshots.sqlite'}"
    closed, opened, root = write_benchmark(folder)
    cli(url, "demo")
    cli(url, "bench", "run", "--benchmark", "Demo benchmark", "--model", "baseline:semantics-oracle",
        "--name", "semantics-oracle")
    cli(url, "bench", "import", "--closed", str(closed), "--open", str(opened), "--name", BENCHMARK)
    cli(url, "bench", "set-data-root", BENCHMARK, str(root))
    cli(url, "bench", "run", "--benchmark", BENCHMARK, "--model", "baseline:random", "--name", "baseline-random")
    return url


def wait(app, condition, seconds: float = 60.0) -> None:
    import time

    from PySide6.QtTest import QTest

    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit("error: the window did not finish loading within a minute")
        QTest.qWait(10)
    QTest.qWait(400)


def item_pk(db, item_id: int) -> int:
    from sqlalchemy import select

    from db.models import Benchmark, BenchmarkItem

    # The demo benchmark numbers its items from 1 too, so name the benchmark.
    with db.session() as session:
        return session.scalar(select(BenchmarkItem.id).join(Benchmark)
                              .where(Benchmark.name == BENCHMARK, BenchmarkItem.item_id == item_id))


def save(window, output: Path, name: str) -> None:
    from PySide6.QtTest import QTest

    QTest.qWait(300)
    path = output / name
    window.grab().save(str(path))
    print(f"wrote {path} ({path.stat().st_size // 1024} KB)")


def main() -> int:
    output = Path(sys.argv[1] if len(sys.argv) > 1 else REPO_ROOT / "docs" / "screenshots").resolve()
    if not CLOSED_FILE.exists():
        raise SystemExit(f"error: MM-NeuroOnco files not found in {SHARED_DATA}")
    from app.main import create_application

    app = create_application(sys.argv[:1])
    from PySide6.QtTest import QTest

    from app.main_window import MainWindow
    from app.research import attach_research
    from app.settings import AppSettings
    from db.session import open_database
    from engine.demo import DEMO_DATASET
    from engine.viewer.semantics_view import slice_semantics

    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        os.environ["NEUROONCO_DATA_DIR"] = str(folder / "data")
        url = build_database(folder)
        db = open_database(url)
        settings = AppSettings.at(folder / "settings.ini")
        settings.set_reviewer("Dr. Example")
        window = MainWindow(db, settings, start_workers=False)
        attach_research(window)  # the Benchmark, Pipeline, Training and Models menus
        window.resize(*WINDOW_SIZE)
        window.show()
        QTest.qWaitForWindowExposed(window)

        window.open_dataset(DEMO_DATASET)
        wait(app, lambda: window.case.case_id is not None and window.case.loading_case_id is None)
        view = window.panes.active_view
        view.setFocus()
        with db.session() as session:
            semantics = slice_semantics(session, window.case.slice_id)
        view.set_slice(next(summary.largest_slice_index for summary in semantics.volume if summary.region == "WT"))
        wait(app, lambda: bool(window.questions_panel.questions))
        located = next(question for question in window.questions_panel.questions
                       if question.question_type == "location" and question.answers)
        window.questions_panel.select_answer(located.answers[0].answer_id)
        save(window, output, "main-window-demo.png")

        window.open_item(item_pk(db, 3))
        wait(app, lambda: window.case.loading_case_id is None and window.case.slice_id is not None)
        # Two reviews through the controller (the keys need an active window, and Xvfb
        # without a window manager does not activate one).
        window.review.choose_verdict("agree")
        window.review.save_and_next()
        window.review.choose_verdict("disagree")
        window.review_panel.comment.setText("Stand-in image: a T1 slice, not FLAIR")
        window.review.save_and_next()
        trap = next(question for question in window.questions_panel.questions if question.is_trap)
        window.questions_panel.select_answer(trap.answers[0].answer_id)
        save(window, output, "main-window-item.png")

        window.open_item(item_pk(db, 9))
        wait(app, lambda: window.case.loading_case_id is None)
        opened = next(question for question in window.questions_panel.questions if question.kind == "open")
        window.questions_panel.tree.setCurrentItem(window.questions_panel.tree.topLevelItem(
            window.questions_panel.questions.index(opened)))
        save(window, output, "main-window-gated-item.png")

        window.close()
        window.case.shutdown()
        db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
