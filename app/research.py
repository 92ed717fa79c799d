"""The research windows attached to the main window: benchmark sessions and comparison,
the instruction pipeline with silver-label review, fine-tuning, and the model registry.

:func:`attach_research` adds their menus, docks and actions through the main window's
extension API and returns the controllers. The application calls it once after the main
window exists; on that call the fine-tuning controller re-attaches to running trainings.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QDockWidget

from app.comparison_controller import ComparisonController
from app.finetune_controller import FineTuneController
from app.models_controller import ModelsController
from app.pipeline_controller import PipelineController
from app.post_training_controller import PostTrainingController
from app.screen_fit import fit_to_screen
from app.session_controller import SessionController
from app.silver_label_controller import SilverLabelController
from widgets.research_shortcuts import research_shortcut

log = logging.getLogger(__name__)

# Size of a dock window the first time it floats (logical pixels).
FLOATING_SIZE = (1200, 760)
# Settings key of the docks shown before, so only a first showing floats.
SHOWN_DOCKS_KEY = "research/shown_docks"
# (menu, text, action in RESEARCH_SHORTCUTS or None) of each window-wide action.
ACTIONS = {
    "sessions": ("Benchmark", "Run benchmark session...", "research.sessions"),
    "comparison": ("Benchmark", "Compare runs and reports", "research.comparison"),
    "import_preds": ("Benchmark", "Import predictions...", None),
    "pipeline": ("Pipeline", "Pipeline runs...", "research.pipeline"),
    "silver_labels": ("Pipeline", "Silver labels of this slice", "research.silver_labels"),
    "finetune": ("Training", "Fine-tune a model...", "research.finetune"),
    "monitor": ("Training", "Training monitor", "research.monitor"),
    "post_training": ("Training", "Benchmark adapter against base...", None),
    "models": ("Models", "Model registry...", "research.models"),
}


@dataclass
class ResearchTools:
    sessions: SessionController
    comparison: ComparisonController
    pipeline: PipelineController
    silver_labels: SilverLabelController
    finetune: FineTuneController
    post_training: PostTrainingController
    models: ModelsController

    def shutdown(self) -> None:
        """Stop every controller's timers and worker thread."""
        for controller in (self.sessions, self.comparison, self.pipeline, self.silver_labels,
                           self.finetune, self.post_training, self.models):
            controller.shutdown()


def show_dock(window, dock: QDockWidget, floating: bool = True) -> None:  # noqa: ANN001 - a MainWindow
    """Show ``dock`` where the saved layout put it.

    With ``floating``, a dock shown for the first time in these settings floats at a size
    its charts can use, shrunk and moved where needed to lie on the main window's screen.
    Afterwards it stays where the user left it.
    """
    if not dock.isVisible():
        window.restoreDockWidget(dock)
        dock.show()
        shown = _shown_docks(window.settings)
        if floating and dock.objectName() not in shown:
            dock.setFloating(True)
            dock.resize(*FLOATING_SIZE)
            fit_to_screen(dock, window)
        if dock.objectName() not in shown:
            window.settings.qsettings.setValue(SHOWN_DOCKS_KEY, json.dumps(sorted({*shown, dock.objectName()})))
    dock.raise_()


def _shown_docks(settings) -> set[str]:  # noqa: ANN001 - an AppSettings
    try:
        names = json.loads(str(settings.qsettings.value(SHOWN_DOCKS_KEY, "[]")))
    except json.JSONDecodeError:
        return set()
    return {str(name) for name in names} if isinstance(names, list) else set()


class _CloseWatcher(QObject):
    """Shuts the research controllers down when the main window closes."""

    def __init__(self, tools: ResearchTools, parent: QObject) -> None:
        super().__init__(parent)
        self.tools = tools

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.Close:
            self.tools.shutdown()
        return False


def attach_research(window, reattach: bool = True) -> ResearchTools:  # noqa: ANN001 - a MainWindow
    """Add the research menus, docks and dialogs to ``window``; return the controllers.

    With ``reattach`` the fine-tuning monitor follows training runs whose process is still
    alive (started before this window opened).
    """
    sessions = SessionController(window)
    comparison = ComparisonController(window, lambda dock: show_dock(window, dock), sessions.resume)
    pipeline = PipelineController(window)
    silver_labels = SilverLabelController(window, lambda dock: show_dock(window, dock, floating=False))
    finetune = FineTuneController(window, lambda dock: show_dock(window, dock))
    post_training = PostTrainingController(window, finetune, sessions, comparison)
    models = ModelsController(window)
    tools = ResearchTools(sessions, comparison, pipeline, silver_labels, finetune, post_training, models)

    callbacks = {
        "sessions": sessions.open_dialog,
        "comparison": comparison.open,
        "import_preds": comparison.import_predictions,
        "pipeline": pipeline.open_dialog,
        "silver_labels": silver_labels.open,
        "finetune": finetune.open_dialog,
        "monitor": finetune.open_monitor,
        "post_training": post_training.ask,
        "models": models.open_window,
    }
    window.research_actions = {}
    for name, (menu, text, shortcut) in ACTIONS.items():
        shortcuts = research_shortcut(shortcut).keys if shortcut else ()
        window.research_actions[name] = window.add_action(menu, text, callbacks[name], shortcuts=shortcuts)
    window.installEventFilter(_CloseWatcher(tools, window))
    window.research = tools
    if reattach:
        finetune.reattach()
    log.info("research windows attached")
    return tools
