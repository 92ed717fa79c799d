"""``neuroonco db info|upgrade``."""

from __future__ import annotations

import argparse

from db.session import create_db_engine, head_revision, schema_revision, upgrade_schema
from engine.cli.common import print_json


def register(subparsers) -> None:  # noqa: ANN001
    parser = subparsers.add_parser("db", help="show or upgrade the database schema")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    actions.add_parser("info", help="print the database URL and schema revision").set_defaults(
        handler=_info)
    actions.add_parser("upgrade", help="upgrade the schema to the newest revision").set_defaults(
        handler=_upgrade)


def _info(args: argparse.Namespace) -> int:
    engine = create_db_engine(args.db)
    print_json({"url": engine.url.render_as_string(hide_password=True),
                "revision": schema_revision(engine), "head": head_revision()})
    return 0


def _upgrade(args: argparse.Namespace) -> int:
    engine = create_db_engine(args.db)
    upgrade_schema(engine)
    print(f"database at revision {schema_revision(engine)}")
    return 0
