"""Prompts, the constrained-output schemas and the model interface."""

from __future__ import annotations

import itertools
import json
import tomllib

import numpy as np
import pytest

from engine.errors import InvalidInputError, NotFoundError
from engine.pipeline.model_calls import (ModelRequest, ModelUnavailableError, ReplayModel,
                                         caller_provenance, model_caller, stage_caller)
from engine.pipeline.prompts import (AUDIT_PROMPT, PARAPHRASE_PROMPT, PROMPTS_DIR, RUN_A_PROMPT,
                                     RUN_B_PROMPT, load_prompt)
from engine.pipeline.schema import ALLOWED_ACTIONS, audit_schema, silver_label_schema
from engine.pipeline.validation import validate_label
from engine.pipeline.vocabulary import LOCATIONS, MODALITIES, SIGN_VALUES, SIGNS

PIPELINE_PROMPTS = (RUN_A_PROMPT, RUN_B_PROMPT, AUDIT_PROMPT, PARAPHRASE_PROMPT)
TEMPLATE_KINDS = ("closed", "closed-reasoning", "open", "extraction", "judge")


@pytest.mark.parametrize("name", PIPELINE_PROMPTS)
def test_prompt_files_follow_the_template_format(name):
    path = PROMPTS_DIR / f"{name}.toml"
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    assert path.name == f"{data['id']}.v{data['version']}.toml"
    assert data["kind"] in TEMPLATE_KINDS
    assert set(data) <= {"id", "version", "kind", "user", "system", "description", "image",
                         "settings", "json_schema"}
    assert data["description"].strip()


@pytest.mark.parametrize("name", (RUN_A_PROMPT, RUN_B_PROMPT))
def test_extraction_prompts_name_every_field_and_value(name):
    prompt = load_prompt(name)
    system, user = prompt.render(coarse_description="A T2 brain MRI scan showing signs of Glioma.")
    assert "Context: A T2 brain MRI scan showing signs of Glioma." in user
    for key in silver_label_schema()["properties"]:
        assert key in system, key
    values = [*MODALITIES[:-1], *LOCATIONS, *(v for s in SIGNS for v in SIGN_VALUES[s])]
    for value in values:
        assert f'"{value}"' in system, value
    for word in ("WHAT", "WHERE", "WHY"):
        assert word in system, word


def test_prompts_differ_between_runs():
    system_a, user_a = load_prompt(RUN_A_PROMPT).render(coarse_description="x")
    system_b, user_b = load_prompt(RUN_B_PROMPT).render(coarse_description="x")
    assert system_a != system_b
    assert "sceptically" in user_b
    assert "sceptically" not in user_a


def test_audit_prompt_names_actions_and_general_terms():
    system, user = load_prompt(AUDIT_PROMPT).render(labels_json='{"modality": "T1CE"}')
    assert '{"modality": "T1CE"}' in user
    for word in ("KEEP", "ERASE", "DOWNGRADE", "REJECT", "ACCEPT", "Present", "Round/Oval",
                 "Irregular/Lobulated"):
        assert word in system, word


def test_missing_variable_and_unknown_prompt():
    with pytest.raises(InvalidInputError, match="needs a value"):
        load_prompt(RUN_A_PROMPT).render()
    with pytest.raises(NotFoundError, match="prompt 'nope.v1' not found"):
        load_prompt("nope.v1")


def test_schema_enums_match_the_vocabulary():
    properties = silver_label_schema()["properties"]
    assert properties["modality"]["enum"] == list(MODALITIES)
    assert properties["location"]["enum"] == [*LOCATIONS, None]
    for sign in SIGNS:
        assert properties[sign]["enum"] == [*SIGN_VALUES[sign], None]
    actions = audit_schema()["properties"]["actions"]["properties"]
    assert actions["location"]["enum"] == ["KEEP", "ERASE"]
    assert actions["shape"]["enum"] == ["KEEP", "ERASE", "DOWNGRADE"]
    assert set(actions) == set(ALLOWED_ACTIONS)


def test_every_schema_value_validates_without_notes():
    properties = silver_label_schema()["properties"]
    for modality, location in itertools.product(MODALITIES, LOCATIONS):
        for index in range(4):
            reply = {"what_where_why": "x", "lesion_found": True, "modality": modality,
                     "location": location}
            for sign in SIGNS:
                values = properties[sign]["enum"]
                reply[sign] = values[index % len(values)]
            fields, notes = validate_label(reply)
            assert fields["location"] == location
            assert all("is not one of" not in note for note in notes), notes


def request(key="glioma/10_t1/1.png"):
    return ModelRequest(model="m", key=key, system="s", user="u",
                        image=np.zeros((4, 4), np.uint8))


def test_unregistered_model_is_reported(db):
    with pytest.raises(ModelUnavailableError,
                       match="model 'qwen3-vl-8b' for run A is not registered; add it with"):
        model_caller("qwen3-vl-8b", "run A", db)


def test_replay_model(tmp_path, db):
    path = tmp_path / "replies.jsonl"
    path.write_text(json.dumps({"key": "glioma/10_t1/1.png", "output": "{}"}) + "\n\n")
    caller = model_caller(f"replay:{path}", "run A", db)
    assert isinstance(caller, ReplayModel)
    assert caller(request()) == "{}"
    with pytest.raises(NotFoundError, match="has no reply for key 'other'"):
        caller(request("other"))
    provenance = caller_provenance(caller)
    assert provenance["backend"] == "replay"
    assert provenance["requests"] == 1
    assert len(provenance["sha256"]) == 64


def test_stage_caller_keeps_a_given_caller(tmp_path, db):
    path = tmp_path / "replies.jsonl"
    path.write_text(json.dumps({"key": "glioma/10_t1/1.png", "output": "{}"}) + "\n")
    given = ReplayModel(path)
    with stage_caller(db, "ignored-model-name", "run A", given) as call:
        assert call is given
    with stage_caller(db, f"replay:{path}", "run A") as call:
        assert isinstance(call, ReplayModel)
        assert call is not given


@pytest.mark.parametrize("content, message", [
    ("not json\n", "line 1 is not JSON"),
    ('{"key": 1, "output": "x"}\n', "line 1 needs string fields"),
    ('{"key": "a", "output": "x"}\n{"key": "a", "output": "y"}\n', "line 2 repeats key 'a'"),
])
def test_bad_replay_files(tmp_path, content, message):
    path = tmp_path / "replies.jsonl"
    path.write_text(content)
    with pytest.raises(InvalidInputError, match=message):
        ReplayModel(path)


def test_missing_model_is_reported(db):
    with pytest.raises(InvalidInputError, match="no model is set for run B"):
        model_caller(None, "run B", db)
    with pytest.raises(InvalidInputError, match="replay file .* not found"):
        model_caller("replay:/nonexistent/replies.jsonl", "run A", db)
