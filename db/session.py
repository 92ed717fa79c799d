"""Database location, connection set-up and schema upgrades.

The default database is a SQLite file in the platform's user-data folder (or in
``$NEUROONCO_DATA_DIR``). ``NEUROONCO_DB_URL`` selects any other SQLAlchemy URL, such as a
shared PostgreSQL server. Opening a database upgrades its schema to the newest Alembic
revision, so an older database file keeps working after an update.
"""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import platformdirs
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

APP_NAME = "NeuroOncoWorkbench"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000


def data_dir() -> Path:
    """Return the folder for the database, settings secrets and model downloads."""
    override = os.environ.get("NEUROONCO_DATA_DIR")
    path = Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_url() -> str:
    """Return ``NEUROONCO_DB_URL`` if set, else the SQLite file in :func:`data_dir`."""
    url = os.environ.get("NEUROONCO_DB_URL")
    if url:
        return url
    return f"sqlite:///{data_dir() / 'workbench.sqlite'}"


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # noqa: ANN001 - DBAPI objects
        # Let SQLAlchemy manage transactions (pysqlite's own BEGIN handling defers
        # BEGIN until the first write, which breaks SAVEPOINT and read consistency).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):  # noqa: ANN001
        # Readers use a deferred BEGIN so WAL lets them run beside a writer. Write
        # sessions (Database.session(write=True)) take the write lock at BEGIN IMMEDIATE,
        # so two processes that read and then write wait on busy_timeout instead of
        # failing on a lock upgrade.
        if connection.get_execution_options().get("sqlite_immediate"):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")


def create_db_engine(url: str | None = None) -> Engine:
    """Create an engine for ``url`` (default: :func:`default_url`) with the workbench settings."""
    url = url or default_url()
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _alembic_config(engine: Engine):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    config.attributes["engine"] = engine
    return config


def upgrade_schema(engine: Engine) -> None:
    """Upgrade the schema of the database behind ``engine`` to the newest revision."""
    from alembic import command

    command.upgrade(_alembic_config(engine), "head")


def schema_revision(engine: Engine) -> str | None:
    """Return the Alembic revision the database is at, or None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    from alembic.script import ScriptDirectory
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(config).get_current_head()


@dataclass
class Database:
    """An open, upgraded database: the engine plus a session factory."""

    engine: Engine
    sessions: sessionmaker[Session] = field(init=False)
    write_sessions: sessionmaker[Session] = field(init=False)

    def __post_init__(self) -> None:
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        writer = self.engine.execution_options(sqlite_immediate=True)
        self.write_sessions = sessionmaker(writer, expire_on_commit=False)

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def session(self, write: bool = False) -> Iterator[Session]:
        """Yield a session in one transaction: committed on success, rolled back on error.

        Pass ``write=True`` for transactions that read and then write (imports, job
        claims): on SQLite they hold the write lock from the start.
        """
        session = (self.write_sessions if write else self.sessions)()
        try:
            with session.begin():
                yield session
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


def open_database(url: str | None = None, upgrade: bool = True) -> Database:
    """Open the database at ``url`` and, unless ``upgrade`` is False, upgrade its schema."""
    engine = create_db_engine(url)
    if upgrade:
        current = schema_revision(engine)
        if current != head_revision():
            log.info("upgrading database %s from revision %s", engine.url, current or "(empty)")
            upgrade_schema(engine)
    return Database(engine)


def table_names(engine: Engine) -> list[str]:
    return sorted(inspect(engine).get_table_names())
