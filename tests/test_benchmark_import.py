"""Importing MM-NeuroOnco benchmark JSON into the database: counts, rows, idempotency, delete."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from benchmark_files import (CLOSED_NAME, OPEN_NAME, closed_items, load_items, open_items,
                             write_json)
from conftest import run_cli
from db.models import Answer, Benchmark, BenchmarkItem, Question, Run
from engine.bench import catalog
from engine.bench.importer import import_benchmark
from engine.bench.stats import benchmark_stats
from engine.errors import InvalidInputError
from engine.jobs import queue
from engine.jobs.worker import run_job

REAL_NAME = "mm-neuroonco_benchmark_closed_v1.0"


def _row_count(db, model) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def real_benchmark(db, shared_data):
    """The real v1.0 closed and open files imported into ``db``; returns the import report."""
    return import_benchmark(db, shared_data / CLOSED_NAME, shared_data / OPEN_NAME)


def test_real_files_counts(db, real_benchmark):
    stats = benchmark_stats(db, REAL_NAME)

    assert real_benchmark.created
    assert stats["items"] == 1000
    assert stats["questions"] == 3190
    assert stats["by_type"] == {"diagnosis": 1000, "modality": 962, "size": 307, "shape": 307,
                                "spread": 307, "location": 307}
    assert stats["traps"] == 606
    assert stats["traps_by_type"] == {"diagnosis": 186, "modality": 181, "size": 55,
                                      "shape": 55, "spread": 67, "location": 62}
    assert stats["binary"] == 116
    assert stats["five_option"] == 3074
    assert stats["gold_letters"] == {"A": 714, "B": 652, "C": 602, "D": 616, "E": 606}
    assert stats["duplicate_option_questions"] == 18
    assert stats["duplicate_options_with_gold"] == 0
    assert stats["open_items"] == 243
    assert stats["open_questions"] == 1215
    assert stats["open_by_type"] == {"Detail": 729, "Location": 243, "Reasoning": 243}
    assert stats["images_missing"] == 1000


def test_real_files_classes_and_sources(db, real_benchmark):
    stats = benchmark_stats(db, REAL_NAME)
    assert stats["by_class"] == {"glioma": 131, "tumor": 128, "embryonal": 112,
                                 "ependymoma": 111, "schwannoma": 111, "metastasis": 111,
                                 "neuronal_tumor": 111, "healthy": 74, "meningioma": 74,
                                 "pituitary": 37}
    assert stats["by_source"] == {"05": 122, "07": 37, "08": 530, "09": 106, "10": 55,
                                  "14": 37, "16": 113}


def test_real_files_report(real_benchmark):
    assert real_benchmark.items == 1000
    assert real_benchmark.questions == 3190
    assert real_benchmark.traps == 606
    assert real_benchmark.open_questions == 1215
    assert len(real_benchmark.duplicates) == 18
    assert not any(dup.gold_repeated for dup in real_benchmark.duplicates)
    assert [trap.item_id for trap in real_benchmark.offered_originals] == [223, 511, 832]
    assert real_benchmark.skipped == {}
    assert real_benchmark.images is None


def test_question_rows_match_file(db, shared_data, real_benchmark):
    source = {item["id"]: item for item in load_items(shared_data, CLOSED_NAME)}[3]
    source_open = {item["id"]: item for item in load_items(shared_data, OPEN_NAME)}[3]
    with db.session() as session:
        item = session.scalar(select(BenchmarkItem).where(BenchmarkItem.item_id == 3))
        closed = [q for q in item.questions if q.kind == "closed"]
        opened = [q for q in item.questions if q.kind == "open"]

        assert item.image_path == source["image_path"]
        assert (item.tumour_class, item.source) == ("glioma", "16")
        assert item.image_missing is True
        assert item.slice_id is None
        assert [q.q_index for q in closed] == list(range(len(source["vqa_pairs"])))
        for row, pair in zip(closed, source["vqa_pairs"]):
            assert row.question_type == pair["question_type"]
            assert row.stem == pair["question"]
            assert list(row.options.items()) == list(pair["options"].items())
            assert row.gold_letter == pair["answer"]
            assert row.is_trap == pair.get("meta_trap", False)
            assert row.original_answer == pair.get("meta_original_answer")
        for row, pair in zip(opened, source_open["qa_pairs"]):
            assert row.external_id == pair["question_id"]
            assert row.reference_answer == pair["reference_answer"]
            assert row.keywords == pair["eval_keywords"]
            assert row.options is None


def test_duplicate_options_stored(db, real_benchmark):
    with db.session() as session:
        rows = session.scalars(select(Question).where(Question.duplicate_options.is_not(None))
                               ).all()
        schwannoma = [row for row in rows
                      if {"schwannoma", "Schwannoma"} <= set(row.options.values())]
        assert len(rows) == 18
        assert len(schwannoma) == 1
        assert sorted(schwannoma[0].options[letter] for letter in schwannoma[0].duplicate_options
                      ) == ["Schwannoma", "schwannoma"]
        assert schwannoma[0].gold_letter not in schwannoma[0].duplicate_options


def test_open_rows_have_sql_null_options(db, real_benchmark):
    with db.session() as session:
        count = session.scalar(select(func.count()).select_from(Question)
                               .where(Question.options.is_(None)))
        assert count == 1215


def test_same_files_import_once(db, shared_data, real_benchmark):
    counts = (_row_count(db, Benchmark), _row_count(db, BenchmarkItem), _row_count(db, Question))
    again = import_benchmark(db, shared_data / CLOSED_NAME, shared_data / OPEN_NAME,
                             name="another name")

    assert again.created is False
    assert again.name == REAL_NAME
    assert (_row_count(db, Benchmark), _row_count(db, BenchmarkItem),
            _row_count(db, Question)) == counts


def test_other_content_same_name_rejected(db, shared_data, tmp_path, real_benchmark):
    path = write_json(tmp_path / f"{REAL_NAME}.json", closed_items(shared_data, [1, 3]))
    with pytest.raises(InvalidInputError) as error:
        import_benchmark(db, path)
    assert str(error.value) == (
        f"benchmark name '{REAL_NAME}' is already used by a benchmark imported from other "
        f"files; choose another --name or delete that benchmark with 'neuroonco bench delete "
        f"{REAL_NAME}'")
    assert _row_count(db, Benchmark) == 1


def test_closed_only_import(db, shared_data, tmp_path):
    items = closed_items(shared_data, [1, 3, 4])
    report = import_benchmark(db, write_json(tmp_path / "small.json", items))
    stats = benchmark_stats(db, "small")

    assert report.name == "small"
    assert stats["items"] == 3
    assert stats["questions"] == sum(len(item["vqa_pairs"]) for item in items)
    assert stats["open_items"] == 0
    assert stats["open_questions"] == 0


def test_delete_leaves_no_orphans(db, shared_data, real_benchmark):
    with db.session(write=True) as session:
        benchmark = catalog.get_benchmark(session, REAL_NAME)
        question_id = session.scalar(select(Question.id).limit(1))
        run = Run(name="run 1", benchmark_id=benchmark.id, model_name="tiny")
        session.add(run)
        session.flush()
        session.add(Answer(run_id=run.id, question_id=question_id, raw_output="A"))

    counts = catalog.delete_benchmark(db, REAL_NAME)

    assert counts == {"items": 1000, "questions": 3190 + 1215, "runs": 1}
    for model in (Benchmark, BenchmarkItem, Question, Run, Answer):
        assert _row_count(db, model) == 0, model.__tablename__


def test_import_job(db, shared_data, tmp_path):
    path = write_json(tmp_path / "small.json", closed_items(shared_data, [1, 3]))
    job_id = queue.submit(db, "bench.import", {"closed": str(path), "name": "job import"})
    assert queue.claim_next(db, "w1") == job_id

    assert run_job(db, job_id) == "succeeded"
    job = queue.get_job(db, job_id)
    assert job.result["name"] == "job import"
    assert job.result["items"] == 2
    assert benchmark_stats(db, "job import")["items"] == 2


def test_import_job_real_files(db, shared_data):
    params = {"closed": str(shared_data / CLOSED_NAME), "open": str(shared_data / OPEN_NAME)}
    job_id = queue.submit(db, "bench.import", params)
    queue.claim_next(db, "w1")

    assert run_job(db, job_id) == "succeeded"
    job = queue.get_job(db, job_id)
    assert job.result["questions"] == 3190
    assert job.result["open_questions"] == 1215
    assert len(job.result["duplicate_option_questions"]) == 18
    assert benchmark_stats(db, REAL_NAME)["items"] == 1000


def test_import_job_failure_leaves_no_rows(db, shared_data, tmp_path):
    items = closed_items(shared_data, [1, 3])
    items[1]["vqa_pairs"][0]["answer"] = "Z"
    path = write_json(tmp_path / "bad.json", items)
    job_id = queue.submit(db, "bench.import", {"closed": str(path)})
    queue.claim_next(db, "w1")

    assert run_job(db, job_id) == "failed"
    assert "has 1 invalid item (3)" in queue.get_job(db, job_id).message
    assert _row_count(db, Benchmark) == 0


def test_cli_import_and_stats(db_url, shared_data):
    imported = run_cli(db_url, "bench", "import", "--closed", str(shared_data / CLOSED_NAME),
                       "--open", str(shared_data / OPEN_NAME))
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.startswith(
        f"imported benchmark '{REAL_NAME}': 1000 items, 3190 questions (606 traps), "
        "243 open items, 1215 open questions\n")
    assert "18 questions have options that repeat" in imported.stdout
    assert "item 109 vqa_pairs[1] (diagnosis): A 'schwannoma', C 'Schwannoma'" in imported.stdout

    stats = run_cli(db_url, "bench", "stats", REAL_NAME, "--json")
    assert stats.returncode == 0, stats.stderr
    counts = json.loads(stats.stdout)
    for key, value in {"items": 1000, "questions": 3190, "traps": 606, "binary": 116,
                       "five_option": 3074, "open_items": 243, "open_questions": 1215,
                       "duplicate_option_questions": 18}.items():
        assert counts[key] == value, key
    assert counts["by_type"]["modality"] == 962


def test_cli_import_twice(db_url, shared_data):
    args = ("bench", "import", "--closed", str(shared_data / CLOSED_NAME))
    assert run_cli(db_url, *args).returncode == 0
    again = run_cli(db_url, *args, "--name", "copy")
    assert again.returncode == 0, again.stderr
    assert again.stdout == f"benchmark '{REAL_NAME}' already holds these files; nothing imported\n"


def test_cli_list_and_delete(db_url, shared_data, tmp_path):
    path = write_json(tmp_path / "small.json", closed_items(shared_data, [1, 3]))
    assert run_cli(db_url, "bench", "import", "--closed", str(path)).returncode == 0

    listed = run_cli(db_url, "bench", "list", "--json")
    assert [row["name"] for row in json.loads(listed.stdout)] == ["small"]
    deleted = run_cli(db_url, "bench", "delete", "small")
    assert deleted.returncode == 0, deleted.stderr
    assert deleted.stdout.startswith("deleted benchmark 'small': 2 items")
    assert json.loads(run_cli(db_url, "bench", "list", "--json").stdout) == []

    missing = run_cli(db_url, "bench", "stats", "small")
    assert missing.returncode == 1
    assert missing.stderr == ("error: benchmark 'small' not found; list benchmarks with "
                              "'neuroonco bench list'\n")


def test_cli_import_as_job(db, db_url, shared_data, tmp_path):
    path = write_json(tmp_path / "small.json", closed_items(shared_data, [1]))
    submitted = run_cli(db_url, "bench", "import", "--closed", str(path), "--job")
    assert submitted.returncode == 0, submitted.stderr
    job = queue.get_job(db, int(submitted.stdout))

    assert job.kind == "bench.import"
    assert job.params["closed"] == str(path)
    assert job.state == "queued"

    # A fresh worker process must know the kind from the registry's module list.
    worker = run_cli(db_url, "worker", "--once")
    assert worker.returncode == 0, worker.stdout + worker.stderr
    assert queue.get_job(db, job.id).state == "succeeded"
    assert benchmark_stats(db, "small")["items"] == 1


def test_open_items_follow_skipped_closed(db, shared_data, tmp_path):
    items = closed_items(shared_data, [3, 9, 14])
    items[1]["vqa_pairs"][0]["answer"] = "Z"
    closed = write_json(tmp_path / "closed.json", items)
    opened = write_json(tmp_path / "open.json", open_items(shared_data, [3, 9, 14]))
    report = import_benchmark(db, closed, opened, skip_invalid=True)

    assert report.skipped == {"closed": ["9"], "open": ["9"]}
    assert report.items == 2
    assert report.open_items == 2
    with db.session() as session:
        sources = session.scalar(select(Benchmark.source_files))
    assert [record["skipped_items"] for record in sources] == [["9"], ["9"]]
