"""Databases for the main-window tests: the demo study and a small real benchmark with runs.

Building them takes seconds, so each is built once per test session and copied for each
test. The benchmark contains four real MM-NeuroOnco items (1, 3, 4, 9). Items 1 and 3 get
images rendered from the demo T1 (item 3 also a BraTS-style ``_seg`` mask) under a data
root; the images of items 4 and 9 stay missing, as gated data is. Two runs answer every
question: baseline:random, and "notes", a registered model whose answers come from
:class:`NotesAnswerer`.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import cv2
import nibabel as nib
import numpy as np
import pytest

from benchmark_files import CLOSED_NAME, OPEN_NAME, closed_items, open_items, write_json
from db.models import Model
from db.session import open_database
from engine.bench.answerer import ModelAnswer
from engine.bench.images import set_data_root
from engine.bench.importer import import_benchmark
from engine.bench.runs import RunSpec, create_run
from engine.bench.session import run_session
from engine.demo import DEMO_MASK, DEMO_T1, create_demo

ITEM_IDS = [1, 3, 4, 9]
PRESENT_ITEMS = (1, 3)
BENCHMARK = "mini"
NOTES_MODEL = "notes"


class NotesAnswerer:
    """Answers like a model that explains itself, without looking at the image.

    Closed questions: reasoning text, "Answer: X" with the gold letter for even question
    indexes and another letter for odd ones, and letter probabilities. Open questions: the
    first half of the reference answer, so some keywords are hit and some missed.
    """

    needs_image = False

    def describe(self) -> dict:
        return {"kind": "test", "name": NOTES_MODEL}

    def answer_image(self, image, questions) -> list[ModelAnswer]:
        return [self._answer(question) for question in questions]

    def close(self) -> None:
        pass

    def _answer(self, question) -> ModelAnswer:
        if question.kind != "closed":
            words = (question.reference or "").split()
            return ModelAnswer(raw_output=" ".join(words[: len(words) // 2]), latency_ms=300.0)
        letters = list(question.options)
        gold = question.closed.gold
        letter = gold if question.q_index % 2 == 0 else next(other for other in letters if other != gold)
        rest = (1.0 - 0.6) / (len(letters) - 1)
        probs = {other: (0.6 if other == letter else rest) for other in letters}
        return ModelAnswer(
            raw_output=f"The {question.question_type} looks like option {letter}.\nAnswer: {letter}",
            reasoning=f"Compared the options for the {question.question_type} question.",
            letter_probs=probs, letter_mass=0.9, latency_ms=120.0 + question.q_index,
        )


@dataclass(frozen=True)
class BenchmarkFiles:
    closed: Path
    open: Path
    root: Path  # the data root with the images of PRESENT_ITEMS
    items: dict[int, dict]


def render_item_images(root: Path, items: list[dict], present: tuple[int, ...]) -> None:
    """Write axial demo T1 slices at the image paths of ``present`` items, and a BraTS-style
    ``<case>_seg.png`` (the demo lesion on that slice) beside BraTS images."""
    volume = np.asarray(nib.load(str(DEMO_T1)).dataobj, dtype=np.float32)
    lesion = np.asarray(nib.load(str(DEMO_MASK)).dataobj)
    for offset, item in enumerate(item for item in items if item["id"] in present):
        k = 95 + 8 * offset
        # Axial slice in the radiological display frame: anterior up, patient's right on the left.
        plane = np.rot90(volume[:, :, k])[:, ::-1]
        path = root / item["image_path"]
        path.parent.mkdir(parents=True, exist_ok=True)
        assert cv2.imwrite(str(path), (255 * plane / plane.max()).astype(np.uint8))
        if "/16_" in item["image_path"]:
            case = path.parent.name
            seg = (np.rot90(lesion[:, :, k])[:, ::-1] > 0).astype(np.uint8) * 255
            assert cv2.imwrite(str(path.parent / f"{case}_seg.png"), seg)


def write_benchmark_files(folder: Path, shared_data: Path) -> BenchmarkFiles:
    closed = closed_items(shared_data, ITEM_IDS)
    opened = [item for item in open_items(shared_data, [3, 9])]
    root = folder / "images"
    render_item_images(root, closed, PRESENT_ITEMS)
    return BenchmarkFiles(write_json(folder / CLOSED_NAME, closed), write_json(folder / OPEN_NAME, opened),
                          root, {item["id"]: item for item in closed})


def add_runs(db) -> None:
    """Answer every question with baseline:random and with the notes model."""
    run_session(db, create_run(db, RunSpec(benchmark=BENCHMARK, model="baseline:random", name="random")))
    with db.session(write=True) as session:
        session.add(Model(name=NOTES_MODEL, backend="transformers", path="/models/none"))
    answerer = NotesAnswerer()
    run_id = create_run(db, RunSpec(benchmark=BENCHMARK, model=NOTES_MODEL, name="notes-run"), answerer=answerer)
    run_session(db, run_id, answerer=answerer)


def _template(folder: Path, shared_data: Path | None) -> Path:
    url = f"sqlite:///{folder / 'template.sqlite'}"
    db = open_database(url)
    try:
        create_demo(db)
        if shared_data is not None:
            files = write_benchmark_files(folder, shared_data)
            import_benchmark(db, files.closed, files.open, name=BENCHMARK)
            set_data_root(db, BENCHMARK, files.root)
            add_runs(db)
    finally:
        db.dispose()
    return folder / "template.sqlite"


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory) -> Path:
    return _template(tmp_path_factory.mktemp("demo-template"), None)


@pytest.fixture(scope="session")
def bench_template(tmp_path_factory) -> Path:
    from conftest import SHARED_DATA

    if not SHARED_DATA.exists():
        pytest.skip(f"the MM-NeuroOnco benchmark files not found at {SHARED_DATA}")
    return _template(tmp_path_factory.mktemp("bench-template"), SHARED_DATA)


def copy_database(template: Path, folder: Path) -> str:
    """Copy a template database into ``folder`` and return its URL."""
    target = folder / "workbench.sqlite"
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


@pytest.fixture
def demo_db(demo_template, tmp_path):
    db = open_database(copy_database(demo_template, tmp_path))
    yield db
    db.dispose()


@pytest.fixture
def bench_db(bench_template, tmp_path):
    db = open_database(copy_database(bench_template, tmp_path))
    yield db
    db.dispose()


def item_pk(db, item_id: int, benchmark: str = BENCHMARK) -> int | None:
    """Return the row id of item ``item_id`` of ``benchmark``.

    The demo study has its own benchmark whose item ids overlap those of the test benchmark.
    """
    from sqlalchemy import select

    from db.models import Benchmark, BenchmarkItem

    with db.session() as session:
        return session.scalar(
            select(BenchmarkItem.id).join(Benchmark, Benchmark.id == BenchmarkItem.benchmark_id)
            .where(BenchmarkItem.item_id == item_id, Benchmark.name == benchmark))
