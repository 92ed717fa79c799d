"""Bad benchmark input on the command line: one-line error, exit 1, database unchanged."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import select

from benchmark_files import closed_items, first_trap, open_items, write_json
from conftest import run_cli
from db.models import Benchmark, BenchmarkItem, Job, Question
from engine.bench.importer import import_benchmark

# Items 3 and 9 have open questions; 3 has traps; 4 has a binary question.
IDS = [1, 3, 4, 9, 10, 14, 15, 109]


def _snapshot(db) -> dict[str, list[tuple]]:
    """Return every row of the benchmark tables and the job table, in id order."""
    tables = {}
    with db.session() as session:
        for model in (Benchmark, BenchmarkItem, Question, Job):
            rows = session.execute(select(model.__table__).order_by(model.__table__.c.id)).all()
            tables[model.__tablename__] = [tuple(row) for row in rows]
    return tables


@pytest.fixture
def existing(db, shared_data, tmp_path):
    """A database with one small benchmark imported; returns its snapshot."""
    path = write_json(tmp_path / "existing.json", closed_items(shared_data, [20, 21]))
    import_benchmark(db, path)
    return _snapshot(db)


def _assert_rejected(db, before, result, message):
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr == f"error: {message}\n"
    assert _snapshot(db) == before


def _import(db_url, path, *extra):
    return run_cli(db_url, "bench", "import", "--closed", str(path), *extra)


def test_malformed_items_listed(db, db_url, shared_data, tmp_path, existing):
    items = closed_items(shared_data, IDS)
    items[1] = ["not", "an", "object"]
    del items[3]["vqa_pairs"]
    items[5]["id"] = "fourteen"
    items[6]["vqa_pairs"][0]["options"] = {"A": "glioma"}
    items[7]["vqa_pairs"][0]["answer"] = "Q"
    items[2]["vqa_pairs"][0]["question_type"] = 4
    items.append({"id": 2000})
    path = write_json(tmp_path / "malformed.json", items)

    result = _import(db_url, path)

    _assert_rejected(db, existing, result, (
        f"closed benchmark file '{path}' has 7 invalid items (index 1, 4, 9, index 5, 15 and 2 "
        "more); item index 1: is a list, not an object with id, image_path, vqa_pairs; fix the "
        "file or pass --skip-invalid to import the valid items only"))


def test_skip_invalid_imports_rest(db, db_url, shared_data, tmp_path, existing):
    items = closed_items(shared_data, IDS)
    del items[3]["vqa_pairs"]
    items[7]["vqa_pairs"][0]["answer"] = "Q"
    path = write_json(tmp_path / "malformed.json", items)

    result = _import(db_url, path, "--skip-invalid")

    assert result.returncode == 0, result.stderr
    assert "skipped 2 invalid closed items: 9, 109\n" in result.stdout
    with db.session() as session:
        benchmark = session.scalar(select(Benchmark).where(Benchmark.name == "malformed"))
        imported = sorted(item.item_id for item in benchmark.items)
    assert imported == [1, 3, 4, 10, 14, 15]


def test_gold_letter_not_among_options(db, db_url, shared_data, tmp_path, existing):
    items = closed_items(shared_data, IDS)
    items[2]["vqa_pairs"][1]["answer"] = "C"  # a binary Healthy/Abnormal question
    path = write_json(tmp_path / "gold.json", items)

    _assert_rejected(db, existing, _import(db_url, path), (
        f"closed benchmark file '{path}' has 1 invalid item (4); item 4: vqa_pairs[1]: gold "
        "letter 'C' is not among the options A-B; fix the file or pass --skip-invalid to import "
        "the valid items only"))


def test_trap_without_original_answer(db, db_url, shared_data, tmp_path, existing):
    items = closed_items(shared_data, IDS)
    del first_trap(items[1])["meta_original_answer"]
    path = write_json(tmp_path / "trap.json", items)

    _assert_rejected(db, existing, _import(db_url, path), (
        f"closed benchmark file '{path}' has 1 invalid item (3); item 3: vqa_pairs[1]: trap "
        "question has no meta_original_answer (the text of the removed correct option); fix the "
        "file or pass --skip-invalid to import the valid items only"))


def test_image_path_with_parent_segment(db, db_url, shared_data, tmp_path, existing):
    items = closed_items(shared_data, IDS)
    items[0]["image_path"] = "ependymoma/../../../etc/passwd"
    path = write_json(tmp_path / "dotdot.json", items)

    _assert_rejected(db, existing, _import(db_url, path), (
        f"closed benchmark file '{path}' has 1 invalid item (1); item 1: image_path "
        "'ependymoma/../../../etc/passwd' contains a '..' segment; it must stay inside the data "
        "root; fix the file or pass --skip-invalid to import the valid items only"))


def test_absolute_image_path(db, db_url, shared_data, tmp_path, existing):
    items = closed_items(shared_data, IDS)
    items[0]["image_path"] = "/data/ependymoma/1.jpg"
    path = write_json(tmp_path / "absolute.json", items)

    _assert_rejected(db, existing, _import(db_url, path), (
        f"closed benchmark file '{path}' has 1 invalid item (1); item 1: image_path "
        "'/data/ependymoma/1.jpg' is absolute; it must be relative to the data root; fix the "
        "file or pass --skip-invalid to import the valid items only"))


def test_symlink_out_of_data_root(db, db_url, shared_data, tmp_path, existing):
    items = closed_items(shared_data, IDS)
    root = tmp_path / "images"
    link = root / items[0]["image_path"]
    link.parent.mkdir(parents=True)
    secret = tmp_path / "outside.jpg"
    secret.write_bytes(b"not part of the data root")
    os.symlink(secret, link)
    path = write_json(tmp_path / "symlink.json", items)

    _assert_rejected(db, existing, _import(db_url, path, "--data-root", str(root)), (
        f"closed benchmark file '{path}' has 1 invalid item (1); item 1: image_path "
        f"{items[0]['image_path']!r} leads through a symlink to {os.path.realpath(secret)!r}, "
        "outside the data root; fix the file or pass --skip-invalid to import the valid items "
        "only"))


def test_invalid_json(db, db_url, tmp_path, existing):
    path = tmp_path / "truncated.json"
    path.write_text('[{"id": 1, "image_path": "glioma/x.png", ', encoding="utf-8")

    _assert_rejected(db, existing, _import(db_url, path), (
        f"closed benchmark file '{path}' is not valid JSON (line 1 column 42: Expecting property "
        "name enclosed in double quotes); fix the syntax or download it again"))


def test_file_not_a_list(db, db_url, shared_data, tmp_path, existing):
    path = write_json(tmp_path / "object.json", {"items": closed_items(shared_data, IDS)})

    _assert_rejected(db, existing, _import(db_url, path), (
        f"closed benchmark file '{path}' must contain a JSON list of items but contains an "
        "object; pass the closed benchmark file"))


def test_files_swapped_named_with_option(db, db_url, shared_data, tmp_path, existing):
    opened = write_json(tmp_path / "open.json", open_items(shared_data, [3, 9]))
    closed = write_json(tmp_path / "closed.json", closed_items(shared_data, [3, 9]))

    as_closed = _import(db_url, opened)
    _assert_rejected(db, existing, as_closed,
                     f"'{opened}' is an open-question benchmark file (its items have qa_pairs, "
                     "not vqa_pairs); pass it with --open")
    as_open = _import(db_url, closed, "--open", str(closed))
    _assert_rejected(db, existing, as_open,
                     f"'{closed}' is a closed-question benchmark file (its items have vqa_pairs, "
                     "not qa_pairs); pass it with --closed")


def test_open_item_with_other_image(db, db_url, shared_data, tmp_path, existing):
    closed = write_json(tmp_path / "closed.json", closed_items(shared_data, IDS))
    opened = open_items(shared_data, [3, 9])
    opened[1]["image_path"] = opened[0]["image_path"]
    open_path = write_json(tmp_path / "open.json", opened)

    _assert_rejected(db, existing, _import(db_url, closed, "--open", str(open_path)), (
        f"open benchmark file '{open_path}' has 1 invalid item (9); item 9: image_path "
        f"{opened[0]['image_path']!r} differs from the closed item's "
        f"{closed_items(shared_data, [9])[0]['image_path']!r}; fix the file or pass "
        "--skip-invalid to import the valid items only"))


def test_missing_data_root(db, db_url, shared_data, tmp_path, existing):
    path = write_json(tmp_path / "closed.json", closed_items(shared_data, IDS))
    missing = tmp_path / "no-such-folder"

    _assert_rejected(db, existing, _import(db_url, path, "--data-root", str(missing)), (
        f"data root '{missing}' does not exist; pass the folder that holds the benchmark's "
        "class folders (glioma/, healthy/, ...)"))


def test_missing_closed_option_is_usage_error(db_url):
    result = run_cli(db_url, "bench", "import")
    assert result.returncode == 2
    assert "error: the following arguments are required: --closed" in result.stderr
