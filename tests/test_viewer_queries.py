"""Qt-free queries and loaders of the main window, on the demo study and a real benchmark."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from sqlalchemy import select

from app_data import BENCHMARK, PRESENT_ITEMS, bench_db, bench_template, demo_db, demo_template  # noqa: F401
from db.models import Answer, Benchmark, BenchmarkItem, Case, Dataset, Question, Run, Series, Slice
from engine.catalog import SliceFilter, next_slice_id
from engine.catalog_tree import count_groups, list_groups, slice_position
from engine.datasets import relocate_dataset
from engine.demo import DEMO_DATASET
from engine.errors import InvalidInputError
from engine.review import ReviewTarget, record_review
from engine.viewer.case_files import ImageMissingError, case_files, load_mask, load_series
from engine.viewer.items import ItemFilter, count_items, list_items, next_item_pk
from engine.viewer.questions_view import questions_for_item, questions_for_slice
from engine.viewer.review_queue import next_unreviewed, review_items
from engine.viewer.run_overview import run_overview
from engine.viewer.semantics_view import slice_semantics


def _demo_case(db):
    with db.session() as session:
        case_id = session.scalar(select(Case.id).join(Dataset).where(Dataset.name == DEMO_DATASET))
        return case_files(session, case_id)


def _mini_item(column, item_id):
    # The demo study has its own benchmark with overlapping item ids.
    return (select(column).join(Benchmark, Benchmark.id == BenchmarkItem.benchmark_id)
            .where(BenchmarkItem.item_id == item_id, Benchmark.name == BENCHMARK))


def _item_pk(db, item_id):
    with db.session() as session:
        return session.scalar(_mini_item(BenchmarkItem.id, item_id))


def _slice_of_item(db, item_id):
    with db.session() as session:
        return session.scalar(_mini_item(BenchmarkItem.slice_id, item_id))



def test_demo_case_loads_with_mask(demo_db):
    files = _demo_case(demo_db)
    assert [entry.modality for entry in files.series] == ["T1"]
    volume = load_series(files.series[0])
    assert volume.data.dtype == np.float32
    assert volume.data.shape == files.series[0].shape

    label_map = load_mask(files.mask_for(files.series[0].series_id), files.series[0], volume)
    assert label_map.present_values() == [1, 2, 4]
    assert label_map.name_of(2) == "oedema"
    assert label_map.is_synthetic


def test_missing_image_raises_image_missing(demo_db, tmp_path):
    files = _demo_case(demo_db)
    with demo_db.session(write=True) as session:
        session.get(Series, files.series[0].series_id).source_path = str(tmp_path / "gone.nii.gz")
    moved = _demo_case(demo_db)
    with pytest.raises(ImageMissingError, match="not found at .*gone.nii.gz.*set the data root") as raised:
        load_series(moved.series[0])
    assert raised.value.dataset_id == moved.dataset_id


def test_changed_image_rejected(demo_db, tmp_path):
    files = _demo_case(demo_db)
    impostor = tmp_path / "impostor.nii.gz"
    shutil.copyfile(files.series[0].source_path, impostor)
    with impostor.open("ab") as handle:
        handle.write(b"\0")  # gzip ignores trailing zeros, so the voxels stay the same
    with demo_db.session(write=True) as session:
        session.get(Series, files.series[0].series_id).source_path = str(impostor)
    with pytest.raises(InvalidInputError, match="changed since it was imported"):
        load_series(_demo_case(demo_db).series[0])


def test_demo_semantics_of_lesion_slice(demo_db):
    files = _demo_case(demo_db)
    with demo_db.session() as session:
        slice_id, index = session.execute(
            select(Slice.id, Slice.index).where(Slice.series_id == files.series[0].series_id,
                                                Slice.has_mask.is_(True)).order_by(Slice.index)).first()
        semantics = slice_semantics(session, slice_id)
    assert semantics.slice_index == index
    assert semantics.has_mask
    assert [region.region for region in semantics.regions] == ["WT", "TC", "ET"][: len(semantics.regions)]
    assert semantics.regions[0].size is not None or semantics.regions[0].is_empty
    assert {summary.region for summary in semantics.volume} == {"WT", "TC", "ET"}
    assert all(summary.volume_ml > 0 for summary in semantics.volume)
    assert semantics.description.startswith("A T1 brain MRI scan")


def test_tree_groups_and_counts(demo_db):
    empty = SliceFilter()
    with demo_db.session() as session:
        datasets = list_groups(session, empty, "dataset")
        cases = list_groups(session, empty, "case", datasets[0].id)
        series = list_groups(session, empty, "series", cases[0].id)
        masked = list_groups(session, SliceFilter(has_mask=True), "series", cases[0].id)
        assert count_groups(session, empty, "case", datasets[0].id) == 1
        assert count_groups(session, SliceFilter(tumour_types=["glioma"]), "dataset") == 0
    assert [row.label for row in datasets] == [DEMO_DATASET]
    assert [row.label for row in cases] == ["colin27"]
    assert [(row.label, row.detail) for row in series] == [("T1", "colin27_t1.nii.gz")]
    assert datasets[0].slice_count == cases[0].slice_count == series[0].slice_count
    assert 0 < masked[0].slice_count < series[0].slice_count


def test_next_slice_follows_browser_order(demo_db):
    with demo_db.session() as session:
        ids = list(session.scalars(select(Slice.id).order_by(Slice.index)))
        assert next_slice_id(session, SliceFilter(), None) == ids[0]
        assert next_slice_id(session, SliceFilter(), ids[5]) == ids[6]
        assert next_slice_id(session, SliceFilter(), ids[-1]) is None
        first_masked = next_slice_id(session, SliceFilter(has_mask=True), ids[0])
        assert session.get(Slice, first_masked).has_mask
        assert slice_position(session, ids[3])[3] == 3


def test_unreviewed_by_skips_reviewed_slices(demo_db):
    with demo_db.session(write=True) as session:
        ids = list(session.scalars(select(Slice.id).order_by(Slice.index)))
        record_review(session, ReviewTarget("slice", ids[1]), "ana", "agree")
    with demo_db.session() as session:
        assert next_slice_id(session, SliceFilter(unreviewed_by="ana"), ids[0]) == ids[2]
        assert next_slice_id(session, SliceFilter(unreviewed_by="ben"), ids[0]) == ids[1]


def test_questions_of_linked_slice(bench_db):
    slice_id = _slice_of_item(bench_db, 3)
    with bench_db.session() as session:
        questions = questions_for_slice(session, slice_id)
    closed = [question for question in questions if question.kind == "closed"]
    opened = [question for question in questions if question.kind == "open"]
    assert {question.item_id for question in questions} == {3}
    assert [question.question_type for question in closed] == [
        "modality", "diagnosis", "size", "shape", "spread", "location"]
    assert closed[1].is_trap and closed[1].gold_letter == "E"
    assert len(opened) == 5
    for question in questions:
        assert [answer.run_name for answer in question.answers] == ["random", "notes-run"]
    notes = closed[0].answers[1]
    assert notes.reasoning.startswith("Compared the options")
    assert notes.parsed_letter == closed[0].gold_letter
    assert notes.is_correct
    assert notes.letter_probs[notes.parsed_letter] == pytest.approx(0.6)
    assert notes.latency_ms == pytest.approx(120.0)
    assert closed[1].answers[1].is_correct is False


def test_open_answer_keywords_split(bench_db):
    with bench_db.session() as session:
        questions = questions_for_item(session, _item_pk(bench_db, 3))
    detail = next(question for question in questions if question.kind == "open" and question.q_index == 0)
    answer = detail.answers[1]
    assert set(answer.keywords_hit) | set(answer.keywords_missed) == set(detail.keywords)
    assert answer.keywords_hit and answer.keywords_missed
    for keyword in answer.keywords_hit:
        assert keyword.casefold() in answer.raw_output.casefold()
    for keyword in answer.keywords_missed:
        assert keyword.casefold() not in answer.raw_output.casefold()
    baseline = detail.answers[0]
    assert baseline.keywords_hit == ()
    assert set(baseline.keywords_missed) == set(detail.keywords)


def test_missing_item_questions_without_slice(bench_db):
    with bench_db.session() as session:
        questions = questions_for_item(session, _item_pk(bench_db, 4))
    assert questions and all(question.image_missing and question.slice_id is None for question in questions)


def test_items_filtered_and_paged(bench_db):
    with bench_db.session() as session:
        # Only the test's benchmark: the demo study brings one of its own.
        mini = [session.scalar(select(Benchmark.id).where(Benchmark.name == BENCHMARK))]
        every = list_items(session, ItemFilter(benchmark_ids=mini))
        missing = list_items(session, ItemFilter(benchmark_ids=mini, image_missing=True))
        run_id = session.scalar(select(Run.id).where(Run.name == "notes-run"))
        wrong = list_items(session, ItemFilter(benchmark_ids=mini, run_id=run_id, run_outcome="wrong"))
        text = list_items(session, ItemFilter(text="BraTS2021_01648"))
        assert count_items(session, ItemFilter(benchmark_ids=mini)) == 4
        assert count_items(session, ItemFilter()) == 4 + 13
        assert [row.item_id for row in
                list_items(session, ItemFilter(benchmark_ids=mini), offset=1, limit=2)] == [3, 4]
        assert next_item_pk(session, ItemFilter(benchmark_ids=mini), every[1].item_pk) == every[2].item_pk
        assert next_item_pk(session, ItemFilter(benchmark_ids=mini, image_missing=True),
                            every[0].item_pk) == missing[0].item_pk
    assert [row.item_id for row in every] == [1, 3, 4, 9]
    assert {row.item_id for row in missing} == {4, 9}
    assert {row.item_id for row in every if row.slice_id is not None} == set(PRESENT_ITEMS)
    assert {row.item_id for row in wrong} == {1, 3, 4, 9}  # every item has an odd-index question
    assert [row.item_id for row in text] == [3]


def test_review_queue_marks_reviewed(bench_db):
    slice_id = _slice_of_item(bench_db, 1)
    with bench_db.session() as session:
        questions = questions_for_slice(session, slice_id)
        items = review_items(session, questions, slice_id, "ana")
    answers = sum(len(question.answers) for question in questions)
    assert len(items) == answers + 1
    assert items[-1].target == ReviewTarget("slice", slice_id)
    assert next_unreviewed(items) == 0

    with bench_db.session(write=True) as session:
        record_review(session, items[0].target, "ana", "agree")
        record_review(session, items[1].target, "ben", "flag")
    with bench_db.session() as session:
        items = review_items(session, questions, slice_id, "ana")
    assert items[0].verdict == "agree"
    assert items[1].verdict is None
    assert next_unreviewed(items) == 1
    assert next_unreviewed(items, after=len(items) - 1) is None


def test_run_overview_has_agreement(bench_db):
    with bench_db.session(write=True) as session:
        run_id = session.scalar(select(Run.id).where(Run.name == "notes-run"))
        answer_ids = list(session.scalars(select(Answer.id).join(Question).where(
            Answer.run_id == run_id, Question.kind == "closed").order_by(Answer.id)))
        record_review(session, ReviewTarget("answer", answer_ids[0]), "ana", "agree")
        record_review(session, ReviewTarget("answer", answer_ids[1]), "ana", "disagree")
    overview = {row.name: row for row in run_overview(bench_db, BENCHMARK)}
    assert set(overview) == {"random", "notes-run"}
    assert overview["notes-run"].reviewed == 2
    assert overview["notes-run"].agreement == pytest.approx(0.5)
    assert overview["random"].agreement is None
    assert 0 < overview["notes-run"].accuracy < 1


def test_relocate_dataset_rebases_paths(bench_db, tmp_path):
    with bench_db.session() as session:
        dataset = session.scalar(select(Dataset).where(Dataset.name == f"{BENCHMARK} images"))
        old_root, dataset_id = dataset.data_root, dataset.id
    new_root = tmp_path / "moved"
    shutil.copytree(old_root, new_root)

    result = relocate_dataset(bench_db, dataset_id, new_root)

    assert result.found >= len(PRESENT_ITEMS)
    assert result.missing == 0
    with bench_db.session() as session:
        case_id = session.scalar(select(Case.id).where(Case.dataset_id == dataset_id))
        files = case_files(session, case_id)
    assert all(entry.source_path.startswith(str(new_root)) for entry in files.series)
    assert load_series(files.series[0]).data.ndim == 2


def test_relocate_rejects_folder_without_files(bench_db, tmp_path):
    with bench_db.session() as session:
        dataset_id = session.scalar(select(Dataset.id).where(Dataset.name == f"{BENCHMARK} images"))
    with pytest.raises(InvalidInputError, match="none of the .* files"):
        relocate_dataset(bench_db, dataset_id, tmp_path)
