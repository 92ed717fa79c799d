"""The semantics oracle on a small benchmark whose items link to slices with semantics
computed from real masks. The masks are the demo study's BraTS-style label map (regions WT,
TC, ET) and one region of the AAL atlas as a 2D mask (region "whole")."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from sqlalchemy import select

from benchmark_files import write_json
from db.models import BenchmarkItem, Case, Dataset, Mask, Semantics, Series, Slice
from engine.bench.baselines import SEMANTICS_ORACLE
from engine.bench.importer import import_benchmark
from engine.bench.run_metrics import run_metrics
from engine.bench.session import run_session
from engine.semantics.rules import (LOCATION_LABELS, SHAPE_LABELS, SIZE_LABELS, SPREAD_LABELS,
                                    mask_semantics)
from engine.semantics.volume import display_slice_foreground, slice_semantics
from session_helpers import new_run, question_keys, stored_answers

DEMO_DIR = Path(__file__).resolve().parents[1] / "resources" / "demo"
DEMO_SEG = DEMO_DIR / "synthetic_lesion_seg.nii.gz"
NOTA = "None of the above"
# Axial slices of the demo label map: a large lesion (TC smaller than WT), the lesion's
# scattered lower edge, its upper-centre edge, and a slice without lesion.
DEMO_SLICES = {1: 93, 2: 75, 3: 110, 4: 50}
AAL_LABEL, AAL_SLICE, AAL_ITEM = 37, 60, 5
UNLINKED_ITEM = 6
LABELS = {"size": SIZE_LABELS, "shape": SHAPE_LABELS, "spread": SPREAD_LABELS,
          "location": LOCATION_LABELS}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _row(slice_id: int, mask_id: int, region: str, semantics) -> Semantics:  # noqa: ANN001
    if semantics is None:
        return Semantics(slice_id=slice_id, mask_id=mask_id, region=region, is_empty=True)
    x, y = semantics.centroid
    return Semantics(
        slice_id=slice_id, mask_id=mask_id, region=region, size=semantics.size,
        shape=semantics.shape, spread=semantics.spread, location=semantics.location,
        area_px=semantics.area_px, area_ratio=semantics.area_ratio,
        circularity=semantics.circularity, elongation=semantics.elongation,
        components=semantics.components, dominant_fraction=semantics.dominant_fraction,
        centroid_x=x, centroid_y=y)


def _store_masks(db, mricron: Path) -> tuple[dict[int, int], dict[int, dict[str, str] | None]]:
    """Store both masks' semantics; return the slice id and the expected labels per item."""
    seg = nib.load(DEMO_SEG)
    demo = slice_semantics(np.asarray(seg.dataobj).astype(np.int16), seg.affine)
    aal_path = mricron / "aal.nii.gz"
    aal = nib.load(aal_path)
    region = (np.asarray(aal.dataobj) == AAL_LABEL).astype(np.uint8)
    aal_semantics = mask_semantics(display_slice_foreground(region, aal.affine, AAL_SLICE))

    with db.session(write=True) as session:
        demo_case = Case(dataset=Dataset(name="demo", kind="nifti", is_synthetic=True),
                         pseudonym="demo-01", tumour_type="glioma")
        volume = Series(case=demo_case, modality="T1", kind="volume", file_format="nifti",
                        shape=list(seg.shape), voxel_spacing=[1, 1, 1],
                        source_path=str(DEMO_SEG), content_sha256=_sha256(DEMO_SEG))
        label_map = Mask(case=demo_case, kind="label-map", file_format="nifti",
                         source_path=str(DEMO_SEG), content_sha256=_sha256(DEMO_SEG),
                         shape=list(seg.shape), is_synthetic=True)
        atlas_case = Case(dataset=Dataset(name="atlas", kind="nifti"), pseudonym="aal")
        atlas = Series(case=atlas_case, modality="T1", kind="volume", file_format="nifti",
                       shape=list(aal.shape), voxel_spacing=[1, 1, 1],
                       source_path=str(aal_path), content_sha256=_sha256(aal_path))
        # Two masks on the atlas slice: the one without lesion there must not win.
        atlas_masks = [Mask(case=atlas_case, kind="binary-image", file_format="nifti",
                            source_path=str(aal_path), content_sha256=f"{index}" * 64,
                            shape=list(aal.shape)) for index in range(2)]
        slices = {item: Slice(series=volume, index=index, has_mask=True)
                  for item, index in DEMO_SLICES.items()}
        slices[AAL_ITEM] = Slice(series=atlas, index=AAL_SLICE, has_mask=True)
        session.add_all([label_map, *atlas_masks, *slices.values()])
        session.flush()

        for item, index in DEMO_SLICES.items():
            for name, per_slice in demo.items():
                session.add(_row(slices[item].id, label_map.id, name, per_slice[index]))
        session.add(_row(slices[AAL_ITEM].id, atlas_masks[0].id, "whole", None))
        session.add(_row(slices[AAL_ITEM].id, atlas_masks[1].id, "whole", aal_semantics))
        slice_ids = {item: row.id for item, row in slices.items()}

    expected = {item: (demo["WT"][index].labels() if demo["WT"][index] else None)
                for item, index in DEMO_SLICES.items()}
    expected[AAL_ITEM] = aal_semantics.labels()
    expected[UNLINKED_ITEM] = None
    return slice_ids, expected


def _options(question_type: str, label: str | None, drop_label: bool) -> dict[str, str]:
    """Four options spelled as the benchmark does (sentence case): the label unless dropped,
    then other labels of the type, then the rejection option."""
    others = [text for text in LABELS[question_type] if text != label]
    texts = ([] if drop_label or label is None else [label]) + others
    texts = [text.capitalize() for text in texts[:4]]
    while len(texts) < 4:
        texts.append(f"Not described ({len(texts)})")
    texts = texts[1:] + texts[:1]  # the correct option is not always A
    return {**dict(zip("ABCD", texts)), "E": NOTA}


def _benchmark_file(path: Path, expected) -> Path:  # noqa: ANN001
    items = []
    for item_id, labels in expected.items():
        pairs = [{"question_type": "diagnosis", "question": "What is the diagnosis?",
                  "options": {"A": "glioma", "B": "meningioma", "C": "pituitary",
                              "D": "schwannoma", "E": NOTA}, "answer": "A"}]
        for question_type in LABELS:
            label = labels[question_type] if labels else LABELS[question_type][0]
            # The small lesion's size question is a trap: its correct option was removed.
            trap = item_id == 2 and question_type == "size"
            options = _options(question_type, label, drop_label=trap)
            pair = {"question_type": question_type, "question": f"What is the {question_type}?",
                    "options": options}
            if trap:
                pair.update(answer="E", meta_trap=True, meta_original_answer=label)
            else:
                pair["answer"] = next(letter for letter, text in options.items()
                                      if text == label.capitalize())
            pairs.append(pair)
        items.append({"id": item_id, "image_path": f"glioma/99_t1_mask/{item_id}.png",
                      "vqa_pairs": pairs})
    return write_json(path, items)


@pytest.fixture
def oracle_run(db, mricron, tmp_path):
    slice_ids, expected = _store_masks(db, mricron)
    import_benchmark(db, _benchmark_file(tmp_path / "small.json", expected), name="small")
    with db.session(write=True) as session:
        for item in session.scalars(select(BenchmarkItem)):
            item.slice_id = slice_ids.get(item.item_id)
    run_id = new_run(db, SEMANTICS_ORACLE, benchmark="small")
    run_session(db, run_id)
    return run_id, expected


def test_oracle_answers_from_stored_semantics(db, oracle_run):
    run_id, expected = oracle_run
    keys = question_keys(db)
    answers = {keys[question_id]: answer for question_id, answer
               in stored_answers(db, run_id).items()}
    informed = {item for item, labels in expected.items() if labels}

    assert informed == {1, 2, 3, AAL_ITEM}
    for (item_id, q_index, _), answer in answers.items():
        if q_index == 0:
            assert answer["parse_rule"] == "abstain-question-type", (item_id, q_index)
        elif item_id in informed:
            assert answer["is_correct"], (item_id, q_index, answer)
        else:
            assert answer["parse_rule"] == "abstain-no-semantics", (item_id, q_index)
    # The removed "Small/Focal" option makes the trap's answer E.
    assert answers[(2, 1, "closed")]["parsed_letter"] == "E"
    assert answers[(2, 1, "closed")]["parse_rule"] == "oracle-rejection"

    closed = run_metrics(db, run_id)["closed"]
    assert closed["overall"]["correct"] == 4 * len(informed)
    assert closed["trap"] == {**closed["trap"], "total": 1, "correct": 1}
    assert closed["outcomes"]["unparsed"] == 6 + 4 * (len(expected) - len(informed))


def test_oracle_reads_whole_tumour_region(db, oracle_run):
    run_id, _ = oracle_run
    keys = question_keys(db)
    used = {}
    for question_id, answer in stored_answers(db, run_id).items():
        item_id = keys[question_id][0]
        used.setdefault(item_id, set()).add(
            None if answer["provenance"]["semantics"] is None
            else (answer["provenance"]["semantics"]["region"],
                  answer["provenance"]["semantics"]["is_empty"]))

    assert used[1] == used[2] == used[3] == {("WT", False)}
    assert used[4] == {("WT", True)}
    assert used[AAL_ITEM] == {("whole", False)}
    assert used[UNLINKED_ITEM] == {None}
    # The first demo item's tumour core is smaller than its whole tumour, so reading TC
    # would have answered its size question wrongly.
    with db.session() as session:
        sizes = Counter(row.region for row in session.scalars(
            select(Semantics).where(Semantics.size == "Large/Extensive")))
    assert sizes == {"WT": 1}
