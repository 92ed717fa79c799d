"""The schema, its migrations and the SQLite connection settings."""

from __future__ import annotations

import sqlite3

from sqlalchemy import func, select

from db.models import (Answer, Benchmark, BenchmarkItem, Case, Dataset, Mask, Question, Review,
                       Run, Semantics, Series, Slice)
from db.session import head_revision, open_database, schema_revision, table_names


def test_new_database_at_head(db):
    assert schema_revision(db.engine) == head_revision()
    assert {"dataset", "case", "series", "slice", "mask", "semantics", "benchmark",
            "benchmark_item", "question", "model", "run", "answer", "review",
            "instruction_sample", "job"} <= set(table_names(db.engine))


def test_sqlite_pragmas(db):
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000


def test_models_match_migrations(db):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from db.models import Base

    with db.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


def test_older_database_upgraded_on_open(tmp_path):
    from alembic import command
    from alembic.config import Config

    from db.session import MIGRATIONS_DIR, create_db_engine

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url)
    command.upgrade(config, "0001")
    engine = create_db_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("INSERT INTO dataset (name, kind, is_synthetic, created_at) "
                                   "VALUES ('kept', 'nifti', 0, '2026-01-01 00:00:00')")
    engine.dispose()

    database = open_database(url)
    assert schema_revision(database.engine) == head_revision() != "0001"
    with database.session() as session:
        assert session.scalar(select(Dataset.name)) == "kept"
    database.dispose()


def _populate(db) -> int:
    with db.session(write=True) as session:
        dataset = Dataset(name="d1", kind="nifti")
        case = Case(dataset=dataset, pseudonym="case-1", tumour_type="glioma")
        series = Series(case=case, modality="T1", kind="volume", file_format="nifti",
                        shape=[4, 4, 2], voxel_spacing=[1, 1, 1], source_path="/x.nii",
                        content_sha256="a" * 64)
        slices = [Slice(series=series, index=k) for k in range(2)]
        mask = Mask(case=case, reference_series_id=None, kind="label-map", file_format="nifti",
                    source_path="/m.nii", content_sha256="b" * 64, shape=[4, 4, 2])
        session.add_all([dataset, mask, *slices])
        session.flush()
        session.add(Semantics(slice_id=slices[0].id, mask_id=mask.id, region="whole",
                              size="Medium"))
        session.add(Review(target="slice", slice_id=slices[0].id, reviewer="r", verdict="agree"))
        benchmark = Benchmark(name="b1")
        item = BenchmarkItem(benchmark=benchmark, item_id=1, image_path="glioma/a.png",
                             slice_id=slices[1].id, image_missing=False)
        question = Question(item=item, kind="closed", q_index=0, question_type="diagnosis",
                            stem="?", options={"A": "x", "B": "y"}, gold_letter="A")
        session.add_all([benchmark, question])
        session.flush()
        run = Run(name="r1", benchmark_id=benchmark.id, model_name="m")
        session.add(run)
        session.flush()
        session.add(Answer(run_id=run.id, question_id=question.id, parsed_letter="A"))
        return dataset.id


def test_dataset_delete_leaves_no_orphans(db):
    dataset_id = _populate(db)
    with db.session(write=True) as session:
        session.delete(session.get(Dataset, dataset_id))
    with db.session() as session:
        for model in (Case, Series, Slice, Mask, Semantics, Review):
            assert session.scalar(select(func.count()).select_from(model)) == 0, model.__name__
        # The benchmark stays, its item loses the link to the deleted slice.
        item = session.scalars(select(BenchmarkItem)).one()
        assert item.slice_id is None
        assert session.scalar(select(func.count()).select_from(Answer)) == 1


def test_raw_sql_delete_cascades(db, tmp_path):
    # Foreign keys are enforced by the database itself, not only by the ORM.
    dataset_id = _populate(db)
    with db.engine.begin() as connection:
        connection.exec_driver_sql(f"DELETE FROM dataset WHERE id = {dataset_id}")
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Slice)) == 0


def test_failed_transaction_leaves_nothing(db):
    try:
        with db.session(write=True) as session:
            session.add(Dataset(name="partial"))
            session.flush()
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Dataset)) == 0


def test_database_url_from_environment(tmp_path, monkeypatch):
    path = tmp_path / "env.sqlite"
    monkeypatch.setenv("NEUROONCO_DB_URL", f"sqlite:///{path}")
    database = open_database()
    database.dispose()
    assert path.exists()
    assert sqlite3.connect(path).execute("SELECT version_num FROM alembic_version").fetchone()


def test_default_database_in_data_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("NEUROONCO_DB_URL", raising=False)
    monkeypatch.setenv("NEUROONCO_DATA_DIR", str(tmp_path / "data"))
    from db.session import default_url

    assert default_url() == f"sqlite:///{tmp_path / 'data' / 'workbench.sqlite'}"
