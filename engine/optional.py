"""Importing modules of features that a build may leave out."""

from __future__ import annotations

import importlib
from types import ModuleType


def import_if_present(module_name: str) -> ModuleType | None:
    """Import ``module_name``; return None when it (or its package) does not exist.

    A ModuleNotFoundError raised for any other module (a missing dependency inside the
    feature) propagates, so a broken install is not mistaken for an absent feature.
    """
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name is None or not module_name.startswith(error.name):
            raise
        return None
