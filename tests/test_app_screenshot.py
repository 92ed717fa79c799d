"""``neuroonco gui --screenshot PNG``: the window saves itself once the demo case is on screen, then quits."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.gui, pytest.mark.slow]


def run_gui(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """Run ``neuroonco --db ... gui ARGS`` offscreen on a new database and settings file."""
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["NEUROONCO_SETTINGS"] = str(tmp_path / "settings.ini")
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    command = [sys.executable, "-m", "engine.cli.main", "--db", f"sqlite:///{tmp_path / 'workbench.sqlite'}",
               "gui", *args]
    return subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_screenshot_shows_demo_case(tmp_path):
    png = tmp_path / "window.png"

    finished = run_gui(tmp_path, "--demo", "--screenshot", str(png))

    assert finished.returncode == 0, finished.stderr
    assert "main window shown" in finished.stderr
    assert png.is_file()
    with Image.open(png) as image:
        assert image.format == "PNG"
        pixels = np.asarray(image.convert("RGB")).astype(int)
    height, width = pixels.shape[:2]
    assert width >= 640, width
    assert height >= 480, height
    colours = len(np.unique(pixels.reshape(-1, 3), axis=0))
    assert colours >= 256, f"only {colours} colours: the window looks blank"
    # The demo lesion's oedema (label 2) is drawn green over the grey T1 slice; the legend's
    # swatch alone is a few hundred pixels.
    red, green, blue = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    overlay = int(((green - np.maximum(red, blue)) > 60).sum())
    assert overlay > 2000, f"{overlay} green pixels: the demo case's overlay is not on screen"


def test_screenshot_unwritable_path_fails(tmp_path):
    png = tmp_path / "missing-folder" / "window.png"

    finished = run_gui(tmp_path, "--demo", "--screenshot", str(png))

    assert finished.returncode == 1
    assert f"writing the screenshot {png} failed" in finished.stderr
    assert not png.exists()
