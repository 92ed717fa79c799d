"""Reading and validating MM-NeuroOnco benchmark JSON, without a database."""

from __future__ import annotations

import os
from collections import Counter

import pytest

from benchmark_files import (CLOSED_NAME, OPEN_NAME, closed_items, first_trap, open_items,
                             write_json)
from engine.errors import InvalidInputError
from engine.io.benchmark import (duplicate_option_letters, invalid_items_message,
                                 original_answer_letter, parse_closed, parse_open)
from engine.io.benchmark_paths import (OutsideRootError, image_path_problem, resolve_in_root,
                                       tumour_class_and_source)

SMALL_IDS = [1, 3, 4, 9, 109]


def _problem(tmp_path, items):
    """Return the only invalid item's problem of a closed file made of ``items``."""
    parsed = parse_closed(write_json(tmp_path / "closed.json", items))
    assert len(parsed.invalid) == 1, parsed.invalid
    return parsed.invalid[0].problem


# --------------------------------------------------------------------------- real files


def test_real_closed_file_counts(shared_data):
    parsed = parse_closed(shared_data / CLOSED_NAME)
    questions = [question for entry in parsed.entries for question in entry.questions]

    assert parsed.invalid == []
    assert len(parsed.entries) == 1000
    assert len(questions) == 3190
    assert Counter(q.question_type for q in questions) == {
        "diagnosis": 1000, "modality": 962, "size": 307, "shape": 307, "spread": 307,
        "location": 307}
    assert sum(q.is_trap for q in questions) == 606
    assert Counter(len(q.options) for q in questions) == {5: 3074, 2: 116}
    assert Counter(q.gold_letter for q in questions) == {
        "A": 714, "B": 652, "C": 602, "D": 616, "E": 606}


def test_real_closed_duplicate_options(shared_data):
    parsed = parse_closed(shared_data / CLOSED_NAME)
    duplicates = [(entry.item_id, q) for entry in parsed.entries for q in entry.questions
                  if q.duplicate_options]

    assert len(duplicates) == 18
    assert Counter(q.question_type for _, q in duplicates) == {
        "diagnosis": 14, "modality": 2, "shape": 1, "spread": 1}
    assert not any(q.gold_letter in q.duplicate_options for _, q in duplicates)
    schwannoma = [q for _, q in duplicates if "schwannoma" in q.options.values()]
    assert schwannoma, "the schwannoma / Schwannoma question is not reported"
    assert {schwannoma[0].options[letter] for letter in schwannoma[0].duplicate_options} == {
        "schwannoma", "Schwannoma"}


def test_real_traps_offering_original(shared_data):
    parsed = parse_closed(shared_data / CLOSED_NAME)
    offered = [(entry.item_id, original_answer_letter(q)) for entry in parsed.entries
               for q in entry.questions if original_answer_letter(q)]

    # Exact repeats are invalid; these three differ only in case ("Metastasis").
    assert [item_id for item_id, _ in offered] == [223, 511, 832]


def test_real_open_file_counts(shared_data):
    closed = parse_closed(shared_data / CLOSED_NAME)
    parsed = parse_open(shared_data / OPEN_NAME, closed)
    questions = [question for entry in parsed.entries for question in entry.questions]

    assert parsed.invalid == []
    assert len(parsed.entries) == 243
    assert len(questions) == 1215
    assert Counter(q.question_type for q in questions) == {
        "Detail": 729, "Location": 243, "Reasoning": 243}
    assert all(q.question_id == f"{entry.item_id}_q{q.q_index + 1}"
               for entry in parsed.entries for q in entry.questions)


def test_source_record_hash(shared_data):
    import hashlib

    parsed = parse_closed(shared_data / CLOSED_NAME)
    record = parsed.source_record()
    expected = hashlib.sha256((shared_data / CLOSED_NAME).read_bytes()).hexdigest()
    assert record["sha256"] == expected
    assert record["role"] == "closed"
    assert record["skipped_items"] == []


# --------------------------------------------------------------------------- files


def test_invalid_json_rejected(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('[{"id": 1,', encoding="utf-8")
    with pytest.raises(InvalidInputError, match=r"is not valid JSON \(line 1 column 11"):
        parse_closed(path)


def test_object_instead_of_list_rejected(tmp_path):
    path = write_json(tmp_path / "object.json", {"items": []})
    with pytest.raises(InvalidInputError, match="must contain a JSON list of items but contains "
                                                "an object"):
        parse_closed(path)


def test_empty_list_rejected(tmp_path):
    with pytest.raises(InvalidInputError, match="contains no items"):
        parse_closed(write_json(tmp_path / "empty.json", []))


def test_missing_file_rejected(tmp_path):
    with pytest.raises(InvalidInputError, match="not found; check the path"):
        parse_closed(tmp_path / "nope.json")


# --------------------------------------------------------------------------- closed items


def test_small_file_parses(shared_data, tmp_path):
    items = closed_items(shared_data, SMALL_IDS)
    parsed = parse_closed(write_json(tmp_path / "closed.json", items))

    assert [entry.item_id for entry in parsed.entries] == SMALL_IDS
    first = parsed.entries[0].questions[0]
    assert first.options == items[0]["vqa_pairs"][0]["options"]
    assert list(first.options) == list(items[0]["vqa_pairs"][0]["options"])
    trap = next(q for q in parsed.entries[1].questions if q.is_trap)
    assert trap.gold_letter == "E"
    assert trap.original_answer == first_trap(items[1])["meta_original_answer"]


def test_gold_letter_outside_options(shared_data, tmp_path):
    items = closed_items(shared_data, [1])
    items[0]["vqa_pairs"][1]["answer"] = "F"
    assert _problem(tmp_path, items) == ("vqa_pairs[1]: gold letter 'F' is not among the "
                                         "options A-E")


def test_option_keys_must_be_consecutive(shared_data, tmp_path):
    items = closed_items(shared_data, [1])
    options = items[0]["vqa_pairs"][0]["options"]
    options["F"] = options.pop("D")
    assert "option keys ABCEF are not consecutive letters from A" in _problem(tmp_path, items)


def test_option_e_must_be_last(shared_data, tmp_path):
    items = closed_items(shared_data, [1])
    pair = items[0]["vqa_pairs"][0]
    pair["options"] = {letter: pair["options"][letter] for letter in "ABCED"}
    assert "option keys ABCED are not consecutive letters from A" in _problem(tmp_path, items)


def test_option_e_must_be_none_of_the_above(shared_data, tmp_path):
    items = closed_items(shared_data, [1])
    items[0]["vqa_pairs"][0]["options"]["E"] = "lymphoma"
    assert _problem(tmp_path, items) == ("vqa_pairs[0]: option E reads 'lymphoma'; it must "
                                         "read 'None of the above'")


def test_single_option_rejected(shared_data, tmp_path):
    items = closed_items(shared_data, [4])
    pair = items[0]["vqa_pairs"][1]
    pair["options"] = {"A": pair["options"]["A"]}
    pair["answer"] = "A"
    assert "option keys A are not consecutive letters from A" in _problem(tmp_path, items)


def test_trap_without_original_answer(shared_data, tmp_path):
    items = closed_items(shared_data, [3])
    del first_trap(items[0])["meta_original_answer"]
    assert _problem(tmp_path, items) == (
        "vqa_pairs[1]: trap question has no meta_original_answer (the text of the removed "
        "correct option)")


def test_trap_gold_must_be_e(shared_data, tmp_path):
    items = closed_items(shared_data, [3])
    first_trap(items[0])["answer"] = "A"
    assert "trap question has gold letter 'A'" in _problem(tmp_path, items)


def test_trap_original_answer_still_offered(shared_data, tmp_path):
    items = closed_items(shared_data, [3])
    trap = first_trap(items[0])
    trap["meta_original_answer"] = trap["options"]["B"]
    assert "trap question still offers its original answer" in _problem(tmp_path, items)


def test_original_answer_without_trap(shared_data, tmp_path):
    items = closed_items(shared_data, [1])
    items[0]["vqa_pairs"][0]["meta_original_answer"] = "glioma"
    assert _problem(tmp_path, items) == ("vqa_pairs[0]: meta_original_answer is given without "
                                         "meta_trap: true")


def test_meta_trap_false_rejected(shared_data, tmp_path):
    items = closed_items(shared_data, [3])
    first_trap(items[0])["meta_trap"] = False
    assert "meta_trap is False; it must be true or absent" in _problem(tmp_path, items)


@pytest.mark.parametrize("change, problem", [
    (lambda item: item.pop("vqa_pairs"), "missing field 'vqa_pairs'"),
    (lambda item: item.update(extra=1), "unknown field 'extra'"),
    (lambda item: item.update(vqa_pairs=[]), "vqa_pairs must be a non-empty list"),
    (lambda item: item["vqa_pairs"][0].update(question=""),
     "vqa_pairs[0]: question must be a non-empty string"),
    (lambda item: item["vqa_pairs"][0].update(options=["glioma"]),
     "vqa_pairs[0]: options is a list, not an object of letters"),
    (lambda item: item.update(image_path=7), "image_path must be a non-empty string"),
])
def test_schema_problems(shared_data, tmp_path, change, problem):
    items = closed_items(shared_data, [1])
    change(items[0])
    assert _problem(tmp_path, items) == problem


def test_item_without_valid_id_labelled_by_index(shared_data, tmp_path):
    items = closed_items(shared_data, [1, 3])
    items[1]["id"] = "3"
    parsed = parse_closed(write_json(tmp_path / "closed.json", items))
    assert [bad.label for bad in parsed.invalid] == ["index 1"]
    assert parsed.invalid[0].problem == "id '3' is not an integer from 0 to 2147483647"


def test_duplicate_ids_make_all_invalid(shared_data, tmp_path):
    items = closed_items(shared_data, [1, 3, 4])
    items[2]["id"] = 1
    parsed = parse_closed(write_json(tmp_path / "closed.json", items))
    assert [entry.item_id for entry in parsed.entries] == [3]
    assert [bad.label for bad in parsed.invalid] == ["1", "1"]
    assert parsed.invalid[0].problem == "id 1 is used by 2 items; ids must be unique"


def test_invalid_items_message_lists_ids(shared_data, tmp_path):
    items = closed_items(shared_data, [1, 3, 4, 9, 10, 14, 15, 109])
    for item in items[:7]:
        item["vqa_pairs"][0]["answer"] = "Z"
    path = write_json(tmp_path / "closed.json", items)
    message = invalid_items_message([parse_closed(path)])
    assert message == (
        f"closed benchmark file '{path}' has 7 invalid items (1, 3, 4, 9, 10 and 2 more); "
        "item 1: vqa_pairs[0]: gold letter 'Z' is not among the options A-E; fix the file or "
        "pass --skip-invalid to import the valid items only")


# --------------------------------------------------------------------------- duplicates


def test_duplicate_option_letters():
    options = {"A": "T2_weighted", "B": "DWI", "C": "t2 Weighted", "D": "Irregular/spiculated",
               "E": "Irregular spiculated"}
    assert duplicate_option_letters(options) == ("A", "C", "D", "E")
    assert duplicate_option_letters({"A": "T1", "B": "T1CE"}) == ()


# --------------------------------------------------------------------------- open items


def test_open_item_must_match_closed_path(shared_data, tmp_path):
    closed = parse_closed(write_json(tmp_path / "closed.json", closed_items(shared_data, [3, 9])))
    opened = open_items(shared_data, [3, 9])
    opened[1]["image_path"] = opened[0]["image_path"]
    parsed = parse_open(write_json(tmp_path / "open.json", opened), closed)
    assert [entry.item_id for entry in parsed.entries] == [3]
    assert parsed.invalid[0].label == "9"
    assert "differs from the closed item's" in parsed.invalid[0].problem


def test_open_item_without_closed_item(shared_data, tmp_path):
    closed = parse_closed(write_json(tmp_path / "closed.json", closed_items(shared_data, [3])))
    parsed = parse_open(write_json(tmp_path / "open.json", open_items(shared_data, [3, 9])),
                        closed)
    assert parsed.invalid[0].problem == "no closed item has id 9"


def test_open_item_of_invalid_closed_item(shared_data, tmp_path):
    items = closed_items(shared_data, [3, 9])
    items[1]["vqa_pairs"][0]["answer"] = "Z"
    closed = parse_closed(write_json(tmp_path / "closed.json", items))
    parsed = parse_open(write_json(tmp_path / "open.json", open_items(shared_data, [3, 9])),
                        closed)
    assert parsed.invalid[0].problem == "closed item 9 is invalid"


def test_open_question_id_checked(shared_data, tmp_path):
    opened = open_items(shared_data, [3])
    opened[0]["qa_pairs"][2]["question_id"] = "9_q3"
    parsed = parse_open(write_json(tmp_path / "open.json", opened))
    assert parsed.invalid[0].problem == "qa_pairs[2]: question_id '9_q3' does not read '3_q<number>'"


def test_open_question_id_unique(shared_data, tmp_path):
    opened = open_items(shared_data, [3])
    opened[0]["qa_pairs"][2]["question_id"] = "3_q1"
    parsed = parse_open(write_json(tmp_path / "open.json", opened))
    assert parsed.invalid[0].problem == "question_id '3_q1' is used more than once"


def test_open_keywords_must_be_strings(shared_data, tmp_path):
    opened = open_items(shared_data, [3])
    opened[0]["qa_pairs"][0]["eval_keywords"] = ["glioma", 3]
    parsed = parse_open(write_json(tmp_path / "open.json", opened))
    assert parsed.invalid[0].problem == "qa_pairs[0]: eval_keywords must be a list of strings"


# --------------------------------------------------------------------------- paths


@pytest.mark.parametrize("image_path, problem", [
    ("/etc/passwd", "is absolute"),
    ("C:/images/x.png", "is absolute"),
    ("\\\\server\\share\\x.png", "is absolute"),
    ("glioma/../../x.png", "contains a '..' segment"),
    ("glioma\\..\\..\\x.png", "contains a '..' segment"),
    ("..", "contains a '..' segment"),
])
def test_unsafe_image_paths(image_path, problem):
    assert problem in image_path_problem(image_path)


def test_safe_image_paths():
    assert image_path_problem("glioma/16_t1_mask/BraTS2021_01648/x..png") is None
    assert image_path_problem("healthy/09_t2/healthy_09_t2 (45).jpeg") is None


def test_class_and_source_from_path():
    assert tumour_class_and_source(
        "glioma/16_t1_t2_t1ce_flair_mask/BraTS2021_01648/BraTS2021_01648_flair.png") == ("glioma", "16")
    assert tumour_class_and_source("tumor/05_t1_mask/brisc.jpg") == ("tumor", "05")
    assert tumour_class_and_source("healthy/scans/x.png") == ("healthy", None)
    assert tumour_class_and_source("x.png") == (None, None)


def test_symlink_out_of_root(tmp_path):
    root = tmp_path / "root"
    (root / "glioma").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.png").write_bytes(b"x")
    os.symlink(outside / "secret.png", root / "glioma" / "link.png")
    os.symlink(outside, root / "linked_folder")

    with pytest.raises(OutsideRootError, match="leads through a symlink"):
        resolve_in_root(root, "glioma/link.png")
    with pytest.raises(OutsideRootError):
        resolve_in_root(root, "linked_folder/secret.png")


def test_symlink_inside_root_allowed(tmp_path):
    root = tmp_path / "root"
    (root / "glioma").mkdir(parents=True)
    (root / "glioma" / "real.png").write_bytes(b"x")
    os.symlink(root / "glioma" / "real.png", root / "glioma" / "alias.png")
    assert resolve_in_root(root, "glioma/alias.png") == (root / "glioma" / "real.png").resolve()


def test_symlink_out_of_root_makes_item_invalid(shared_data, tmp_path):
    items = closed_items(shared_data, [1])
    root = tmp_path / "root"
    target = root / items[0]["image_path"]
    target.parent.mkdir(parents=True)
    (tmp_path / "secret.jpg").write_bytes(b"x")
    os.symlink(tmp_path / "secret.jpg", target)

    parsed = parse_closed(write_json(tmp_path / "closed.json", items), data_root=root)
    assert parsed.invalid[0].problem == (
        f"image_path {items[0]['image_path']!r} leads through a symlink to "
        f"{os.path.realpath(tmp_path / 'secret.jpg')!r}, outside the data root")
