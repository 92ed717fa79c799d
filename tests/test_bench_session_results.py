"""External runs from published prediction files, ``bench compare`` and ``bench report``."""

from __future__ import annotations

import csv
import json

import pytest
from sqlalchemy import select

from benchmark_files import CLOSED_NAME, load_items
from conftest import run_cli
from db.models import Answer, Run
from engine.bench.baselines import ALWAYS_E, RANDOM
from engine.bench.compare import COLUMNS
from engine.bench.external import import_predictions
from engine.bench.parser import PARSER_VERSION
from engine.bench.questions import load_closed_benchmark
from engine.bench.run_metrics import run_metrics
from engine.bench.score import load_predictions, score_predictions, summarise
from engine.bench.session import run_session
from engine.errors import InvalidInputError
from engine.review import ReviewTarget, record_review
from session_helpers import import_real, new_run
from test_bench_report import Page


def _published_lines(items) -> list[dict]:
    """Lines in the published preds_*.jsonl form: right on diagnosis, E on modality, an
    invalid letter on shape, nothing on location, the gold's neighbour elsewhere."""
    lines = []
    for item in items:
        for q_index, pair in enumerate(item["vqa_pairs"]):
            kind, gold = pair["question_type"], pair["answer"]
            if kind == "location":
                continue
            letters = list(pair["options"])
            pred = {"diagnosis": gold, "modality": "E", "shape": "Z"}.get(
                kind, letters[(letters.index(gold) + 1) % len(letters)])
            lines.append({"id": item["id"], "q_index": q_index, "type": kind,
                          "is_mcq": "E" in pair["options"], "is_trap": bool(pair.get("meta_trap")),
                          "gt": gold, "pred": pred, "correct": pred == gold,
                          "image_path": item["image_path"]})
    return lines


@pytest.fixture
def released(db, shared_data):
    import_real(db, shared_data)
    return load_items(shared_data, CLOSED_NAME)


@pytest.fixture
def preds_file(tmp_path, released):
    path = tmp_path / "preds_qwen3vl-8b.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in _published_lines(released)),
                    encoding="utf-8")
    return path


def test_import_published_predictions(db, shared_data, released, preds_file):
    run_id = import_predictions(db, "mm", preds_file)
    metrics = run_metrics(db, run_id)
    location = sum(pair["question_type"] == "location"
                   for item in released for pair in item["vqa_pairs"])

    assert metrics["run"]["name"] == "external:qwen3vl-8b@mm"
    assert metrics["run"]["external"] is True
    assert metrics["run"]["model"] == "qwen3vl-8b"
    assert metrics["closed"]["outcomes"]["missing"] == location
    assert metrics["closed"]["by_type"]["shape"]["correct"] == 0
    shape_total = metrics["closed"]["by_type"]["shape"]["total"]
    assert metrics["closed"]["outcomes"]["unparsed"] == shape_total
    assert metrics["closed"]["by_type"]["diagnosis"]["accuracy"] == 1.0
    assert metrics["config"]["answerer"]["prediction_format"] == "pred"

    questions = load_closed_benchmark(shared_data / CLOSED_NAME)
    loaded, _ = load_predictions(preds_file)
    assert metrics["closed"] == summarise(score_predictions(questions, loaded))


def test_import_raw_outputs_via_cli(db, released, tmp_path, db_url):
    lines = [{"id": item["id"], "q_index": q_index, "output": f"The answer is {pair['answer']}."}
             for item in released[:20] for q_index, pair in enumerate(item["vqa_pairs"])]
    path = tmp_path / "mine.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")

    result = run_cli(db_url, "bench", "import-preds", "--benchmark", "mm", "--predictions",
                     str(path), "--name", "mine", "--json")
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    assert metrics["summary"]["correct"] == len(lines)
    assert metrics["summary"]["missing"] == 3190 - len(lines)
    with db.session() as session:
        rules = set(session.scalars(select(Answer.parse_rule)))
    assert rules == {"marker"}


def test_bad_predictions_leave_no_run(db, released, preds_file, tmp_path):
    lines = preds_file.read_text(encoding="utf-8").splitlines()
    first = json.loads(lines[0])
    first["gt"] = "A" if first["gt"] != "A" else "B"
    bad = tmp_path / "preds_bad.jsonl"
    bad.write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n", encoding="utf-8")

    with pytest.raises(InvalidInputError, match="line 1 has gt"):
        import_predictions(db, "mm", bad)
    import_predictions(db, "mm", preds_file, name="published")
    with pytest.raises(InvalidInputError, match="already used"):
        import_predictions(db, "mm", preds_file, name="published")
    with db.session() as session:
        assert session.scalars(select(Run.name)).all() == ["published"]


def test_compare_runs_table(db, released, preds_file, tmp_path, db_url):
    random_id = new_run(db, RANDOM, name="random")
    always_id = new_run(db, ALWAYS_E, name="always-e")
    for run_id in (random_id, always_id):
        run_session(db, run_id)
    import_predictions(db, "mm", preds_file, name="published")
    with db.session(write=True) as session:
        answer_id = session.scalar(select(Answer.id).where(Answer.run_id == always_id).limit(1))
        record_review(session, ReviewTarget("answer", answer_id), "ana", "agree")

    table = tmp_path / "compare.csv"
    result = run_cli(db_url, "bench", "compare", "random", "always-e", "published", "--csv",
                     str(table), "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [row["run"] for row in rows] == ["random", "always-e", "published"]
    for row, run_id in zip(rows, (random_id, always_id)):
        metrics = run_metrics(db, run_id)
        assert row["accuracy"] == metrics["accuracy"]
        assert row["trap_accuracy"] == metrics["closed"]["trap"]["accuracy"]
    assert rows[1]["trap_accuracy"] == 1.0
    assert (rows[1]["reviewed"], rows[1]["review_agreement"]) == (1, 1.0)
    assert (rows[0]["reviewed"], rows[0]["review_agreement"]) == (0, None)
    assert rows[2]["external"] is True

    with table.open(encoding="utf-8") as stream:
        reader = csv.DictReader(stream)
        assert tuple(reader.fieldnames) == COLUMNS
        assert [row["run"] for row in reader] == ["random", "always-e", "published"]

    printed = run_cli(db_url, "bench", "compare", "random", "always-e")
    assert printed.returncode == 0, printed.stderr
    header, *lines = printed.stdout.splitlines()
    assert header.split()[:3] == ["run", "accuracy", "trap"]
    assert lines[1].split()[:3] == ["always-e", f"{100 * rows[1]['accuracy']:.1f}%", "100.0%"]


def test_report_holds_charts_and_configuration(db, released, tmp_path, db_url):
    run_id = new_run(db, RANDOM, name="random", seed=4)
    run_session(db, run_id)
    html, table, exported = tmp_path / "run.html", tmp_path / "run.csv", tmp_path / "run.json"

    result = run_cli(db_url, "bench", "report", "random", "--html", str(html), "--csv",
                     str(table), "--json", str(exported))
    assert result.returncode == 0, result.stderr
    page = Page()
    page.feed(html.read_text(encoding="utf-8"))
    page.close()
    charts = {attrs["id"] for attrs in page.find("svg") if attrs.get("class") == "chart"}
    assert charts == {"chart-type", "chart-trap", "chart-letters"}
    assert page.find("script") == []

    cells = [cell.strip() for cell in page.cells]
    metrics = run_metrics(db, run_id)
    for key in metrics["config"]:
        assert key in cells, key
    assert cells[cells.index("parser_version") + 1] == PARSER_VERSION
    assert cells[cells.index("seed") + 1] == "4"
    assert cells[cells.index("run") + 1] == "random"
    assert "baseline:random" in cells[cells.index("answerer") + 1]

    document = json.loads(exported.read_text(encoding="utf-8"))
    assert document["closed"] == json.loads(json.dumps(metrics["closed"]))
    assert document["config"]["setting"] == "rejection-aware"
    with table.open(encoding="utf-8") as stream:
        overall = next(row for row in csv.DictReader(stream) if row["section"] == "overall")
    assert int(overall["count"]) == metrics["closed"]["overall"]["correct"]

    nothing = run_cli(db_url, "bench", "report", "random")
    assert nothing.returncode == 1
    assert "pass at least one" in nothing.stderr
