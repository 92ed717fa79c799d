"""Menus and keyboard actions of the main window.

Review actions are bound to the viewer and the review panels only (their shortcut context
is those widgets and their children), so typing in the browser's search box never records
a verdict. Window actions (shortcut sheet, search) work everywhere in the window.
"""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox
from sqlalchemy import select

from app.reviews_dialog import ReviewsDialog
from db.models import Benchmark
from widgets.window_shortcuts import window_shortcut

REVIEW_DOCKS = ("Overlay", "Semantics", "Questions", "Review")


def _sequences(action_name: str) -> list[QKeySequence]:
    keys = window_shortcut(action_name).keys
    sequences = [QKeySequence(key) for key in keys]
    if "?" in keys:
        # "?" arrives as Shift+? on most layouts, and Qt matches the two separately.
        sequences.append(QKeySequence("Shift+?"))
    return sequences


def _action(window, name: str, text: str, callback: Callable, checkable: bool = False) -> QAction:
    action = QAction(text, window)
    action.setObjectName(name)
    action.setCheckable(checkable)
    if checkable:
        action.toggled.connect(callback)
    else:
        action.triggered.connect(lambda _checked=False: callback())
    return action


def _review_actions(window) -> dict[str, QAction]:
    review = window.review
    actions = {
        "review.agree": _action(window, "review.agree", "Agree", lambda: review.choose_verdict("agree")),
        "review.disagree": _action(window, "review.disagree", "Disagree", lambda: review.choose_verdict("disagree")),
        "review.flag": _action(window, "review.flag", "Flag", lambda: review.choose_verdict("flag")),
        "review.save_next": _action(window, "review.save_next", "Save and next", review.save_and_next),
        "review.undo": _action(window, "review.undo", "Undo last review", review.undo),
        "review.comment": _action(window, "review.comment", "Comment", window.review_panel.focus_comment),
        "review.next_item": _action(window, "review.next_item", "Next item", lambda: review.step(1)),
        "review.previous_item": _action(window, "review.previous_item", "Previous item", lambda: review.step(-1)),
        "review.blind": _action(window, "review.blind", "Blind mode", window.questions_panel.set_blind,
                                checkable=True),
    }
    actions["review.blind"].setChecked(window.questions_panel.blind)
    scope = [window.case.stack, *(window.docks[title].widget() for title in REVIEW_DOCKS)]
    for name, action in actions.items():
        action.setShortcuts(_sequences(name))
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        for widget in scope:
            widget.addAction(action)
    return actions


def _file_menu(window) -> None:
    menu = window.menu("File")
    menu.addAction(_action(window, "file.import_files", "Import files...", lambda: _import_files(window)))
    menu.addAction(_action(window, "file.import_folder", "Import folder...", lambda: _import_folder(window)))
    menu.addAction(_action(window, "file.import_benchmark", "Import benchmark...",
                           lambda: _import_benchmark(window)))
    menu.addAction(_action(window, "file.set_data_root", "Set data root...", lambda: _set_data_root(window)))
    menu.addSeparator()
    menu.addAction(_action(window, "file.export_reviews", "Export reviews...", lambda: open_reviews(window)))
    menu.addSeparator()
    quit_action = _action(window, "file.quit", "Quit", window.close)
    quit_action.setShortcut(QKeySequence.StandardKey.Quit)
    menu.addAction(quit_action)


def _view_menu(window) -> None:
    menu = window.menu("View")
    panels = menu.addMenu("Panels")
    window.menus["Panels"] = panels
    for dock in window.docks.values():
        panels.addAction(dock.toggleViewAction())
    menu.addSeparator()
    panes = window.panes
    for count in (1, 2, 4):
        menu.addAction(_action(window, f"view.panes_{count}", f"{count} pane{'s' if count > 1 else ''}\tCtrl+{count}",
                               lambda count=count: panes.set_pane_count(count)))
    link = _action(window, "view.link", "Link panes\tL", panes.set_linked, checkable=True)
    link.setChecked(panes.linked)
    panes.linkedChanged.connect(link.setChecked)
    menu.addAction(link)
    neurological = _action(window, "view.neurological", "Neurological convention\tN",
                           lambda checked: panes.set_convention("neurological" if checked else "radiological"),
                           checkable=True)
    menu.addAction(neurological)


def _review_menu(window, actions: dict[str, QAction]) -> None:
    menu = window.menu("Review")
    for name in ("review.agree", "review.disagree", "review.flag"):
        menu.addAction(actions[name])
    menu.addSeparator()
    for name in ("review.save_next", "review.undo", "review.comment", "review.next_item", "review.previous_item"):
        menu.addAction(actions[name])
    menu.addSeparator()
    menu.addAction(actions["review.blind"])
    menu.addAction(_action(window, "review.reviewer", "Reviewer name...", lambda: window.review.ask_reviewer()))
    menu.addAction(_action(window, "review.list", "Reviews and export...", lambda: open_reviews(window)))


def _help_menu(window) -> dict[str, QAction]:
    menu = window.menu("Help")
    sheet = _action(window, "window.shortcuts", "Keyboard shortcuts", window.show_shortcuts)
    sheet.setShortcuts(_sequences("window.shortcuts"))
    window.addAction(sheet)
    menu.addAction(sheet)
    menu.addAction(_action(window, "help.about", "About", lambda: _about(window)))
    search = _action(window, "window.search", "Search the browser", lambda: _focus_search(window))
    search.setShortcuts(_sequences("window.search"))
    window.addAction(search)
    return {"window.shortcuts": sheet, "window.search": search}


def build_menus(window) -> dict[str, QAction]:
    """Build the File, View, Review and Help menus; return the actions by name."""
    actions = _review_actions(window)
    _file_menu(window)
    _view_menu(window)
    _review_menu(window, actions)
    actions.update(_help_menu(window))
    return actions


# ---------------------------------------------------------------- dialogs behind the menus


def open_reviews(window) -> ReviewsDialog:
    dialog = ReviewsDialog(window.db, window)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    window.keep_dialog(dialog)
    window.reviewSaved.connect(dialog.refresh)
    dialog.show()
    return dialog


def _file_dialog(window, title: str, mode, name_filter: str, accepted: Callable) -> QFileDialog:
    dialog = QFileDialog(window, title, "", name_filter)
    dialog.setFileMode(mode)
    if mode == QFileDialog.FileMode.ExistingFiles:
        dialog.filesSelected.connect(accepted)
    else:
        dialog.fileSelected.connect(accepted)
    dialog.finished.connect(dialog.deleteLater)
    window.keep_dialog(dialog)
    dialog.open()
    return dialog


def _import_files(window) -> None:
    _file_dialog(window, "Import images and masks", QFileDialog.FileMode.ExistingFiles,
                 "Images and masks (*.nii *.nii.gz *.dcm *.png *.jpg *.jpeg *.txt);;All files (*)",
                 lambda paths: window.submit_import(list(paths)))


def _import_folder(window) -> None:
    window.choose_folder("Import a folder (BraTS case, MM-NeuroOnco data root, DICOM, NIfTI)", "",
                         lambda folder: window.submit_import([folder]))


def _import_benchmark(window) -> None:
    def closed_chosen(closed: str) -> None:
        answer = QMessageBox.question(window, "Open questions",
                                      "Import the open questions of the same items too?")
        if answer != QMessageBox.StandardButton.Yes:
            window.submit_benchmark_import(closed)
            return
        _file_dialog(window, "Open benchmark JSON", QFileDialog.FileMode.ExistingFile, "JSON (*.json)",
                     lambda open_path: window.submit_benchmark_import(closed, open_path))

    _file_dialog(window, "Closed benchmark JSON", QFileDialog.FileMode.ExistingFile, "JSON (*.json)",
                 closed_chosen)


def _set_data_root(window) -> None:
    from app.case_controller import DataRootRequest

    with window.db.session() as session:
        names = list(session.scalars(select(Benchmark.name).order_by(Benchmark.name)))
    if not names:
        window.show_message("No benchmark is imported; import one with File > Import benchmark.")
        return
    dialog = QInputDialog(window)
    dialog.setWindowTitle("Set data root")
    dialog.setLabelText("Benchmark whose images you have:")
    dialog.setComboBoxItems(names)
    dialog.textValueSelected.connect(
        lambda name: window.request_data_root(DataRootRequest("benchmark", name, f"benchmark '{name}'")))
    dialog.finished.connect(dialog.deleteLater)
    window.keep_dialog(dialog)
    dialog.open()


def _about(window) -> None:
    QMessageBox.about(window, "NeuroOnco Workbench",
                      "NeuroOnco Workbench: MRI brain-tumour slices, masks, semantics and vision-language "
                      "model answers, with clinician review. Runs offline; no model or GPU is needed to "
                      "review imported runs.")


def _focus_search(window) -> None:
    window.docks["Browser"].show()
    window.browser.filter_panel.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
    window.browser.filter_panel.search.selectAll()
