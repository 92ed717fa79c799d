"""The desktop bundle's entry point and desktop-entry installer, run from the source tree.

The bundle itself is built and checked by installer/build.sh and installer/smoke.sh, which
take minutes and are not part of this suite. These tests run the same entry point with the
source interpreter, so its dispatch of ``-m MODULE``, ``SCRIPT.py`` and the neuroonco
commands is checked on every run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
ENTRY = REPO_ROOT / "installer" / "bundle_main.py"
INSTALL_ENTRY = REPO_ROOT / "installer" / "install-desktop-entry.sh"


def run_entry(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, str(ENTRY), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_entry_runs_neuroonco_command():
    finished = run_entry("--version")

    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.startswith("neuroonco ")


def test_entry_runs_module_as_main():
    finished = run_entry("-m", "engine.cli.main", "--version")

    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.startswith("neuroonco ")


def test_entry_passes_module_exit_status():
    finished = run_entry("-u", "-m", "engine.cli.main", "no-such-command")

    assert finished.returncode == 2
    assert "invalid choice: 'no-such-command'" in finished.stderr


def test_entry_gui_runs_window_module():
    finished = run_entry("gui", "--help")

    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.startswith("usage: neuroonco-gui")
    assert "--screenshot PNG" in finished.stdout


def test_entry_runs_script_with_arguments(tmp_path):
    script = tmp_path / "probe.py"
    script.write_text("import sys\nprint(__name__, sys.argv[1:], sys.path[0])\nsys.exit(3)\n")

    finished = run_entry(str(script), "one", "two", cwd=tmp_path)

    assert finished.returncode == 3
    assert finished.stdout.strip() == f"__main__ ['one', 'two'] {tmp_path}"


def test_entry_missing_script_is_command():
    finished = run_entry("missing.py")

    assert finished.returncode == 2
    assert "invalid choice: 'missing.py'" in finished.stderr


@pytest.fixture
def fake_bundle(tmp_path) -> Path:
    """A bundle folder with the desktop files build.sh copies and a stand-in program."""
    bundle = tmp_path / "my bundle"
    bundle.mkdir()
    shutil.copy(INSTALL_ENTRY, bundle)
    shutil.copy(REPO_ROOT / "installer" / "neuroonco-workbench.desktop", bundle)
    for suffix in ("svg", "png"):
        shutil.copy(REPO_ROOT / "resources" / "icons" / f"neuroonco-workbench.{suffix}", bundle)
    program = bundle / "neuroonco"
    program.write_text("#!/bin/sh\nexit 0\n")
    program.chmod(0o755)
    return bundle


def run_install(bundle: Path, data_home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ["PATH"], "HOME": str(data_home.parent), "XDG_DATA_HOME": str(data_home)}
    return subprocess.run(["bash", str(bundle / "install-desktop-entry.sh"), *args], env=env,
                          capture_output=True, text=True, timeout=60)


def test_desktop_entry_names_bundle_program(fake_bundle, tmp_path):
    data_home = tmp_path / "data"

    finished = run_install(fake_bundle, data_home)

    assert finished.returncode == 0, finished.stderr
    entry = data_home / "applications" / "neuroonco-workbench.desktop"
    lines = entry.read_text().splitlines()
    assert lines[0] == "[Desktop Entry]"
    assert f'Exec="{fake_bundle}/neuroonco" gui' in lines
    assert "Icon=neuroonco-workbench" in lines
    assert (data_home / "icons" / "hicolor" / "scalable" / "apps" / "neuroonco-workbench.svg").is_file()
    assert (data_home / "icons" / "hicolor" / "256x256" / "apps" / "neuroonco-workbench.png").is_file()


def test_desktop_entry_removed(fake_bundle, tmp_path):
    data_home = tmp_path / "data"
    run_install(fake_bundle, data_home)

    finished = run_install(fake_bundle, data_home, "--remove")

    assert finished.returncode == 0, finished.stderr
    assert not (data_home / "applications" / "neuroonco-workbench.desktop").exists()
    assert not (data_home / "icons" / "hicolor" / "256x256" / "apps" / "neuroonco-workbench.png").exists()


def test_desktop_entry_rejects_dollar_path(fake_bundle, tmp_path):
    odd = fake_bundle.rename(tmp_path / "price$bundle")
    data_home = tmp_path / "data"

    finished = run_install(odd, data_home)

    assert finished.returncode == 1
    assert f"the bundle path '{odd}' contains" in finished.stderr
    assert not (data_home / "applications").exists()
