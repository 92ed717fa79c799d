"""Keys of the main window: the review workflow and window commands.

The viewer's own keys live in :data:`widgets.shortcuts.SHORTCUTS`; no key here may repeat
one of them. Review keys act while the viewer or a review panel has the keyboard focus, so
typing in the browser's search box never records a verdict.
"""

from __future__ import annotations

from widgets.shortcuts import Shortcut

REVIEW = "Review"
WINDOW = "Window"

WINDOW_SHORTCUTS: tuple[Shortcut, ...] = (
    Shortcut("review.agree", ("Y",), "Verdict: agree with the selected answer or slice", REVIEW),
    Shortcut("review.disagree", ("U",), "Verdict: disagree", REVIEW),
    Shortcut("review.flag", ("F",), "Verdict: flag for another expert", REVIEW),
    Shortcut("review.save_next", ("Return", "Enter"),
             "Save the review and go to the next unreviewed item", REVIEW),
    Shortcut("review.undo", ("Ctrl+Z",), "Undo the last saved review", REVIEW),
    Shortcut("review.comment", ("C",), "Write a comment (Enter saves)", REVIEW),
    Shortcut("review.next_item", ("J",), "Next review item, without saving", REVIEW),
    Shortcut("review.previous_item", ("K",), "Previous review item, without saving", REVIEW),
    Shortcut("review.blind", ("B",), "Blind mode: hide gold answers and correctness", REVIEW),
    Shortcut("window.shortcuts", ("?", "F1"), "Show the shortcut sheet", WINDOW),
    Shortcut("window.search", ("Ctrl+F",), "Search the browser", WINDOW),
)


def window_shortcut(action: str) -> Shortcut:
    """Return the binding of window action ``action``; raises KeyError for an unknown one."""
    for entry in WINDOW_SHORTCUTS:
        if entry.action == action:
            return entry
    raise KeyError(action)


def key_hint(action: str) -> str:
    """Return the keys of ``action`` for a tooltip, e.g. ``"Return / Enter"``."""
    return " / ".join(window_shortcut(action).keys)
