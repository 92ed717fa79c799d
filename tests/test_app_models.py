"""The model registry window: add a tiny model and hash it in a job, HTTP models, API keys."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from sqlalchemy import select

from db.models import Model
from engine.inference.api_keys import KEYRING_SERVICE
from engine.inference.model_files import hash_model
from engine.inference.registry import get_model
from engine.jobs import queue
from keyring_fixtures import memory_keyring  # noqa: F401
from inference_fixtures import tiny_models  # noqa: F401
from qt_events import delete_closed_widgets, show_widget  # noqa: F401
from research_fixtures import research_window, run_queued_jobs, settle_tasks  # noqa: F401
from window_fixtures import app_settings, make_window, settings_path  # noqa: F401

pytestmark = pytest.mark.gui


def _registry(window):
    models = window.research.models
    view = models.open_window()
    settle_tasks(models)
    return models, view


@pytest.mark.slow
def test_add_tiny_model_and_hash_in_job(qtbot, research_window, db, tiny_models):  # noqa: F811
    folder = tiny_models.llava()
    window = research_window(db)
    models, view = _registry(window)
    view.set_form("transformers", name="tiny-llava", path=str(folder))
    qtbot.mouseClick(view.add_button, Qt.MouseButton.LeftButton)
    settle_tasks(models)

    job = queue.get_job(db, models.job_id)
    assert (job.kind, job.params, job.state) == ("models.hash", {"name": "tiny-llava"}, "queued")
    assert view.row_text("tiny-llava", "SHA-256") == "not computed"
    assert view.row_text("tiny-llava", "Family") == get_model(db, "tiny-llava").family
    assert "hashing its weights" in view.status.text()

    assert run_queued_jobs(window) == [(job.id, "succeeded")]
    settle_tasks(models)
    expected = hash_model(folder)[0]
    assert get_model(db, "tiny-llava").sha256 == expected
    assert view.row_text("tiny-llava", "SHA-256") == expected[:16]
    assert "succeeded" in view.progress.title.text()
    assert view.progress.bar.value() == view.progress.bar.maximum()


def test_invalid_folder_shows_engine_error(research_window, db, tmp_path):
    window = research_window(db)
    models, view = _registry(window)
    view.set_form("transformers", name="broken", path=str(tmp_path))
    view.add_button.click()
    settle_tasks(models)
    assert view.status.text() == (f"{tmp_path} is not a Hugging Face model folder (no config.json); pass "
                                  "a local folder, or fetch a hub model with 'neuroonco models download'")
    assert view.model_names() == []
    assert models.job_id is None


def test_http_model_key_goes_to_keyring(research_window, db, memory_keyring):
    window = research_window(db)
    models, view = _registry(window)
    view.set_form("openai", name="remote", base_url="http://127.0.0.1:9/v1", server_model="tiny")
    view.add_button.click()
    settle_tasks(models)
    assert view.model_names() == ["remote"]
    assert view.row_text("remote", "API key") == "OS keyring"
    assert models.job_id is None  # nothing local to hash

    view.select_model("remote")
    assert view.key_button.isEnabled()
    assert not view.hash_button.isEnabled()
    models.set_api_key("remote", "secret-key")
    settle_tasks(models)
    assert memory_keyring.passwords == {(KEYRING_SERVICE, "remote"): "secret-key"}
    with db.session() as session:
        model = session.scalar(select(Model).where(Model.name == "remote"))
        stored = repr([getattr(model, column.name) for column in Model.__table__.columns])
    assert "secret-key" not in stored
    assert "secret-key" not in view.status.text()

    models.remove("remote", confirmed=True)
    settle_tasks(models)
    assert view.model_names() == []
