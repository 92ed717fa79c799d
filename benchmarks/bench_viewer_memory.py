"""Resident memory added by opening a four-modality 240 x 240 x 155 case in linked panes.

Run from the repository root:

    QT_QPA_PLATFORM=offscreen python -m benchmarks.bench_viewer_memory

The script writes the case (four int16 NIfTI files and a label map) to a temporary folder.
A fresh interpreter then creates the application and four empty linked panes and measures
its resident set size. It opens the case: it loads the volumes as float32 and the label map
with the engine's readers, builds the sources and shows all four panes with the overlay. Then it scrolls through every slice so
the slice cache fills, and reports the resident memory added, at the end and at its peak. Target: the
case adds less than 300 MB; the script exits 1 when it adds more.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

TARGET_MB = 300.0
REPO_ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, os, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from PySide6.QtWidgets import QApplication
app = QApplication([])
from benchmarks.viewer_cases import MODALITIES, load_case_volume
from engine.display.labels import DisplayLabelMap
from engine.io.masks import read_label_map
from engine.display.slice_cache import default_cache
from engine.display.sources import ImageSliceSource
from widgets.linked_views import LinkedSliceViews


def resident_mb():
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def settle(rounds=30):
    for _ in range(rounds):
        app.processEvents()


folder = Path(sys.argv[2])
panes = LinkedSliceViews()
panes.resize(1200, 900)
panes.show()
settle()
before, peak_before = resident_mb()

volumes = [load_case_volume(folder / f"case_{m.lower()}.nii.gz", m) for m in MODALITIES]
labels = DisplayLabelMap.from_label_map(read_label_map(folder / "case_seg.nii.gz"))
messages = panes.set_case([ImageSliceSource(v, title=v.modality) for v in volumes], labels)
settle()
opened, _ = resident_mb()
for index in range(volumes[0].slice_count):
    panes.views[0].set_slice(index)
    settle(3)
after, peak_after = resident_mb()
print(json.dumps({
    "before_mb": before, "opened_mb": opened, "after_scroll_mb": after,
    "peak_before_mb": peak_before, "peak_after_mb": peak_after,
    "cache_mb": default_cache().nbytes / 2**20, "cache_budget_mb": default_cache().budget_bytes / 2**20,
    "volume_mb": sum(v.data.nbytes for v in volumes) / 2**20, "label_mb": labels.indices.nbytes / 2**20,
    "messages": messages,
}))
"""


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(description="Measure the memory a four-modality case adds (see the module docstring).").parse_args(argv)
    sys.path.insert(0, str(REPO_ROOT))
    from benchmarks.viewer_cases import write_case

    with tempfile.TemporaryDirectory() as folder:
        write_case(Path(folder))
        env = dict(os.environ)
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
        result = subprocess.run([sys.executable, "-c", CHILD, str(REPO_ROOT), folder], env=env,
                                capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        print(result.stderr, file=sys.stderr)
        return 2
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    added = figures["after_scroll_mb"] - figures["before_mb"]
    peak_added = figures["peak_after_mb"] - figures["before_mb"]
    print(f"resident before opening: {figures['before_mb']:.1f} MB")
    print(f"added after opening: {figures['opened_mb'] - figures['before_mb']:.1f} MB")
    print(f"added after scrolling every slice: {added:.1f} MB (peak {peak_added:.1f} MB)")
    print(f"of which volumes {figures['volume_mb']:.1f} MB, label map {figures['label_mb']:.1f} MB, "
          f"slice cache {figures['cache_mb']:.1f} MB of {figures['cache_budget_mb']:.0f} MB")
    if figures["messages"]:
        print("overlay messages:", *figures["messages"], sep="\n  ")
    if added >= TARGET_MB:
        print(f"target missed: the case adds {added:.1f} MB (target {TARGET_MB:.0f} MB)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
