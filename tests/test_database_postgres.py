"""The same schema on PostgreSQL (runs when NEUROONCO_TEST_POSTGRES_URL points at a server)."""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import make_url

from db.models import Case, Dataset, Slice
from db.session import head_revision, open_database, schema_revision
from test_database import _populate

SERVER_URL = os.environ.get("NEUROONCO_TEST_POSTGRES_URL")
pytestmark = pytest.mark.skipif(not SERVER_URL, reason="NEUROONCO_TEST_POSTGRES_URL is not set")


@pytest.fixture
def pg_db():
    name = f"neuroonco_test_{uuid.uuid4().hex[:8]}"
    admin = create_engine(SERVER_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    database = open_database(make_url(SERVER_URL).set(database=name).render_as_string(hide_password=False))
    yield database
    database.dispose()
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.dispose()


def test_postgres_schema_upgrades_and_cascades(pg_db):
    assert schema_revision(pg_db.engine) == head_revision()
    dataset_id = _populate(pg_db)
    with pg_db.session(write=True) as session:
        session.delete(session.get(Dataset, dataset_id))
    with pg_db.session() as session:
        assert session.scalar(select(func.count()).select_from(Case)) == 0
        assert session.scalar(select(func.count()).select_from(Slice)) == 0


def test_postgres_job_claim(pg_db):
    from engine.jobs import queue

    job_id = queue.submit(pg_db, "selftest.count", {"total": 1})
    assert queue.claim_next(pg_db, "w1") == job_id
    assert queue.claim_next(pg_db, "w2") is None
