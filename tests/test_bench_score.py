"""``neuroonco bench score`` and the scoring library on the released closed file and on
small hand-made files: the JSON contract, the published prediction format, bad lines."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter

import pytest

from conftest import run_cli
from engine.bench.questions import load_closed_benchmark
from engine.bench.score import (IMPORTED_LETTER, contract_summary, load_predictions,
                                score_predictions, summarise)
from engine.cli.main import main

CLOSED = "mm-neuroonco_benchmark_closed_v1.0.json"


def write_lines(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.fixture
def closed_path(shared_data):
    return shared_data / CLOSED


@pytest.fixture
def raw_items(closed_path):
    return json.loads(closed_path.read_text(encoding="utf-8"))


def crafted_outputs(raw_items):
    """One output per question, chosen by type (location questions get no prediction)."""
    rows = []
    for item in raw_items:
        for q_index, pair in enumerate(item["vqa_pairs"]):
            kind = pair["question_type"]
            if kind == "location":
                continue
            output = {
                "diagnosis": f"Answer: {pair['answer']}",
                "modality": "E",
                "size": "I cannot tell from this image.",
                "shape": pair["options"][pair["answer"]],
                "spread": "C",
            }[kind]
            rows.append({"id": item["id"], "q_index": q_index, "output": output})
    return rows


def test_score_contract_on_released_file(tmp_path, db_url, closed_path, raw_items):
    predictions = write_lines(tmp_path / "pred.jsonl", crafted_outputs(raw_items))
    spread_gold_c = sum(pair["answer"] == "C" for item in raw_items for pair in item["vqa_pairs"]
                        if pair["question_type"] == "spread")

    result = run_cli(db_url, "bench", "score", "--benchmark-file", str(closed_path),
                     "--predictions", str(predictions), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)

    # Diagnosis all correct, modality correct on its 181 trap items (E), size unparsed,
    # shape correct (the gold text, "None of the above" on traps), spread correct where the
    # gold is C, location missing.
    correct = 1000 + 181 + 307 + spread_gold_c
    assert summary["total"] == 3190
    assert summary["correct"] == correct
    assert summary["accuracy"] == pytest.approx(correct / 3190)
    assert summary["unparsed"] == 307
    assert summary["missing"] == 307
    assert summary["by_type"] == {
        "diagnosis": {"total": 1000, "correct": 1000, "accuracy": 1.0},
        "modality": {"total": 962, "correct": 181, "accuracy": pytest.approx(181 / 962)},
        "size": {"total": 307, "correct": 0, "accuracy": 0.0},
        "shape": {"total": 307, "correct": 307, "accuracy": 1.0},
        "spread": {"total": 307, "correct": spread_gold_c,
                   "accuracy": pytest.approx(spread_gold_c / 307)},
        "location": {"total": 307, "correct": 0, "accuracy": 0.0},
    }
    # Traps: diagnosis 186, modality 181 and shape 55 answered E; spread traps are gold E.
    assert summary["trap"] == {"total": 606, "correct": 186 + 181 + 55,
                               "accuracy": pytest.approx(422 / 606)}
    assert summary["binary"] == {"total": 116, "correct": 116, "accuracy": 1.0}
    assert summary["five_option"] == {"total": 3074, "correct": correct - 116,
                                      "accuracy": pytest.approx((correct - 116) / 3074)}
    # Only the 962 - 181 answerable modality questions chose E.
    assert summary["false_rejection"] == {"total": 2468, "count": 781,
                                          "rate": pytest.approx(781 / 2468)}
    assert list(summary) == ["total", "correct", "accuracy", "unparsed", "missing", "by_type",
                             "trap", "binary", "five_option", "false_rejection"]


def test_score_published_prediction_file(tmp_path, closed_path, raw_items, capsys):
    # The published scripts write preds_<tag>.jsonl with an extracted letter in "pred".
    binary_item = next(item for item in raw_items[20:]
                       if len(item["vqa_pairs"][0]["options"]) == 2)
    rows = []
    for item in raw_items[:20]:
        for q_index, pair in enumerate(item["vqa_pairs"]):
            rows.append({"id": item["id"], "q_index": q_index, "type": pair["question_type"],
                         "is_mcq": "E" in pair["options"], "is_trap": False,
                         "gt": pair["answer"], "pred": pair["answer"], "correct": True,
                         "image_path": item["image_path"]})
    rows[0]["pred"] = ""
    wrong = "A" if rows[1]["gt"] != "A" else "B"
    rows[1]["pred"] = wrong
    rows.append({"id": binary_item["id"], "q_index": 0,
                 "gt": binary_item["vqa_pairs"][0]["answer"], "pred": "C"})
    predictions = write_lines(tmp_path / "preds_model.jsonl", rows)

    assert main(["bench", "score", "--benchmark-file", str(closed_path), "--predictions",
                 str(predictions), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    given = len(rows)
    assert summary["correct"] == given - 3
    assert summary["unparsed"] == 2          # the empty pred and C on a two-option question
    assert summary["missing"] == 3190 - given

    assert main(["bench", "score", "--benchmark-file", str(closed_path), "--predictions",
                 str(predictions), "--format", "pred", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == summary


def test_scored_questions_keep_rules(tmp_path, closed_path):
    questions = load_closed_benchmark(closed_path)
    first, second, third = questions[:3]
    lines = write_lines(tmp_path / "pred.jsonl", [
        {"id": first.item_id, "q_index": first.q_index, "output": f"Answer: {first.gold}"},
        {"id": second.item_id, "q_index": second.q_index, "output": "I think so"},
    ])
    predictions, line_format = load_predictions(lines)
    assert line_format == "output"
    scored = score_predictions(questions, predictions)
    assert len(scored) == 3190
    assert (scored[0].rule, scored[0].record.correct) == ("marker", True)
    assert (scored[1].rule, scored[1].record.outcome) == ("unparsed-no-letter", "unparsed")
    assert (scored[2].rule, scored[2].record.outcome, scored[2].text) == (None, "missing", None)
    assert scored[2].question is third

    published = write_lines(tmp_path / "preds.jsonl", [
        {"id": first.item_id, "q_index": first.q_index, "pred": first.gold}])
    predictions, line_format = load_predictions(published)
    assert line_format == "pred"
    assert score_predictions(questions, predictions)[0].rule == IMPORTED_LETTER


def test_empty_prediction_file(tmp_path, closed_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    predictions, _ = load_predictions(empty)
    summary = contract_summary(summarise(score_predictions(load_closed_benchmark(closed_path),
                                                           predictions), resamples=10))
    assert summary["missing"] == 3190
    assert summary["correct"] == 0
    assert summary["accuracy"] == 0.0


SMALL = [
    {"id": 1, "image_path": "glioma/08_t1/a.png", "vqa_pairs": [
        {"question_type": "diagnosis", "question": "What is the most likely diagnosis?",
         "options": {"A": "glioma", "B": "abscess", "C": "lymphoma", "D": "metastasis",
                     "E": "None of the above"}, "answer": "A"}]},
    {"id": 2, "image_path": "healthy/09_t2/b.png", "vqa_pairs": [
        {"question_type": "diagnosis", "question": "Is this scan normal?",
         "options": {"A": "Healthy", "B": "Abnormal"}, "answer": "A"}]},
]


@pytest.fixture
def small_benchmark(tmp_path):
    path = tmp_path / "closed.json"
    path.write_text(json.dumps(SMALL), encoding="utf-8")
    return path


@pytest.mark.parametrize("lines, message", [
    (['{"id": 1, "q_index": 0, "output": "A"}', "{oops", ""], r"line 2 of '.*pred.jsonl' is not valid JSON \(.*\); each line must be one JSON "
     "object"),
    (['{"id": "1", "q_index": 0, "output": "A"}'], "line 1 has id '1'; it must be an integer"),
    (['{"id": 1, "q_index": 0.0, "output": "A"}'], "line 1 has q_index 0.0"),
    (['{"id": 1, "q_index": 3, "output": "A"}'],
     "no question with id 1 and q_index 3; check that the predictions were made on this "
     "benchmark file"),
    (['{"id": 1, "q_index": 0, "output": "A"}', '{"id": 1, "q_index": 0, "output": "B"}'],
     "line 2 repeats id 1 q_index 0 \\(first on line 1\\)"),
    (['{"id": 1, "q_index": 0, "output": "A"}', '{"id": 2, "q_index": 0, "pred": "A"}'],
     "line 2 has no 'output' field"),
    (['{"id": 1, "q_index": 0, "answer": "A"}'], "line 1 has neither 'output'"),
    (['{"id": 1, "q_index": 0, "output": 3}'], "line 1 has output 3"),
    (['[1, 0, "A"]'], "line 1 has neither 'output'"),
    (['{"id": 1, "q_index": 0, "pred": "B", "gt": "B"}'],
     "gt 'B' but the benchmark's answer to id 1 q_index 0 is A"),
])
def test_bad_prediction_lines(tmp_path, small_benchmark, capsys, lines, message):
    predictions = tmp_path / "pred.jsonl"
    predictions.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code = main(["bench", "score", "--benchmark-file", str(small_benchmark), "--predictions",
                 str(predictions), "--json"])
    captured = capsys.readouterr()
    assert code == 1
    assert captured.out == ""
    error_lines = captured.err.strip().splitlines()
    assert len(error_lines) == 1
    assert error_lines[0].startswith("error: ")
    assert re.search(message, error_lines[0]), error_lines[0]


def test_missing_files(tmp_path, small_benchmark, capsys):
    code = main(["bench", "score", "--benchmark-file", str(tmp_path / "none.json"),
                 "--predictions", str(tmp_path / "none.jsonl")])
    assert code == 1
    assert "benchmark file" in capsys.readouterr().err
    code = main(["bench", "score", "--benchmark-file", str(small_benchmark),
                 "--predictions", str(tmp_path / "none.jsonl")])
    assert code == 1
    assert "prediction file" in capsys.readouterr().err


def test_text_summary_and_exports(tmp_path, small_benchmark, capsys):
    predictions = write_lines(tmp_path / "pred.jsonl", [
        {"id": 1, "q_index": 0, "output": "The answer is A."},
        {"id": 2, "q_index": 0, "output": "Abnormal"}])
    html, table, full = tmp_path / "report.html", tmp_path / "metrics.csv", tmp_path / "m.json"
    assert main(["bench", "score", "--benchmark-file", str(small_benchmark), "--predictions",
                 str(predictions), "--html", str(html), "--csv", str(table),
                 "--metrics-json", str(full), "--resamples", "50"]) == 0
    out = capsys.readouterr().out
    assert "accuracy" in out
    assert "(1 of 2)" in out

    rows = list(csv.DictReader(table.open(encoding="utf-8")))
    overall = next(row for row in rows if row["section"] == "overall")
    assert (overall["total"], overall["count"], float(overall["value"])) == ("2", "1", 0.5)
    document = json.loads(full.read_text(encoding="utf-8"))
    assert document["config"]["setting"] == "rejection-aware"
    assert document["config"]["prediction_format"] == "output"
    assert len(document["config"]["benchmark_sha256"]) == 64
    assert document["closed"]["by_option_count"]["2"]["correct"] == 0
    assert "<svg" in html.read_text(encoding="utf-8")
    assert Counter(row["section"] for row in rows)["type"] == 1


@pytest.mark.parametrize("command", [
    ["bench", "score", "--benchmark-file", "closed.json", "--predictions", "p.jsonl", "--html"],
    ["bench", "score", "--benchmark-file", "closed.json", "--predictions", "p.jsonl", "--csv"],
    ["bench", "report", "some-run", "--html"],
    ["bench", "report", "some-run", "--json"],
    ["bench", "compare", "run-a", "run-b", "--csv"],
    ["pipeline", "dump", "1", "stats", "--out"],
])
def test_output_into_missing_folder(tmp_path, capsys, command):
    missing = tmp_path / "nonexistent" / "dir"
    with pytest.raises(SystemExit) as stopped:
        main([*command, str(missing / "x.out")])
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert stopped.value.code == 2
    assert error.endswith(f"folder '{missing}' does not exist; create it or choose another path")
    assert not missing.parent.exists()


def test_score_open_file_named(tmp_path, shared_data, capsys):
    predictions = write_lines(tmp_path / "pred.jsonl", [{"id": 1, "q_index": 0, "output": "A"}])
    opened = shared_data / "mm-neuroonco_benchmark_open_v1.0.json"
    code = main(["bench", "score", "--benchmark-file", str(opened), "--predictions",
                 str(predictions)])
    error = capsys.readouterr().err
    assert code == 1
    assert error == (f"error: '{opened}' is an open-question benchmark file (its items have "
                     "qa_pairs, not vqa_pairs); bench score reads closed benchmark files only, "
                     "so pass the closed file\n")


def test_score_empty_predictions_warns(tmp_path, small_benchmark, capsys):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    code = main(["bench", "score", "--benchmark-file", str(small_benchmark), "--predictions",
                 str(empty)])
    captured = capsys.readouterr()
    assert code == 0
    assert captured.err == (f"warning: no predictions were read from '{empty}', so every "
                            "question counts as missing; check that it is the right file\n")
    assert "missing           2" in captured.out
