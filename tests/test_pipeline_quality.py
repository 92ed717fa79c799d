"""AIR on hand-made labels, and precision and omission against clinician reviews."""

from __future__ import annotations

import pytest

from db.models import Case, Dataset, PipelineRun, Review, Series, SilverLabel, Slice
from engine.pipeline.air import average_information_rate
from engine.pipeline.quality import classify, review_quality
from engine.pipeline.vocabulary import SIGNS, empty_fields
from engine.review import ReviewTarget, record_review, undo_review


def label(lesion=True, **signs):
    return dict(empty_fields(), lesion_found=lesion, **signs)


def test_air_over_lesion_positive_labels():
    labels = [
        label(shape="Round", margins="Ill-defined", texture="Homogeneous", enhancement="Ring",
              oedema="Present", signal_intensity="Mixed"),                  # 6 of 6 filled
        label(shape="Oval", margins="Ill-defined", texture="Homogeneous"),  # 3 of 6
        label(),                                                            # 0 of 6
        label(lesion=False, shape="Round"),  # not lesion-positive: ignored
        label(lesion=None, shape="Round"),   # no decision: ignored
        None,
    ]
    result = average_information_rate(labels)
    assert result["positive"] == 3
    assert result["fill_rates"]["shape"] == pytest.approx(200 / 3)
    assert result["fill_rates"]["enhancement"] == pytest.approx(100 / 3)
    # (2 + 2 + 2 + 1 + 1 + 1) filled of 6 x 3 = 9 / 18
    assert result["air"] == pytest.approx(50.0)


def test_air_is_undefined_without_positive_labels():
    result = average_information_rate([label(lesion=False), None])
    assert result["air"] is None
    assert result["positive"] == 0
    assert set(result["fill_rates"]) == set(SIGNS)


def test_air_full_and_empty():
    full = label(**{sign: "x" for sign in SIGNS})
    assert average_information_rate([full, full])["air"] == 100.0
    assert average_information_rate([label()])["air"] == 0.0


@pytest.mark.parametrize("value, verdict, corrected, outcome", [
    ("Round", "agree", None, "correct"),
    ("Round", "disagree", "Oval", "wrong_corrected"),
    ("Round", "disagree", None, "wrong"),
    (None, "disagree", "Ill-defined", "omission"),
    (None, "agree", None, "abstention"),
    (None, "disagree", None, "abstention"),
])
def test_review_classification(value, verdict, corrected, outcome):
    assert classify(value, verdict, corrected) == outcome


@pytest.fixture
def reviewed(db):
    """A run with one audited label and reviews by two clinicians."""
    with db.session(write=True) as session:
        dataset = Dataset(name="reviews", kind="mixed")
        case = Case(dataset=dataset, pseudonym="c1", tumour_type="glioma")
        series = Series(case=case, modality="T1CE", kind="image2d", file_format="png",
                        shape=[8, 8], voxel_spacing=[1, 1], source_path="/x.png",
                        content_sha256="0" * 64)
        slice_row = Slice(series=series, index=0)
        session.add_all([dataset, slice_row])
        session.flush()
        run = PipelineRun(name="run", dataset_id=dataset.id)
        session.add(run)
        session.flush()
        silver = SilverLabel(pipeline_run_id=run.id, slice_id=slice_row.id, stage="audited",
                             status="accepted",
                             fields=label(shape="Round", margins="Ill-defined",
                                          enhancement="Ring"))
        session.add(silver)
        session.flush()
        ana = lambda field: ReviewTarget("silver_label", silver.id, field)  # noqa: E731
        record_review(session, ana("shape"), "ana", "agree")
        record_review(session, ana("margins"), "ana", "disagree",
                      corrected_label="Well-circumscribed")
        record_review(session, ana("enhancement"), "ana", "disagree")
        record_review(session, ana("texture"), "ana", "disagree", corrected_label="Heterogeneous")
        record_review(session, ana("oedema"), "ana", "agree")
        record_review(session, ana("shape"), "ben", "agree")
        withdrawn = record_review(session, ana("texture"), "ben", "disagree",
                                  corrected_label="Homogeneous")
        undo_review(session, withdrawn.id)
        record_review(session, ana("signal_intensity"), "ben", "flag")
        # An older version superseded by a newer one: only the newer counts.
        record_review(session, ana("enhancement"), "ben", "disagree")
        record_review(session, ana("enhancement"), "ben", "agree")
        return run.id


def test_precision_and_omission_from_reviews(db, reviewed):
    with db.session() as session:
        quality = review_quality(session, reviewed)
    overall = quality["audited"]["all"]
    # Filled and reviewed: shape agree x2, margins disagree (corrected), enhancement
    # disagree (ana) and agree (ben): 3 correct, 2 wrong.
    assert overall["correct"] == 3
    assert overall["wrong"] + overall["wrong_corrected"] == 2
    assert overall["precision"] == pytest.approx(60.0)
    # Findings by reviewer value: 3 correct + 1 corrected + 1 omission (texture by ana).
    assert overall["omission"] == 1
    assert overall["omission_rate"] == pytest.approx(20.0)
    assert overall["abstention"] == 1  # oedema agreed empty; withdrawn and flag not counted
    assert overall["reviewed"] == 7
    assert quality["audited"]["shape"]["precision"] == 100.0
    assert quality["audited"]["texture"]["omission_rate"] == 100.0


def test_quality_without_reviews(db, reviewed):
    with db.session(write=True) as session:
        session.query(Review).delete()
    with db.session() as session:
        assert review_quality(session, reviewed) == {}
