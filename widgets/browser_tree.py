"""A lazily filled, paged tree for the browser: datasets, cases, series, slices and items.

The tree never contains the whole catalogue. Children are fetched in pages when a node is
expanded or scrolled to its end, through a ``fetch(node, offset, limit)`` function the
application supplies (it queries the database; this widget does not).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from PySide6.QtCore import QAbstractItemModel, QModelIndex, Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTreeView, QVBoxLayout, QWidget

PAGE_SIZE = 200
NAME, COUNT = range(2)
HEADERS = ("Name", "Count")
DISPLAY = Qt.ItemDataRole.DisplayRole.value
TOOLTIP = Qt.ItemDataRole.ToolTipRole.value
ALIGNMENT = Qt.ItemDataRole.TextAlignmentRole.value
RIGHT_ALIGNED = int((Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter).value)


@dataclass(eq=False)
class BrowserNode:
    """One row of the tree.

    ``kind`` names what the row is (the application's words, e.g. ``dataset`` or ``slice``)
    and ``key`` identifies it to the application. ``count`` is shown in the second column.
    ``expandable`` nodes get children from the fetch function.
    """

    kind: str
    key: Any
    label: str
    detail: str = ""
    count: int | None = None
    expandable: bool = False
    parent: BrowserNode | None = field(default=None, repr=False)
    children: list[BrowserNode] = field(default_factory=list, repr=False)
    total: int | None = None  # children available, known after the first fetch

    def row(self) -> int:
        return self.parent.children.index(self) if self.parent is not None else 0

    @property
    def fully_fetched(self) -> bool:
        return self.total is not None and len(self.children) >= self.total


Fetch = Callable[[BrowserNode, int, int], tuple[list[BrowserNode], int]]


class BrowserTreeModel(QAbstractItemModel):
    """Tree model over :class:`BrowserNode` rows, fetched a page at a time."""

    def __init__(self, fetch: Fetch, parent=None) -> None:
        super().__init__(parent)
        self._fetch = fetch
        self.root = BrowserNode("root", None, "", expandable=True)

    def reload(self, roots: list[BrowserNode]) -> None:
        """Replace every row by ``roots`` (top-level nodes); their children are fetched again."""
        self.beginResetModel()
        self.root = BrowserNode("root", None, "", expandable=True, total=len(roots))
        for node in roots:
            node.parent = self.root
        self.root.children = list(roots)
        self.endResetModel()

    def node(self, index: QModelIndex) -> BrowserNode:
        return index.internalPointer() if index.isValid() else self.root

    # ------------------------------------------------------------ structure

    def index(self, row: int, column: int, parent=QModelIndex()) -> QModelIndex:
        node = self.node(parent)
        if 0 <= row < len(node.children):
            return self.createIndex(row, column, node.children[row])
        return QModelIndex()

    def parent(self, index=QModelIndex()) -> QModelIndex:
        if not index.isValid():
            return QModelIndex()
        node = index.internalPointer().parent
        if node is None or node is self.root:
            return QModelIndex()
        return self.createIndex(node.row(), 0, node)

    def rowCount(self, parent=QModelIndex()) -> int:
        if parent.isValid() and parent.column() != 0:
            return 0
        return len(self.node(parent).children)

    def columnCount(self, parent=QModelIndex()) -> int:
        return len(HEADERS)

    def hasChildren(self, parent=QModelIndex()) -> bool:
        node = self.node(parent)
        if node.children:
            return True
        return node.expandable and node.total != 0

    def canFetchMore(self, parent) -> bool:
        node = self.node(parent)
        return node.expandable and not node.fully_fetched

    def fetchMore(self, parent) -> None:
        node = self.node(parent)
        rows, total = self._fetch(node, len(node.children), PAGE_SIZE)
        node.total = total
        if not rows:
            node.total = len(node.children)
            return
        first = len(node.children)
        self.beginInsertRows(parent, first, first + len(rows) - 1)
        for child in rows:
            child.parent = node
        node.children.extend(rows)
        self.endInsertRows()

    # ------------------------------------------------------------ content

    def headerData(self, section, orientation, role=DISPLAY):
        if orientation == Qt.Orientation.Horizontal and role == DISPLAY:
            return HEADERS[section]
        return None

    def data(self, index, role=DISPLAY):
        if not index.isValid():
            return None
        node: BrowserNode = index.internalPointer()
        if role == DISPLAY:
            if index.column() == NAME:
                return f"{node.label}   {node.detail}" if node.detail else node.label
            return "" if node.count is None else str(node.count)
        if role == TOOLTIP:
            return node.detail or node.label
        if role == ALIGNMENT and index.column() == COUNT:
            return RIGHT_ALIGNED
        return None

    def find_child(self, parent: BrowserNode, kind: str, key: Any) -> BrowserNode | None:
        """Return the fetched child of ``parent`` with ``kind`` and ``key``, or None."""
        return next((child for child in parent.children if child.kind == kind and child.key == key), None)

    def index_of(self, node: BrowserNode) -> QModelIndex:
        if node is self.root or node.parent is None:
            return QModelIndex()
        return self.createIndex(node.row(), 0, node)


class BrowserTree(QWidget):
    """The browser's tree view. ``nodeSelected(node)`` fires when the current row changes and
    ``nodeActivated(node)`` on Enter or double-click."""

    nodeSelected = Signal(object)
    nodeActivated = Signal(object)

    def __init__(self, fetch: Fetch, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = BrowserTreeModel(fetch, self)
        self.view = QTreeView(self)
        self.view.setModel(self.model)
        self.view.setUniformRowHeights(True)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.view.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(NAME, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(COUNT, QHeaderView.ResizeMode.ResizeToContents)
        self.view.selectionModel().currentChanged.connect(self._on_selection_current_changed)
        self.view.activated.connect(self._on_view_activated)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)

    def reload(self, roots: list[BrowserNode]) -> None:
        self.model.reload(roots)
        for row in range(len(roots)):
            self.view.expand(self.model.index(row, 0))

    def current_node(self) -> BrowserNode | None:
        index = self.view.currentIndex()
        return self.model.node(index) if index.isValid() else None

    def expand_node(self, node: BrowserNode) -> None:
        """Expand ``node``, fetching its first page of children."""
        index = self.model.index_of(node)
        if self.model.canFetchMore(index) and not node.children:
            self.model.fetchMore(index)
        self.view.expand(index)

    def select_node(self, node: BrowserNode) -> None:
        """Make ``node`` the current row (scrolling to it) without activating it."""
        index = self.model.index_of(node)
        self.view.setCurrentIndex(index)
        self.view.scrollTo(index)

    def _on_selection_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self.nodeSelected.emit(self.model.node(current))

    def _on_view_activated(self, index: QModelIndex) -> None:
        self.nodeActivated.emit(self.model.node(index))
