"""Sessions with an answerer that reads the images: one call per image, questions about
missing images skipped and counted, letter-probability scoring, and a changed answerer."""

from __future__ import annotations

from pathlib import Path

import cv2
import nibabel as nib
import numpy as np
import pytest
from sqlalchemy import select

from benchmark_files import closed_items, write_json
from db.models import Model, Run
from engine.bench.answerer import ImageInput, ModelAnswer
from engine.bench.baselines import RANDOM
from engine.bench.importer import import_benchmark
from engine.bench.run_metrics import run_metrics
from engine.bench.runs import RunSpec, create_run
from engine.bench.session import run_session
from engine.errors import WorkbenchError
from session_helpers import question_keys, stored_answers

DEMO_T1 = Path(__file__).resolve().parents[1] / "resources" / "demo" / "colin27_t1.nii.gz"
ITEM_IDS = [1, 2, 3, 4]
NOT_FOUND_ITEM, MISSING_ITEM = 3, 4


class BrightnessAnswerer:
    """Chooses letters from the mean grey value of the image file, as a model reads pixels."""

    needs_image = True

    def __init__(self, mode: str = "generate", name: str = "brightness") -> None:
        self.mode = mode
        self.name = name
        self.calls: list[tuple[int, int]] = []

    def describe(self) -> dict:
        return {"kind": "test", "name": self.name, "mode": self.mode}

    def answer_image(self, image: ImageInput, questions) -> list[ModelAnswer]:  # noqa: ANN001
        assert image.path is not None
        mean = float(cv2.imread(str(image.path), cv2.IMREAD_GRAYSCALE).mean())
        self.calls.append((image.item_id, len(questions)))
        answers = []
        for question in questions:
            letters = list(question.options)
            if self.mode == "letter-prob":
                weights = np.array([1.0 / (1.0 + abs(mean - 30.0 * rank))
                                    for rank in range(len(letters))])
                probabilities = weights / weights.sum()
                answers.append(ModelAnswer(letter_probs=dict(zip(letters, probabilities.tolist())),
                                           letter_mass=0.8, latency_ms=2.0))
            else:
                letter = letters[int(mean) % len(letters)]
                answers.append(ModelAnswer(raw_output=f"Answer: {letter}", latency_ms=2.0,
                                           prompt_tokens=40, completion_tokens=3))
        return answers

    def close(self) -> None:
        pass


@pytest.fixture
def image_benchmark(db, shared_data, tmp_path):
    """Four real items; images for items 1-3 only, then item 3's file is removed."""
    items = closed_items(shared_data, ITEM_IDS)
    volume = np.asarray(nib.load(DEMO_T1).dataobj, dtype=np.float32)
    root = tmp_path / "images"
    for offset, item in enumerate(items[:3]):
        plane = volume[:, :, 60 + 20 * offset]
        path = root / item["image_path"]
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), (255 * plane / plane.max()).astype(np.uint8))
    import_benchmark(db, write_json(tmp_path / "four.json", items), data_root=root, name="four")
    (root / items[2]["image_path"]).unlink()
    with db.session(write=True) as session:
        session.add(Model(name="brightness", backend="transformers", path="/models/none"))
    return {item["id"]: item for item in items}, root


def _by_item(db, run_id) -> dict[int, list[dict]]:
    keys = question_keys(db)
    result: dict[int, list[dict]] = {}
    for question_id, answer in sorted(stored_answers(db, run_id).items()):
        result.setdefault(keys[question_id][0], []).append(answer)
    return result


def test_missing_images_skipped_and_counted(db, image_benchmark):
    items, root = image_benchmark
    answerer = BrightnessAnswerer()
    run_id = create_run(db, RunSpec(benchmark="four", model="brightness"), answerer=answerer)
    counts = run_session(db, run_id, answerer=answerer)
    by_item = _by_item(db, run_id)
    sizes = {item_id: len(item["vqa_pairs"]) for item_id, item in items.items()}

    # One call per present image, with all its questions.
    assert answerer.calls == [(1, sizes[1]), (2, sizes[2])]
    assert counts["skipped_now"] == sizes[NOT_FOUND_ITEM] + sizes[MISSING_ITEM]
    assert counts["answered_now"] == sizes[1] + sizes[2]
    assert {answer["skipped"] for answer in by_item[NOT_FOUND_ITEM]} == {"image-not-found"}
    assert {answer["skipped"] for answer in by_item[MISSING_ITEM]} == {"image-missing"}
    for item_id in (1, 2):
        mean = float(cv2.imread(str(root / items[item_id]["image_path"]),
                                cv2.IMREAD_GRAYSCALE).mean())
        for answer, pair in zip(by_item[item_id], items[item_id]["vqa_pairs"]):
            letters = list(pair["options"])
            assert answer["parsed_letter"] == letters[int(mean) % len(letters)]
            assert answer["parse_rule"] == "marker"

    closed = run_metrics(db, run_id)["closed"]
    assert closed["outcomes"]["skipped"] == counts["skipped_now"]
    assert closed["overall"]["total"] == sum(sizes.values())
    correct = sum(answer["is_correct"] for answers in by_item.values() for answer in answers)
    assert closed["overall"]["correct"] == correct


def test_baseline_answers_missing_images(db, image_benchmark):
    run_id = create_run(db, RunSpec(benchmark="four", model=RANDOM))
    counts = run_session(db, run_id)
    assert counts["skipped_now"] == 0
    assert run_metrics(db, run_id)["closed"]["outcomes"]["skipped"] == 0


def test_letter_probability_mode(db, image_benchmark):
    answerer = BrightnessAnswerer(mode="letter-prob")
    run_id = create_run(db, RunSpec(benchmark="four", model="brightness", mode="letter-prob"),
                        answerer=answerer)
    run_session(db, run_id, answerer=answerer)
    answered = [answer for answers in _by_item(db, run_id).values() for answer in answers
                if answer["skipped"] is None]

    assert answered
    for answer in answered:
        probabilities = answer["letter_probs"]
        assert answer["parse_rule"] == "letter-probability"
        assert answer["parsed_letter"] == max(probabilities, key=probabilities.get)
        assert answer["raw_output"] is None
    with db.session() as session:
        run = session.scalar(select(Run).where(Run.id == run_id))
        assert (run.mode, run.config["answerer"]["mode"]) == ("letter-prob", "letter-prob")


def test_changed_answerer_rejected(db, image_benchmark):
    answerer = BrightnessAnswerer()
    run_id = create_run(db, RunSpec(benchmark="four", model="brightness"), answerer=answerer)
    with pytest.raises(WorkbenchError, match="start a new run"):
        run_session(db, run_id, answerer=BrightnessAnswerer(name="brightness-v2"))
    assert stored_answers(db, run_id) == {}
    with db.session() as session:
        assert session.get(Run, run_id).status == "created"
