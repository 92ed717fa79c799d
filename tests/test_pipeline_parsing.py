"""Extracting and validating silver labels from messy model replies."""

from __future__ import annotations

import json

import pytest

from engine.pipeline.parsing import extract_json_object
from engine.pipeline.stage_extract import interpret_reply
from engine.pipeline.validation import validate_label
from engine.pipeline.vocabulary import FIELDS

GOOD = {"what_where_why": "bright rim, upper left, gadolinium", "lesion_found": True,
        "modality": "T1CE", "location": "Upper-Left", "shape": "Lobulated",
        "margins": "Ill-defined", "texture": "Heterogeneous", "enhancement": "Ring",
        "oedema": None, "signal_intensity": "Mixed"}


@pytest.mark.parametrize("text", [
    json.dumps(GOOD),
    "```json\n" + json.dumps(GOOD, indent=2) + "\n```",
    "Here is the record:\n" + json.dumps(GOOD) + "\nI hope this helps.",
    "<think>The example {\"lesion_found\": false} is wrong.</think>" + json.dumps(GOOD),
    "reasoning about {\"shape\": \"Round\"} ... </think>\n" + json.dumps(GOOD),
    json.dumps(GOOD).replace("true", "True").replace("null", "None"),
    json.dumps(GOOD)[:-1] + ",}",
])
def test_extraction_finds_the_record(text):
    extracted = extract_json_object(text, FIELDS)
    assert extracted.problem is None
    assert extracted.value["shape"] == "Lobulated"
    assert extracted.value["lesion_found"] in (True, "True")


def test_last_object_with_fields_wins():
    draft = {"lesion_found": True, "shape": "Round"}
    final = {"lesion_found": True, "shape": "Oval"}
    text = f"Draft: {json.dumps(draft)}\nFinal answer: {json.dumps(final)}\n{{\"confidence\": 1}}"
    assert extract_json_object(text, FIELDS).value["shape"] == "Oval"


def test_single_quoted_python_dict():
    text = "{'lesion_found': True, 'modality': 'T2', 'shape': None}"
    extracted = extract_json_object(text, FIELDS)
    assert extracted.value == {"lesion_found": True, "modality": "T2", "shape": None}
    assert "replaced single quotes" in extracted.repairs


def test_truncated_reply_is_closed_after_last_member():
    text = '{"lesion_found": true, "modality": "FLAIR", "oedema": "Extensive", "shape": "Ro'
    extracted = extract_json_object(text, FIELDS)
    assert extracted.value == {"lesion_found": True, "modality": "FLAIR", "oedema": "Extensive"}
    assert extracted.repairs == ["closed a truncated object"]


def test_control_characters_inside_strings_are_accepted():
    evidence = "bright rim\nupper left\x07"
    text = json.dumps({**GOOD, "what_where_why": "@"}).replace("@", evidence)
    extracted = extract_json_object(text, FIELDS)
    assert extracted.value["what_where_why"] == evidence
    assert extracted.value["shape"] == "Lobulated"
    assert extracted.repairs == ["escaped control characters inside strings"]

    truncated = text[:text.index(', "shape"') + 12]
    extracted = extract_json_object(truncated, FIELDS)
    assert extracted.value["what_where_why"] == evidence
    assert "shape" not in extracted.value
    assert extracted.repairs == ["closed a truncated object",
                                 "escaped control characters inside strings"]


@pytest.mark.parametrize("text, problem", [
    ("", "the reply is empty"),
    (None, "the reply is empty"),
    ("The lesion is round.", "the reply contains no JSON object"),
    ("{ this is not json at all", "could be decoded"),
])
def test_replies_without_json(text, problem):
    extracted = extract_json_object(text, FIELDS)
    assert extracted.value is None
    assert problem in extracted.problem


def test_published_nested_form_is_understood():
    raw = {"meta_info": {"predicted_modality": "T1_Contrast", "predicted_location": "Center",
                         "lesion_found": "True"},
           "structured_signs": {"shape": "oval", "margins": "well defined", "texture": None,
                                "enhancement": "ring-enhancing", "edema": None,
                                "signal_intensity": None}}
    fields, notes = validate_label(raw)
    assert fields == {"lesion_found": True, "modality": "T1CE", "location": "Center",
                      "shape": "Oval", "margins": "Well-circumscribed", "texture": None,
                      "enhancement": "Ring", "oedema": None, "signal_intensity": None}
    assert notes == []


@pytest.mark.parametrize("field, value, note", [
    ("shape", "Spiculated", "shape 'Spiculated' is not one of Round, Oval"),
    ("margins", 3, "margins 3 is not one of"),
    ("location", "upper", "location 'upper' is not one of the nine cells"),
    ("modality", "DWI", "modality 'DWI' is not one of T1, T1CE, T2, FLAIR or unknown"),
    ("signal_intensity", "Present", "signal_intensity 'Present' is not one of"),
    ("enhancement", "Present", "enhancement 'Present' is not one of Solid, Ring, Patchy"),
])
def test_values_outside_the_sets_become_null_with_a_note(field, value, note):
    raw = dict(GOOD, **{field: value})
    fields, notes = validate_label(raw)
    assert fields[field] is None
    assert any(note in text for text in notes), notes


def test_null_words_are_abstentions_without_notes():
    raw = dict(GOOD, shape="none", margins="N/A", texture="not assessable", modality="unknown",
               enhancement=None, signal_intensity=None)
    fields, notes = validate_label(raw)
    assert fields["shape"] is None
    assert fields["margins"] is None
    assert fields["texture"] is None
    assert fields["modality"] == "unknown"
    assert notes == []


@pytest.mark.parametrize("changes, cleared, reason", [
    ({"modality": "T2", "oedema": "Mild"}, "enhancement", "exists only on T1CE"),
    ({"modality": "T1", "enhancement": None, "oedema": "Extensive"}, "oedema",
     "read only on T2 and FLAIR"),
    ({"modality": "unknown", "enhancement": None}, "signal_intensity", "modality is unknown"),
    ({"modality": None, "enhancement": None}, "signal_intensity", "modality is unknown"),
    ({"lesion_found": False}, "shape", "lesion_found is false"),
    ({"lesion_found": "no"}, "location", "lesion_found is false"),
])
def test_modality_rules_clear_fields(changes, cleared, reason):
    fields, notes = validate_label(dict(GOOD, **changes))
    assert fields[cleared] is None
    assert any(cleared in note and reason in note for note in notes), notes


def test_unknown_keys_and_missing_lesion_are_noted():
    fields, notes = validate_label({"modality": "T2", "colour": "blue"})
    assert fields["lesion_found"] is None
    assert "ignored unknown key 'colour'" in notes
    assert "lesion_found is missing" in notes


def test_interpret_reply_statuses():
    status, fields, notes = interpret_reply("```\n" + json.dumps(GOOD) + "\n```")
    assert status == "ok"
    assert fields["enhancement"] == "Ring"
    status, fields, notes = interpret_reply("I cannot assess this image.")
    assert status == "unparsed"
    assert fields is None
    assert notes == ["the reply contains no JSON object"]
