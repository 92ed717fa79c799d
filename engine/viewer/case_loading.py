"""Loading the series of one case (and its mask) for the panes, off the GUI thread.

:func:`load_case` reads files and builds arrays only: it touches neither Qt nor the
database, so the main window runs it on a worker thread and polls a :class:`LoadProgress`.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from engine.display.labels import DisplayLabelMap
from engine.errors import Cancelled, WorkbenchError
from engine.io.volume import Volume
from engine.viewer.case_files import CaseFiles, SeriesFile, load_mask, load_series

log = logging.getLogger(__name__)

MAX_PANES = 4


@dataclass
class LoadProgress:
    """Progress shared between the loading thread (writer) and the GUI thread (reader).

    Plain attribute writes and reads are atomic in CPython, so no lock is needed for
    these counters. ``cancel`` is an Event, which the loader checks between files.
    """

    total: int = 0
    done: int = 0
    message: str = ""
    cancel: threading.Event = field(default_factory=threading.Event)

    def check(self) -> None:
        if self.cancel.is_set():
            raise Cancelled("loading cancelled")


@dataclass
class LoadedCase:
    """Volumes of the shown series (pane order) with their rows, and the mask if any.

    ``mask_error`` explains why a case with a mask shows none (file missing or changed).
    """

    files: CaseFiles
    series: list[SeriesFile]
    volumes: list[Volume]
    label_map: DisplayLabelMap | None
    mask_error: str | None = None


def panes_for(files: CaseFiles, requested_series_id: int | None) -> list[SeriesFile]:
    """Return the series to show: the first four in pane order, always including ``requested``."""
    chosen = list(files.series[:MAX_PANES])
    requested = files.series_by_id(requested_series_id) if requested_series_id is not None else None
    if requested is not None and requested not in chosen:
        chosen[-1] = requested
    return chosen


def load_case(files: CaseFiles, requested_series_id: int | None, progress: LoadProgress) -> LoadedCase:
    """Load the series shown for ``files`` and the mask on the requested series' grid.

    Raises ImageMissingError or InvalidInputError (from the first series that fails) and
    Cancelled when ``progress.cancel`` is set between two files. A missing or changed
    mask does not fail the load; the image is shown without it and ``mask_error`` gives the reason.
    """
    shown = panes_for(files, requested_series_id)
    mask = files.mask_for(requested_series_id if requested_series_id is not None else shown[0].series_id)
    progress.total = len(shown) + (mask is not None)
    volumes = []
    for entry in shown:
        progress.check()
        progress.message = f"loading {entry.title}"
        volumes.append(load_series(entry))
        progress.done += 1

    label_map = None
    mask_error = None
    if mask is not None:
        progress.check()
        progress.message = "loading the mask"
        reference = files.series_by_id(mask.reference_series_id) if mask.reference_series_id else None
        reference = reference if reference in shown else shown[0]
        try:
            label_map = load_mask(mask, reference, volumes[shown.index(reference)])
        except WorkbenchError as error:
            log.warning("case %s: mask %s not shown: %s", files.case_id, mask.mask_id, error)
            mask_error = str(error)
        progress.done += 1
    return LoadedCase(files, shown, volumes, label_map, mask_error)
