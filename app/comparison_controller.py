"""The comparison window: runs x metrics, charts, diagnosis confusion matrix, click-through.

Metrics are recomputed from the stored answers (``engine.bench.compare.compare_runs``, the
``neuroonco bench compare`` table) on a worker thread, because bootstrap intervals take
longer than a frame. A chosen run, question type or matrix cell lists its questions, and a
question opens its item in the viewer.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QFileDialog, QInputDialog

from app.background import BackgroundTasks
from engine.bench.compare import compare_runs
from engine.bench.comparison_files import import_prediction_file, write_comparison, write_report
from engine.bench.run_questions import confusion_matrix, matching, outcomes_for_metric, question_outcomes
from engine.bench.session_choices import session_choices
from engine.viewer.run_overview import run_overview
from widgets.comparison_panel import ComparisonPanel

log = logging.getLogger(__name__)

METRIC_CAPTIONS = {"trap": "trap items", "non_trap": "non-trap questions",
                   "false_rejection": "false rejections (E chosen on a non-trap question)",
                   "unparsed": "unparsed answers"}
FILTERS = {"comparison-csv": "CSV (*.csv)", "comparison-json": "JSON (*.json)",
           "report": "HTML report (*.html);;CSV (*.csv);;JSON (*.json)"}


class ComparisonController(QObject):
    """Owns the comparison dock and keeps it in step with runs, jobs and reviews."""

    def __init__(self, window, open_dock, resume_run, parent: QObject | None = None) -> None:  # noqa: ANN001
        super().__init__(parent or window)
        self.window = window
        self.db = window.db
        self._open_dock = open_dock
        self.panel = ComparisonPanel()
        self.dock = window.add_dock(self.panel, "Comparison", Qt.DockWidgetArea.BottomDockWidgetArea,
                                    object_name="dock_Comparison")
        self.dock.hide()
        self.tasks = BackgroundTasks("comparison", self)
        self.tasks.failed.connect(self._on_tasks_failed)
        self.run_ids: dict[str, int] = {}
        self.rows: list[dict] = []
        self._outcomes: dict[str, list] = {}
        self._pending_checked: list[str] | None = None
        self._confusion_run: str | None = None

        panel = self.panel
        panel.refreshRequested.connect(self.refresh)
        panel.checkedRunsChanged.connect(self.compare)
        panel.cellChosen.connect(self.choose_cell)
        panel.confusionCellChosen.connect(self.choose_confusion_cell)
        panel.itemRequested.connect(window.open_item)
        panel.importRequested.connect(lambda: self.import_predictions())
        panel.exportRequested.connect(lambda kind: self.export(kind))
        panel.resumeRequested.connect(resume_run)
        window.jobFinished.connect(self._on_window_job_finished)
        window.reviewSaved.connect(lambda _review_id: self._recompare())

    # ------------------------------------------------------------ opening

    def open(self) -> None:
        """Show the comparison dock with the current runs."""
        self._open_dock(self.dock)
        self.refresh()

    def show_runs(self, names: list[str]) -> None:
        """Show the dock and compare exactly ``names``."""
        self._pending_checked = list(names)
        self.open()

    def refresh(self) -> None:
        """Reload the run list; the ticked runs are compared again."""
        self._outcomes.clear()
        self.tasks.run("runs", run_overview, self.db, on_done=self._on_runs_loaded)

    def _on_runs_loaded(self, overviews: list) -> None:
        self.run_ids = {overview.name: overview.run_id for overview in overviews}
        self.panel.set_runs(overviews)
        if self._pending_checked is not None:
            names, self._pending_checked = self._pending_checked, None
            self.panel.set_checked([name for name in names if name in self.run_ids])
        else:
            self._recompare()

    # ------------------------------------------------------------ comparing

    def compare(self, names: list[str]) -> None:
        """Recompute the table and charts for ``names`` (ticked runs, in list order)."""
        if not names:
            self._on_compared([])
            return
        self.panel.show_status(f"Computing the metrics of {len(names)} run(s)...")
        self.tasks.run("compare", compare_runs, self.db, list(names), on_done=self._on_compared)

    def _recompare(self) -> None:
        if self.dock.isVisible() or self.rows:
            self.compare(self.panel.checked_runs())

    def _on_compared(self, rows: list[dict]) -> None:
        self.rows = rows
        self.panel.set_comparison(rows)
        self.panel.show_status(f"{len(rows)} run(s) compared; accuracies count unparsed, missing "
                               "and skipped questions as wrong." if rows else
                               "Tick runs on the left to compare them.")
        names = [row["run"] for row in rows]
        if names and self._confusion_run not in names:
            # The matrix follows the first compared run until a cell of another is chosen.
            self.with_outcomes(names[0], lambda outcomes: self._show_confusion(names[0], outcomes))

    # ------------------------------------------------------------ click-through

    def with_outcomes(self, run: str, callback) -> None:  # noqa: ANN001 - a callable
        """Call ``callback(outcomes)`` with the run's question outcomes (cached per refresh)."""
        if run in self._outcomes:
            callback(self._outcomes[run])
            return
        run_id = self.run_ids.get(run)
        if run_id is None:
            self.window.show_message(f"run '{run}' no longer exists; refresh the comparison")
            return

        def loaded(outcomes: list) -> None:
            self._outcomes[run] = outcomes
            callback(outcomes)

        self.tasks.run(f"questions of {run}", question_outcomes, self.db, run_id, on_done=loaded)

    def choose_cell(self, run: str, key: str) -> None:
        """List the questions behind ``run``'s cell in column ``key``; show its matrix."""
        def show(outcomes: list) -> None:
            self._show_confusion(run, outcomes)
            rows = outcomes_for_metric(outcomes, key)
            what = (f"{key.split(':', 1)[1]} questions" if key.startswith("type:")
                    else METRIC_CAPTIONS.get(key, "closed questions"))
            self.panel.show_questions(rows, f"{run}: {what}")

        self.with_outcomes(run, show)

    def choose_confusion_cell(self, gold: str, predicted: str) -> None:
        """List the diagnosis questions of the matrix's run in cell (``gold``, ``predicted``)."""
        run = self._confusion_run
        if run is None:
            return

        def show(outcomes: list) -> None:
            rows = matching(outcomes, question_type="diagnosis", gold_label=gold,
                            predicted_label=predicted)
            self.panel.show_questions(rows, f"{run}: diagnosis, gold {gold}, predicted {predicted}")

        self.with_outcomes(run, show)

    def _show_confusion(self, run: str, outcomes: list) -> None:
        self._confusion_run = run
        self.panel.set_confusion(confusion_matrix(outcomes), run)

    # ------------------------------------------------------------ files

    def export(self, kind: str, path: str | None = None) -> None:
        """Write the comparison (CSV or JSON) or the selected run's report to ``path``.

        Without ``path``, a file dialog opens to choose it. The report is of the run of the
        table's selected cell, else of the run selected in the list, else of the first
        compared run.
        """
        run = self.panel.selected_run() or (self.rows[0]["run"] if self.rows else None)
        if kind == "report" and run is None:
            self.window.show_message("Select a run in the list to write its report.")
            return
        if path is None:
            self._ask_path(f"Export {'report of ' + run if kind == 'report' else 'comparison'}",
                           FILTERS[kind], lambda chosen: self.export(kind, chosen))
            return
        if kind == "report":
            self.tasks.run("report", write_report, self.db, run, path, on_done=self._on_written)
        else:
            self.tasks.run("export", write_comparison, path, list(self.rows), on_done=self._on_written)

    def import_predictions(self, path: str | None = None, benchmark: str | None = None) -> None:
        """Import a published prediction file as an external run of ``benchmark``.

        Without ``path`` or ``benchmark``, dialogs ask for them.
        """
        if path is None:
            self._ask_path("Import predictions (preds_*.jsonl)", "JSON Lines (*.jsonl);;All files (*)",
                           lambda chosen: self.import_predictions(chosen, benchmark), save=False)
            return
        if benchmark is None:
            self.tasks.run("benchmarks", session_choices, self.db,
                           on_done=lambda choices: self._ask_benchmark(path, choices.benchmarks))
            return
        self.tasks.run("import predictions", import_prediction_file, self.db, benchmark, path,
                       on_done=self._on_imported)

    def _ask_benchmark(self, path: str, benchmarks: tuple[str, ...]) -> None:
        if not benchmarks:
            self.window.show_message("No benchmark is imported; import one with File > Import benchmark.")
            return
        dialog = QInputDialog(self.window)
        dialog.setWindowTitle("Import predictions")
        dialog.setLabelText("Benchmark the predictions answer:")
        dialog.setComboBoxItems(list(benchmarks))
        dialog.textValueSelected.connect(lambda name: self.import_predictions(path, name))
        dialog.finished.connect(dialog.deleteLater)
        self.window.keep_dialog(dialog)
        dialog.open()

    def _on_imported(self, run_name: str) -> None:
        self.window.show_message(f"Imported the predictions as run '{run_name}'.")
        self.show_runs([*self.panel.checked_runs(), run_name])

    def _ask_path(self, title: str, name_filter: str, accepted, save: bool = True) -> None:  # noqa: ANN001
        dialog = QFileDialog(self.window, title, "", name_filter)
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave if save else QFileDialog.AcceptMode.AcceptOpen)
        dialog.setFileMode(QFileDialog.FileMode.AnyFile if save else QFileDialog.FileMode.ExistingFile)
        if save:
            dialog.filterSelected.connect(lambda chosen: dialog.setDefaultSuffix(chosen.split("*.")[-1].rstrip(")")))
            dialog.setDefaultSuffix(name_filter.split("*.")[1].split(")")[0])
        dialog.fileSelected.connect(accepted)
        dialog.finished.connect(dialog.deleteLater)
        self.window.keep_dialog(dialog)
        dialog.open()

    def _on_written(self, path) -> None:  # noqa: ANN001 - a Path
        self.window.show_message(f"Wrote {path}.")
        self.panel.show_status(f"Wrote {path}.")

    # ------------------------------------------------------------ slots

    def _on_window_job_finished(self, _job_id: int, kind: str, _state: str) -> None:
        if kind in ("bench.run", "bench.import") and (self.dock.isVisible() or self.rows):
            self.refresh()

    def _on_tasks_failed(self, name: str, message: str) -> None:
        self.window.show_message(message)
        self.panel.show_status(f"{name} failed: {message}")

    def shutdown(self) -> None:
        self.tasks.shutdown()
