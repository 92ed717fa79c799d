"""The ``neuroonco`` command.

Exit status: 0 on success, 2 on a usage error, 1 on a failure, which prints one line
``error: ...`` (the traceback only with ``--debug``).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Callable, Sequence

from engine import __version__
from engine.errors import WorkbenchError
from engine.log_levels import quiet_noisy_loggers
from engine.optional import import_if_present

# Each module defines ``register(subparsers)`` and sets ``handler`` on its parsers.
COMMAND_MODULES = (
    "engine.cli.imports",
    "engine.cli.datasets",
    "engine.cli.semantics",
    "engine.cli.bench",
    "engine.cli.pipeline",
    "engine.cli.export",
    "engine.cli.jobs",
    "engine.cli.models",
    "engine.cli.finetune",
    "engine.cli.demo",
    "engine.cli.gui",
    "engine.cli.db",
)

log = logging.getLogger("neuroonco")


class ArgumentParser(argparse.ArgumentParser):
    """argparse that exits 2 with one ``error:`` line on a usage error."""

    def error(self, message: str) -> None:  # noqa: D401 - argparse API
        self.print_usage(sys.stderr)
        self.exit(2, f"error: {message}\n")


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="neuroonco",
        description="NeuroOnco Workbench: MRI slices, masks, benchmarks and local VLMs.",
    )
    parser.add_argument("--version", action="version", version=f"neuroonco {__version__}")
    parser.add_argument("--db", metavar="URL",
                        help="database URL (default: $NEUROONCO_DB_URL, else the SQLite file "
                             "in the user-data folder)")
    parser.add_argument("--debug", action="store_true", help="print tracebacks and debug logs")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND",
                                       parser_class=ArgumentParser)
    subparsers.required = True
    for module_name in COMMAND_MODULES:
        module = import_if_present(module_name)
        if module is None:
            continue
        module.register(subparsers)
    _add_debug_to_subcommands(parser)
    return parser


def _add_debug_to_subcommands(parser: argparse.ArgumentParser) -> None:
    """Let ``--debug`` follow any subcommand too (``neuroonco import X --debug``).

    The default is suppressed, so a subcommand without the option keeps the value that the
    top-level ``--debug`` set.
    """
    for action in parser._actions:  # noqa: SLF001 - argparse keeps subparsers only here
        if not isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            continue
        for subparser in dict.fromkeys(action.choices.values()):
            subparser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                                   help="print tracebacks and debug logs")
            _add_debug_to_subcommands(subparser)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not args.debug:
        quiet_noisy_loggers()
    handler: Callable[[argparse.Namespace], int | None] | None = getattr(args, "handler", None)
    if handler is None:
        parser.error(f"'{args.command}' needs a subcommand")
    try:
        return int(handler(args) or 0)
    except WorkbenchError as error:
        if args.debug:
            raise
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of our output went away (``neuroonco ... | head``): stop quietly.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - suppresses the flush at exit
        return 0
    except Exception as error:  # noqa: BLE001 - the CLI reports every failure as one line
        if args.debug:
            raise
        print(f"error: {type(error).__name__}: {error} (run with --debug for the traceback)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
