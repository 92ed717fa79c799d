"""Slice change to painted frame: the slice view beside a bare pyqtgraph ImageItem loop.

Run from the repository root with the offscreen platform:

    QT_QPA_PLATFORM=offscreen python -m benchmarks.bench_viewer

Two timings per frame, both starting at the slice change:

- painted: until the view's viewport has repainted (``viewport().repaint()``), the frame
  on screen;
- event pass: until one ``QApplication.processEvents()`` pass has run instead, which
  also covers whatever else that pass does (idle prefetch, a legend refresh when due).

Between frames the script spins the event loop for ``--cadence-ms`` (untimed), as when a
user scrolls a wheel. Cases:

- bare: a pyqtgraph ImageItem in a ViewBox, ``setImage(slice, levels=...)`` per frame,
  and the same with a second ImageItem for the label slice;
- slice view, cold: SliceView with overlay and a legend of 116 labels, with the slice
  cache emptied before every frame, so each frame reads and reorders its slices;
- slice view, scrolling: the same with the cache and prefetch working;
- four linked panes, cold: one slice change moves and repaints all four panes.

The painted timing is also given as CPU time of the whole process, because Qt uses helper
threads while drawing (the process used more CPU than the GUI thread during a frame). Other processes on a shared machine inflate the
wall time but not the CPU time, so compare the two before reading a missed target.
Targets, on the painted wall time: 240 x 240 x 155 with overlay, median under 10 ms and p95
under 20 ms; 512 x 512, median under 16 ms. The script exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pyqtgraph as pg  # noqa: E402
from PySide6.QtCore import QEvent, QObject  # noqa: E402
from PySide6.QtWidgets import QApplication, QHBoxLayout, QWidget  # noqa: E402

from benchmarks.viewer_cases import brats_like_case, large_slice_case  # noqa: E402
from engine.display.slice_cache import PrefetchQueue, SliceCache  # noqa: E402
from engine.display.sources import ImageSliceSource, LabelSliceSource  # noqa: E402
from widgets.label_legend import LabelLegend  # noqa: E402
from widgets.linked_views import LinkedSliceViews  # noqa: E402
from widgets.slice_view import SliceView  # noqa: E402

VIEW_SIZE = (800, 800)


class PaintCounter(QObject):
    """Counts paint events of one widget (the graphics viewport)."""

    def __init__(self, widget) -> None:
        super().__init__(widget)
        self.count = 0
        widget.installEventFilter(self)

    def eventFilter(self, watched, event) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.count += 1
        return False


def spin(app: QApplication, milliseconds: float) -> None:
    """Run the event loop for ``milliseconds`` of wall time."""
    deadline = time.perf_counter() + milliseconds / 1000.0
    while time.perf_counter() < deadline:
        app.processEvents()


class FrameTimer:
    """Times frames both ways; ``viewports`` are the widgets each frame must repaint."""

    def __init__(self, app: QApplication, viewports: list, cadence_ms: float) -> None:
        self.app = app
        self.viewports = viewports
        self.counters = [PaintCounter(viewport) for viewport in viewports]
        self.cadence_ms = cadence_ms
        self.painted: list[float] = []
        self.painted_cpu: list[float] = []
        self.event_pass: list[float] = []

    def run(self, change, frames, before=None) -> None:
        """Time ``change(frame)`` for each frame, painted and event pass on alternate frames."""
        for number, frame in enumerate(frames):
            if before is not None:
                before()
            counts = [counter.count for counter in self.counters]
            start = time.perf_counter()
            start_cpu = time.process_time()
            change(frame)
            if number % 2 == 0:
                for viewport in self.viewports:
                    viewport.repaint()
                self.painted.append(time.perf_counter() - start)
                self.painted_cpu.append(time.process_time() - start_cpu)
            else:
                self.app.processEvents()
                self.event_pass.append(time.perf_counter() - start)
            if any(counter.count == count for counter, count in zip(self.counters, counts)):
                raise RuntimeError(f"frame {frame} did not repaint every view; the measurement is invalid")
            spin(self.app, self.cadence_ms)

    def results(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return painted wall time, painted process CPU time and event-pass wall time, ms."""
        milliseconds = [np.array(times) * 1000.0 for times in (self.painted, self.painted_cpu, self.event_pass)]
        return milliseconds[0], milliseconds[1], milliseconds[2]


def bare_loop(app, volume, labels, with_overlay: bool, cadence_ms: float) -> FrameTimer:
    view = pg.GraphicsView()
    box = pg.ViewBox(lockAspect=True, invertY=True)
    view.setCentralItem(box)
    image_item = pg.ImageItem(axisOrder="row-major")
    box.addItem(image_item)
    overlay = pg.ImageItem(axisOrder="row-major")
    overlay.setLookupTable(labels.lookup_table())
    overlay.setOpacity(0.5)
    if with_overlay:
        box.addItem(overlay)
    count = volume.data.shape[2]
    slices = [np.ascontiguousarray(volume.data[:, :, k].T[::-1, ::-1]) for k in range(count)]
    label_slices = [np.ascontiguousarray(labels.indices[:, :, k].T[::-1, ::-1]) for k in range(count)]
    stats = volume.intensity_stats()
    levels = (stats["p1"], stats["p99"])
    view.resize(*VIEW_SIZE)
    view.show()
    image_item.setImage(slices[0], levels=levels)
    box.autoRange()
    spin(app, 200)

    def change(k):
        image_item.setImage(slices[k], levels=levels, autoLevels=False)
        if with_overlay:
            overlay.setImage(label_slices[k], levels=(0, 256), autoLevels=False)

    timer = FrameTimer(app, [view.viewport()], cadence_ms)
    timer.run(change, range(1, count))
    view.close()
    view.deleteLater()
    return timer


def slice_view_frames(app, volume, labels, scrolling: bool, cadence_ms: float) -> FrameTimer:
    cache = SliceCache()
    queue = PrefetchQueue()
    window = QWidget()
    layout = QHBoxLayout(window)
    view = SliceView(parent=window)
    legend = LabelLegend(view.overlay_settings, window)
    layout.addWidget(view, 3)
    layout.addWidget(legend, 1)
    image = ImageSliceSource(volume, cache=cache, prefetch_queue=queue)
    view.set_image(image, index=0)
    legend.attach(view)
    view.set_labels(LabelSliceSource.for_image(labels, image))
    window.resize(VIEW_SIZE[0] + 300, VIEW_SIZE[1])
    window.show()
    spin(app, 200)

    def empty_cache():
        cache.clear()
        queue.cancel(image.uid)
        queue.cancel(view.label_source.uid)

    timer = FrameTimer(app, [view._graphics.viewport()], cadence_ms)
    timer.run(view.set_slice, range(1, image.slice_count), None if scrolling else empty_cache)
    window.close()
    window.deleteLater()
    return timer


def linked_frames(app, volumes, labels, cadence_ms: float) -> FrameTimer:
    cache = SliceCache()
    queue = PrefetchQueue()
    panes = LinkedSliceViews()
    sources = [ImageSliceSource(v, title=v.modality, cache=cache, prefetch_queue=queue) for v in volumes]
    panes.set_case(sources, labels)
    panes.resize(VIEW_SIZE[0] + 200, VIEW_SIZE[1])
    panes.show()
    panes.views[0].set_slice(0)
    spin(app, 200)

    def empty_cache():
        cache.clear()
        for view in panes.views:
            queue.cancel(view.image_source.uid)
            if view.label_source is not None:
                queue.cancel(view.label_source.uid)

    timer = FrameTimer(app, [view._graphics.viewport() for view in panes.views], cadence_ms)
    timer.run(panes.views[0].set_slice, range(1, sources[0].slice_count), empty_cache)
    panes.close()
    panes.deleteLater()
    return timer


def summary(times: np.ndarray) -> tuple[float, float, float]:
    return float(np.median(times)), float(np.percentile(times, 95)), float(times.max())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time slice changes of the slice view (see the module docstring).")
    parser.add_argument("--cadence-ms", type=float, default=20.0,
                        help="untimed event-loop time between frames, milliseconds (default 20)")
    args = parser.parse_args(argv)
    app = QApplication.instance() or QApplication(sys.argv)
    volumes, atlas = brats_like_case()
    large, large_labels = large_slice_case()

    rows = []
    for name, volume, labels in (("240x240x155", volumes[0], atlas), ("512x512x60", large, large_labels)):
        rows.append((name, "bare ImageItem", bare_loop(app, volume, labels, False, args.cadence_ms)))
        rows.append((name, "bare ImageItem + overlay item", bare_loop(app, volume, labels, True, args.cadence_ms)))
        rows.append((name, "slice view + overlay + legend, cold",
                     slice_view_frames(app, volume, labels, False, args.cadence_ms)))
        rows.append((name, "slice view + overlay + legend, scrolling",
                     slice_view_frames(app, volume, labels, True, args.cadence_ms)))
    rows.append(("240x240x155", "4 linked panes + overlay, cold", linked_frames(app, volumes, atlas, args.cadence_ms)))

    print(f"platform: {platform.platform()}, Python {platform.python_version()}, "
          f"Qt platform {app.platformName()}, view {VIEW_SIZE[0]}x{VIEW_SIZE[1]} logical px, "
          f"cadence {args.cadence_ms:g} ms, load average {os.getloadavg()[0]:.2f}")
    print("| Volume | Case | Painted, wall: median / p95 / max ms | Painted, CPU: median / p95 / max ms "
          "| Event pass, wall: median / p95 / max ms |")
    print("|---|---|---|---|---|")
    for name, case, timer in rows:
        painted, painted_cpu, event_pass = timer.results()
        print(f"| {name} | {case} | {format_times(painted)} | {format_times(painted_cpu)} | {format_times(event_pass)} |")

    failures = []
    for name, case, timer in rows:
        if not case.startswith("slice view"):
            continue
        median, p95, _ = summary(timer.results()[0])
        if name.startswith("240") and (median >= 10 or p95 >= 20):
            failures.append(f"{name} {case}: median {median:.2f} ms, p95 {p95:.2f} ms (targets 10 and 20)")
        if name.startswith("512") and median >= 16:
            failures.append(f"{name} {case}: median {median:.2f} ms (target 16)")
    for failure in failures:
        print(f"target missed: {failure}")
    return 1 if failures else 0


def format_times(times: np.ndarray) -> str:
    median, p95, worst = summary(times)
    return f"{median:.2f} / {p95:.2f} / {worst:.2f}"


if __name__ == "__main__":
    sys.exit(main())
