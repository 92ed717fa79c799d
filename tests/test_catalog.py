"""Browser listing and filters over a small hand-built catalogue."""

from __future__ import annotations

import pytest

from db.models import (Answer, Benchmark, BenchmarkItem, Case, Dataset, Question, Review, Run,
                       Semantics, Series, Slice, Mask)
from engine.catalog import SliceFilter, count_slices, distinct_values, list_slice_ids, list_slices


@pytest.fixture
def catalogue(db):
    """Two datasets: a 3-slice T1 volume with a mask, and two 2D FLAIR/T2 images."""
    with db.session(write=True) as session:
        volumes = Dataset(name="volumes", kind="nifti")
        images = Dataset(name="images", kind="mm-neuroonco-2d")
        glioma = Case(dataset=volumes, pseudonym="case-a", tumour_type="glioma")
        meningioma = Case(dataset=images, pseudonym="menin_10_420", tumour_type="meningioma")
        healthy = Case(dataset=images, pseudonym="healthy_05_7", tumour_type="healthy")
        t1 = Series(case=glioma, modality="T1", kind="volume", file_format="nifti", shape=[4, 4, 3],
                    voxel_spacing=[1, 1, 1], source_path="/a.nii", content_sha256="1" * 64)
        flair = Series(case=meningioma, modality="FLAIR", kind="image2d", file_format="png",
                       shape=[4, 4], voxel_spacing=[1, 1], source_path="/m.png",
                       content_sha256="2" * 64)
        t2 = Series(case=healthy, modality="T2", kind="image2d", file_format="jpeg",
                    shape=[4, 4], voxel_spacing=[1, 1], source_path="/h.jpg",
                    content_sha256="3" * 64)
        volume_slices = [Slice(series=t1, index=k, has_mask=True) for k in range(3)]
        flair_slice = Slice(series=flair, index=0, image_path="meningioma/10_t1_t2_mask/420.png",
                            has_mask=True, coarse_description="A FLAIR brain MRI scan showing signs of Meningioma.")
        t2_slice = Slice(series=t2, index=0, image_path="healthy/05_t1/7.jpg")
        mask = Mask(case=glioma, kind="label-map", file_format="nifti", source_path="/s.nii",
                    content_sha256="4" * 64, shape=[4, 4, 3])
        session.add_all([volumes, images, mask, flair_slice, t2_slice, *volume_slices])
        session.flush()
        flair_mask = Mask(case=meningioma, kind="binary-image", file_format="png",
                          source_path="/mm.png", content_sha256="5" * 64, shape=[4, 4])
        session.add(flair_mask)
        session.flush()
        session.add_all([
            Semantics(slice_id=volume_slices[1].id, mask_id=mask.id, region="WT", size="Medium",
                      shape="Lobulated", spread="Solitary Lesion", location="Center of the Image"),
            Semantics(slice_id=volume_slices[1].id, mask_id=mask.id, region="ET", size="Small/Focal"),
            Semantics(slice_id=volume_slices[0].id, mask_id=mask.id, region="WT", is_empty=True),
            Semantics(slice_id=flair_slice.id, mask_id=flair_mask.id, region="whole",
                      size="Small/Focal", shape="Round/Oval", spread="Solitary Lesion",
                      location="Upper-Left Region"),
        ])
        benchmark = Benchmark(name="bench")
        item = BenchmarkItem(benchmark=benchmark, item_id=1, image_path=flair_slice.image_path,
                             slice_id=flair_slice.id, image_missing=False)
        item2 = BenchmarkItem(benchmark=benchmark, item_id=2, image_path=t2_slice.image_path,
                              slice_id=t2_slice.id, image_missing=False)
        q1 = Question(item=item, kind="closed", q_index=0, question_type="diagnosis", stem="?",
                      options={"A": "meningioma", "B": "glioma"}, gold_letter="A")
        q2 = Question(item=item2, kind="closed", q_index=0, question_type="diagnosis", stem="?",
                      options={"A": "Healthy", "B": "Abnormal"}, gold_letter="A")
        session.add_all([benchmark, q1, q2])
        session.flush()
        run = Run(name="run", benchmark_id=benchmark.id, model_name="m")
        session.add(run)
        session.flush()
        session.add_all([Answer(run_id=run.id, question_id=q1.id, parsed_letter="A", is_correct=True),
                         Answer(run_id=run.id, question_id=q2.id, parsed_letter="B", is_correct=False)])
        session.add_all([
            Review(target="slice", slice_id=volume_slices[1].id, reviewer="ana", verdict="agree"),
            Review(target="slice", slice_id=flair_slice.id, reviewer="ben", verdict="flag"),
            Review(target="slice", slice_id=flair_slice.id, reviewer="ben", verdict="disagree"),
            Review(target="slice", slice_id=t2_slice.id, reviewer="ana", verdict="agree"),
            Review(target="slice", slice_id=t2_slice.id, reviewer="ana", verdict="withdrawn"),
        ])
        return {"run": run.id, "benchmark": benchmark.id, "flair": flair_slice.id,
                "t2": t2_slice.id, "volume": [s.id for s in volume_slices],
                "volumes": volumes.id}


def _ids(db, **filters):
    with db.session() as session:
        return set(list_slice_ids(session, SliceFilter(**filters)))


def test_no_filter_lists_everything_in_order(db, catalogue):
    with db.session() as session:
        rows = list_slices(session, SliceFilter())
        assert count_slices(session, SliceFilter()) == 5
    # Import order of the series (the volume was added first), then slice index.
    assert [row.dataset for row in rows] == ["volumes", "volumes", "volumes", "images", "images"]
    assert [row.slice_index for row in rows[:3]] == [0, 1, 2]
    assert [row.case for row in rows[3:]] == ["menin_10_420", "healthy_05_7"]


def test_paging(db, catalogue):
    with db.session() as session:
        page = list_slices(session, SliceFilter(), offset=1, limit=2)
    assert len(page) == 2
    assert [row.slice_index for row in page] == [1, 2]


def test_filters_by_metadata(db, catalogue):
    assert _ids(db, tumour_types=["meningioma"]) == {catalogue["flair"]}
    assert _ids(db, modalities=["T1"]) == set(catalogue["volume"])
    assert _ids(db, has_mask=False) == {catalogue["t2"]}
    assert _ids(db, dataset_ids=[catalogue["volumes"]]) == set(catalogue["volume"])


def test_filters_by_semantics(db, catalogue):
    assert _ids(db, sizes=["Medium"]) == {catalogue["volume"][1]}
    # Region ET says Small/Focal on that slice, but only whole-lesion regions count.
    assert _ids(db, sizes=["Small/Focal"]) == {catalogue["flair"]}
    assert _ids(db, locations=["Upper-Left Region"]) == {catalogue["flair"]}
    assert _ids(db, has_lesion=True) == {catalogue["volume"][1], catalogue["flair"]}


def test_filters_by_review_state(db, catalogue):
    assert _ids(db, review_state="agree") == {catalogue["volume"][1]}
    # The newest version counts: flag then disagree is "disagree".
    assert _ids(db, review_state="disagree") == {catalogue["flair"]}
    assert _ids(db, review_state="flag") == set()
    # Withdrawn (undone) reviews leave the slice unreviewed.
    assert catalogue["t2"] in _ids(db, review_state="unreviewed")
    assert _ids(db, review_state="reviewed", reviewer="ben") == {catalogue["flair"]}


def test_filters_by_benchmark_and_run(db, catalogue):
    both = {catalogue["flair"], catalogue["t2"]}
    assert _ids(db, benchmark_id=catalogue["benchmark"]) == both
    assert _ids(db, run_id=catalogue["run"], run_outcome="right") == {catalogue["flair"]}
    assert _ids(db, run_id=catalogue["run"], run_outcome="wrong") == {catalogue["t2"]}


def test_free_text_search(db, catalogue):
    assert _ids(db, text="420.png") == {catalogue["flair"]}
    assert _ids(db, text="MENINGIOMA") == {catalogue["flair"]}
    assert _ids(db, text="no such thing") == set()


def test_distinct_values(db, catalogue):
    with db.session() as session:
        values = distinct_values(session)
    assert values["modalities"] == ["FLAIR", "T1", "T2"]
    assert values["sizes"] == ["Medium", "Small/Focal"]
    assert values["reviewers"] == ["ana", "ben"]
