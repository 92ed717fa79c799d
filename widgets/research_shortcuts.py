"""Keys of the research windows: window-wide actions and the silver-label panel.

The window actions open the session, comparison, pipeline, fine-tuning and model-registry
windows from anywhere in the main window. The silver-label keys act only while the
silver-label panel has the keyboard focus; Y and U mean agree and disagree there as they do
in the review panel. No key here repeats a viewer key or another window key.
"""

from __future__ import annotations

from widgets.shortcuts import Shortcut

RESEARCH = "Research windows"
SILVER = "Silver labels"

RESEARCH_SHORTCUTS: tuple[Shortcut, ...] = (
    Shortcut("research.sessions", ("Ctrl+Shift+B",), "Run a benchmark session", RESEARCH),
    Shortcut("research.comparison", ("Ctrl+Shift+C",), "Compare runs and write reports", RESEARCH),
    Shortcut("research.pipeline", ("Ctrl+Shift+P",), "Pipeline runs: stages, AIR, exports", RESEARCH),
    Shortcut("research.silver_labels", ("Ctrl+Shift+L",), "Silver labels of the slice on screen",
             RESEARCH),
    Shortcut("research.finetune", ("Ctrl+Shift+T",), "Fine-tune a model", RESEARCH),
    Shortcut("research.monitor", ("Ctrl+Shift+M",), "Training monitor", RESEARCH),
    Shortcut("research.models", ("Ctrl+Shift+R",), "Model registry", RESEARCH),
    Shortcut("silver.accept", ("Y",), "Accept the selected field's value", SILVER),
    Shortcut("silver.correct", ("U",), "Correct the selected field: choose the right value", SILVER),
    Shortcut("silver.save", ("Return", "Enter"), "Save the correction of the selected field", SILVER),
    Shortcut("silver.next", ("J",), "Next field", SILVER),
    Shortcut("silver.previous", ("K",), "Previous field", SILVER),
    Shortcut("silver.undo", ("Ctrl+Z",), "Undo the last silver-label review", SILVER),
)


def research_shortcut(action: str) -> Shortcut:
    """Return the binding of ``action``; raises KeyError for an unknown one."""
    for entry in RESEARCH_SHORTCUTS:
        if entry.action == action:
            return entry
    raise KeyError(action)
