"""``neuroonco bench ...``: benchmark import, statistics, sessions, scoring and reports."""

from __future__ import annotations

from engine.optional import import_if_present

# Each module defines ``register(actions)`` for its ``bench`` subcommands.
BENCH_MODULES = (
    "engine.cli.bench_import",
    "engine.cli.bench_sessions",
    "engine.cli.bench_runs",
    "engine.cli.bench_results",
)


def register(subparsers) -> None:  # noqa: ANN001
    parser = subparsers.add_parser("bench", help="import, run, score and compare benchmarks")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    for module_name in BENCH_MODULES:
        module = import_if_present(module_name)
        if module is None:
            continue
        module.register(actions)
