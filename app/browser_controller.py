"""The browser: filters and the tree of datasets (cases, series, slices) and benchmarks (items).

The filter panel's values become a :class:`~engine.catalog.SliceFilter` for the dataset
branch and an :class:`~engine.viewer.items.ItemFilter` for the benchmark branch. The tree
fetches its rows a page at a time through :meth:`BrowserController.fetch`.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QScrollArea, QSplitter
from sqlalchemy import select

from db.models import Benchmark, Run
from db.session import Database
from engine.catalog import SliceFilter, count_slices, distinct_values, list_slices, next_slice_id
from engine.catalog_tree import count_groups, list_groups
from engine.viewer.items import ItemFilter, count_items, list_benchmark_groups, list_items, next_item_pk
from engine.viewer.semantics_view import largest_lesion_slice_id
from widgets.browser_tree import BrowserNode, BrowserTree
from widgets.filter_panel import FilterPanel

log = logging.getLogger(__name__)

DATASETS, BENCHMARKS = "datasets", "benchmarks"
# Filters that only slices have; with any of them set, items are shown only when their
# imported slice matches.
SLICE_ONLY = ("modality", "size", "shape", "spread", "location", "has_mask", "has_lesion", "review_state",
              "reviewer")


def slice_filter_of(values: dict[str, Any]) -> SliceFilter:
    """Return the slice filter of the filter panel's ``values``."""
    def listed(key: str) -> list:
        return [values[key]] if values.get(key) is not None else []

    benchmark = values.get("benchmark")
    return SliceFilter(
        tumour_types=listed("tumour_type"), modalities=listed("modality"), has_mask=values.get("has_mask"),
        has_lesion=values.get("has_lesion"), sizes=listed("size"), shapes=listed("shape"),
        spreads=listed("spread"), locations=listed("location"), review_state=values.get("review_state"),
        reviewer=values.get("reviewer"), benchmark_id=benchmark if isinstance(benchmark, int) else None,
        has_questions=True if benchmark == "any" else None, run_id=values.get("run"),
        run_outcome=values.get("run_outcome"), text=values.get("text"),
    )


def item_filter_of(values: dict[str, Any]) -> ItemFilter:
    """Return the benchmark-item filter of the filter panel's ``values``."""
    benchmark = values.get("benchmark")
    slice_only = {key: values.get(key) for key in SLICE_ONLY if values.get(key) is not None}
    slice_filter = slice_filter_of({**slice_only}) if slice_only else None
    return ItemFilter(
        benchmark_ids=[benchmark] if isinstance(benchmark, int) else [],
        tumour_classes=[values["tumour_type"]] if values.get("tumour_type") else [],
        image_missing=values.get("image_missing"), run_id=values.get("run"),
        run_outcome=values.get("run_outcome"), text=values.get("text"), slice_filter=slice_filter,
    )


class BrowserController(QObject):
    """Filter panel and tree. Signals: ``sliceRequested(slice_id)`` and ``itemRequested(item_pk)``
    when the user selects a row that shows something."""

    sliceRequested = Signal(int)
    itemRequested = Signal(int)
    datasetChosen = Signal(str)

    def __init__(self, db: Database, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.db = db
        self.filter_panel = FilterPanel()
        self.tree = BrowserTree(self.fetch)
        scroll = QScrollArea()
        scroll.setWidget(self.filter_panel)
        scroll.setWidgetResizable(True)
        self.widget = QSplitter(Qt.Orientation.Vertical)
        self.widget.addWidget(scroll)
        self.widget.addWidget(self.tree)
        self.widget.setSizes([260, 500])
        self.values = self.filter_panel.values()
        self.filter_panel.filtersChanged.connect(self._on_filter_panel_filters_changed)
        self.tree.nodeSelected.connect(self._on_tree_node_selected)
        self.refresh_choices()
        self.reload()

    # ------------------------------------------------------------ filters

    @property
    def slice_filter(self) -> SliceFilter:
        return slice_filter_of(self.values)

    @property
    def item_filter(self) -> ItemFilter:
        return item_filter_of(self.values)

    def refresh_choices(self) -> None:
        """Offer the filter values present in the database now."""
        with self.db.session() as session:
            choices = distinct_values(session)
            choices["benchmarks"] = session.execute(select(Benchmark.id, Benchmark.name).order_by(Benchmark.name)).all()
            choices["runs"] = session.execute(select(Run.id, Run.name).order_by(Run.name)).all()
        self.filter_panel.set_choices(choices)
        self.values = self.filter_panel.values()

    def _on_filter_panel_filters_changed(self, values: dict) -> None:
        self.values = values
        self.reload()

    # ------------------------------------------------------------ tree

    def reload(self) -> None:
        """Rebuild the tree's top level for the current filters (children load on demand)."""
        with self.db.session() as session:
            slices = 0 if self.values.get("image_missing") else count_slices(session, self.slice_filter)
            items = count_items(session, self.item_filter)
        self.tree.reload([
            BrowserNode(DATASETS, None, "Datasets", count=slices, expandable=True),
            BrowserNode(BENCHMARKS, None, "Benchmarks", count=items, expandable=True),
        ])

    def fetch(self, node: BrowserNode, offset: int, limit: int) -> tuple[list[BrowserNode], int]:
        """Return one page of ``node``'s children and their total number."""
        with self.db.session() as session:
            if node.kind == DATASETS:
                if self.values.get("image_missing"):
                    return [], 0
                return self._groups(session, "dataset", None, offset, limit)
            if node.kind == "dataset":
                return self._groups(session, "case", node.key, offset, limit)
            if node.kind == "case":
                return self._groups(session, "series", node.key, offset, limit)
            if node.kind == "series":
                return self._slices(session, node.key, offset, limit)
            if node.kind == BENCHMARKS:
                rows = list_benchmark_groups(session, self.item_filter)
                nodes = [BrowserNode("benchmark", row.benchmark_id, row.name, count=row.item_count,
                                     expandable=True) for row in rows]
                return nodes[offset:offset + limit], len(nodes)
            if node.kind == "benchmark":
                return self._items(session, node.key, offset, limit)
        return [], 0

    def _groups(self, session, level: str, parent_id, offset: int, limit: int):
        filters = self.slice_filter
        rows = list_groups(session, filters, level, parent_id, offset, limit)
        total = count_groups(session, filters, level, parent_id)
        nodes = [BrowserNode(level, row.id, row.label, detail=row.detail or "", count=row.slice_count,
                             expandable=True) for row in rows]
        return nodes, total

    def _slices(self, session, series_id: int, offset: int, limit: int):
        filters = replace(self.slice_filter, series_ids=[series_id])
        rows = list_slices(session, filters, offset, limit)
        nodes = []
        for row in rows:
            label = row.image_path.rsplit("/", 1)[-1] if row.image_path else f"slice {row.slice_index}"
            nodes.append(BrowserNode("slice", row.slice_id, label, detail="mask" if row.has_mask else ""))
        return nodes, count_slices(session, filters)

    def _items(self, session, benchmark_id: int, offset: int, limit: int):
        filters = replace(self.item_filter, benchmark_ids=[benchmark_id])
        rows = list_items(session, filters, offset, limit)
        nodes = [BrowserNode("item", row.item_pk, f"item {row.item_id}",
                             detail="image missing" if row.image_missing else row.image_path.rsplit("/", 1)[-1])
                 for row in rows]
        return nodes, count_items(session, filters)

    def _on_tree_node_selected(self, node: BrowserNode) -> None:
        if node.kind == "slice":
            self.sliceRequested.emit(node.key)
        elif node.kind == "item":
            self.itemRequested.emit(node.key)
        elif node.kind in ("case", "series"):
            target = self.first_slice_under(node)
            if target is not None:
                self.sliceRequested.emit(target)
        dataset = node
        while dataset is not None and dataset.kind != "dataset":
            dataset = dataset.parent
        if dataset is not None:
            self.datasetChosen.emit(dataset.label)

    # ------------------------------------------------------------ navigation

    def first_slice_under(self, node: BrowserNode) -> int | None:
        """Return the slice to show for a case or series node: the first matching slice of its
        (first) series when a filter is set. Without a filter, a volume with a label map opens
        at the slice where the whole tumour is largest, and one without at its middle slice."""
        narrowed = not self.slice_filter.is_empty()
        with self.db.session() as session:
            series_id = node.key
            if node.kind == "case":
                first = list_groups(session, self.slice_filter, "series", node.key, limit=1)
                if not first:
                    return None
                series_id = first[0].id
            if not narrowed:
                largest = largest_lesion_slice_id(session, series_id)
                if largest is not None:
                    return largest
            filters = replace(self.slice_filter, series_ids=[series_id])
            offset = 0 if narrowed else count_slices(session, filters) // 2
            rows = list_slices(session, filters, offset=offset, limit=1)
        return rows[0].slice_id if rows else None

    def next_slice(self, after_slice_id: int | None, unreviewed_by: str | None) -> int | None:
        """Return the next slice in browser order that matches the filters (and that
        ``unreviewed_by`` has not finished reviewing), or None."""
        filters = replace(self.slice_filter, unreviewed_by=unreviewed_by)
        with self.db.session() as session:
            return next_slice_id(session, filters, after_slice_id)

    def next_item(self, after_item_pk: int | None, unreviewed_by: str | None) -> int | None:
        filters = replace(self.item_filter, unreviewed_by=unreviewed_by)
        with self.db.session() as session:
            return next_item_pk(session, filters, after_item_pk)

    def dataset_node(self, name: str) -> BrowserNode | None:
        """Return the tree node of dataset ``name`` (fetching the dataset level), or None."""
        root = self.tree.model.find_child(self.tree.model.root, DATASETS, None)
        if root is None:
            return None
        self.tree.expand_node(root)
        return next((child for child in root.children if child.label == name), None)
