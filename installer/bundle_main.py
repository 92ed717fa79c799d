"""Entry point of the desktop bundle's ``neuroonco`` program (installer/neuroonco.spec).

The bundle has no separate Python interpreter: ``sys.executable`` is this program. The
workbench starts its child processes as it does from a virtual environment. It runs
``sys.executable -m MODULE ...`` for the window of ``neuroonco gui``, job workers, training
runs and ``accelerate launch``, and ``sys.executable SCRIPT.py ...`` for llama.cpp's GGUF
converter. So this program accepts those two forms besides the ``neuroonco`` commands:

    neuroonco [-u] -m MODULE ARGS...   run a bundled module as __main__, like python -m
    neuroonco [-u] SCRIPT.py ARGS...   run a Python file as __main__, like python SCRIPT.py
    neuroonco [-u] gui ARGS...         the window, as neuroonco -m app.main ARGS...
    neuroonco ARGS...                  the neuroonco command (engine.cli.main)

``-u`` (unbuffered output, passed by torch's distributed launcher) is accepted and
applied. A first argument that ends in ``.py`` but is no file is left to the
``neuroonco`` command, which reports it as an unknown command.
"""

import multiprocessing
import os
import runpy
import sys


def main() -> int:
    # Lets multiprocessing's spawned children run their target instead of this program.
    multiprocessing.freeze_support()
    args = sys.argv[1:]

    if args[:1] == ["-u"]:
        args = args[1:]
        sys.stdout.reconfigure(write_through=True)
        sys.stderr.reconfigure(write_through=True)

    if args[:1] == ["gui"]:
        # What `neuroonco gui` ends in (its handler replaces itself with `-m app.main`),
        # without first importing every CLI command module, which takes about 1 s.
        args = ["-m", "app.main", *args[1:]]

    if len(args) >= 2 and args[0] == "-m":
        sys.argv = [args[1], *args[2:]]
        runpy.run_module(args[1], run_name="__main__", alter_sys=True)
        return 0

    if args and args[0].endswith(".py") and os.path.isfile(args[0]):
        script = os.path.abspath(args[0])
        sys.argv = [script, *args[1:]]
        sys.path.insert(0, os.path.dirname(script))
        runpy.run_path(script, run_name="__main__")
        return 0

    from engine.cli.main import main as neuroonco

    return neuroonco(args)


if __name__ == "__main__":
    sys.exit(main())
