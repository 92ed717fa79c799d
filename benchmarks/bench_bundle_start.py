"""Start-up time of the desktop bundle: launch to main window shown, and to the demo case on screen.

Run from the repository root after installer/build.sh (standard library only, any Python 3):

    python benchmarks/bench_bundle_start.py [--bundle dist/neuroonco-workbench] [--runs 3]
        [--drop-caches] [--python .venv/bin/python]

The script prepares a clean home folder (temporary HOME and XDG folders, an empty
environment apart from PATH and a UTF-8 locale, Qt's offscreen platform) and creates the
demo study in it with ``neuroonco demo``. Each run then starts
``neuroonco gui --dataset DEMO --screenshot FILE`` as a user's launch would, and records

- shown: seconds from starting the process to the application's ``main window shown`` log
  line, which it writes once the event loop runs with the window shown;
- case on screen: seconds until the process exits after saving the screenshot. It saves it
  once the demo case's slice is on screen and the panels followed it, 400 ms after the
  slice settled (app/screenshot.py), so this time includes that fixed wait.

``neuroonco gui`` starts the program twice: the command replaces itself with the window
process (``neuroonco -m app.main``), so both start-ups are in the numbers.

``--drop-caches`` empties the kernel's page cache before the first run (needs root and a
writable /proc/sys/vm/drop_caches), so that run reads the bundle from disk; later runs find
it in the cache. Without the option, or when dropping fails, every run may be warm, and the
output says so. ``--python`` also times the source tree with that interpreter
(``PYTHON -m app.main``) on the same kind of home folder, for comparison.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEMO_DATASET = "Demo: Colin27 T1 with synthetic lesion"
SHOWN_LINE = "main window shown"
TIMEOUT_S = 300.0


def clean_environment(home: Path) -> dict[str, str]:
    """Return an environment with only PATH, a locale, the home folders and the offscreen platform."""
    folders = {name: home / name.lower() for name in
               ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_RUNTIME_DIR")}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    folders["XDG_RUNTIME_DIR"].chmod(0o700)
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(home),
           "QT_QPA_PLATFORM": "offscreen", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env.update({name: str(folder) for name, folder in folders.items()})
    return env


def drop_caches() -> bool:
    """Write back dirty pages and drop the page cache; return False when not permitted."""
    os.sync()
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError as error:
        print(f"note: dropping the page cache failed ({error}); the runs are warm")
        return False
    return True


def time_launch(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Start ``command`` and return (seconds to the shown line, seconds to exit)."""
    started = time.monotonic()
    process = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(TIMEOUT_S, process.kill)
    watchdog.start()
    shown = None
    tail: list[str] = []
    for line in process.stderr:
        if shown is None and SHOWN_LINE in line:
            shown = time.monotonic() - started
        tail = (tail + [line.rstrip()])[-10:]
    code = process.wait()
    watchdog.cancel()
    finished = time.monotonic() - started
    if code != 0 or shown is None:
        if code == -signal.SIGKILL:
            outcome = f"was killed after {TIMEOUT_S:.0f} s"
        elif code != 0:
            outcome = f"exited with status {code}"
        else:
            outcome = f"exited without logging '{SHOWN_LINE}'"
        raise SystemExit(f"error: {' '.join(command)} {outcome}; its last lines:\n" + "\n".join(tail))
    return shown, finished


def measure(label: str, window: list[str], demo: list[str], runs: int, cold_first: bool,
            extra_env: dict[str, str] | None = None) -> None:
    """Create the demo study with ``demo``, then launch ``window`` ``runs`` times and print the times."""
    home = Path(tempfile.mkdtemp(prefix="neuroonco-start."))
    try:
        env = clean_environment(home) | (extra_env or {})
        work = home / "work"
        work.mkdir()
        subprocess.run(demo, env=env, cwd=work, check=True, stdout=subprocess.DEVNULL)
        shown_times = []
        for index in range(runs):
            cold = cold_first and index == 0 and drop_caches()
            screenshot = home / f"run{index}.png"
            shown, finished = time_launch(
                [*window, "--dataset", DEMO_DATASET, "--screenshot", str(screenshot)], env, work)
            shown_times.append(shown)
            print(f"{label} run {index + 1} ({'cold cache' if cold else 'warm cache'}): "
                  f"shown {shown:.2f} s, case on screen {finished:.2f} s")
        print(f"{label}: shown median {statistics.median(shown_times):.2f} s "
              f"(min {min(shown_times):.2f}, max {max(shown_times):.2f})")
    finally:
        shutil.rmtree(home, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=REPO_ROOT / "dist" / "neuroonco-workbench",
                        help="bundle folder (default: dist/neuroonco-workbench)")
    parser.add_argument("--runs", type=int, default=3, help="launches per program (default 3)")
    parser.add_argument("--drop-caches", action="store_true",
                        help="drop the page cache before the first launch (root only)")
    parser.add_argument("--python", metavar="PYTHON",
                        help="also time the source tree with this interpreter")
    args = parser.parse_args()

    program = args.bundle.resolve() / "neuroonco"
    if not program.is_file():
        raise SystemExit(f"error: {program} not found; build the bundle with installer/build.sh")
    print(f"{platform.platform()}, {os.cpu_count()} CPUs, load average "
          f"{' '.join(f'{value:.1f}' for value in os.getloadavg())}")
    size = subprocess.run(["du", "-sh", str(args.bundle)], capture_output=True, text=True).stdout.split()[0]
    print(f"bundle {args.bundle} ({size})")

    measure("bundle", [str(program), "gui"], [str(program), "demo"], args.runs, args.drop_caches)
    if args.python:
        measure("source", [args.python, "-m", "app.main"], [args.python, "-m", "engine.cli.main", "demo"],
                args.runs, args.drop_caches, {"PYTHONPATH": str(REPO_ROOT)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
