"""Replies under grammar-constrained decoding: what llama.cpp lets through, and how it parses.

llama-cpp-python's JSON grammar allows raw control characters (a newline, a tab) inside
strings, which strict JSON forbids, so the parser escapes them. The last test runs the
tiny random Qwen2.5-VL GGUF with the silver-label and audit schemas. A random model rarely
closes a free-text string, so its replies finish within the token budget only when the
schemas bound those strings in a form that llama.cpp enforces.
"""

from __future__ import annotations

import json

import pytest

from engine.inference import GenerationSettings, Request
from engine.pipeline.audit import ACCEPT, REJECT, parse_audit
from engine.pipeline.parsing import extract_json_object
from engine.pipeline.schema import ALLOWED_ACTIONS, audit_schema, silver_label_schema
from engine.pipeline.stage_extract import interpret_reply
from engine.pipeline.vocabulary import FIELDS
from inference_fixtures import gguf_pair, mri_images, tiny_models  # noqa: F401 - fixtures

ACTIONS = {field: "KEEP" for field in ALLOWED_ACTIONS}
REPAIR = "escaped control characters inside strings"


def test_raw_newline_in_string_is_escaped():
    text = ('{"what_where_why": "dark rim\non the left\tT1", "lesion_found": true, '
            '"modality": "T1", "location": "Center", "shape": "Round"}')

    status, fields, notes = interpret_reply(text)

    assert status == "ok"
    assert fields["shape"] == "Round"
    assert fields["location"] == "Center"
    assert REPAIR in notes


def test_audit_with_newline_in_reason_keeps_decision():
    # Strict decoding fails on the whole reply but succeeds on the nested actions object,
    # which must not be taken for the reply.
    actions = dict(ACTIONS, shape="DOWNGRADE")
    text = ('{"decision": "REJECT", "reason": "no lesion\nat the marked place", '
            f'"actions": {json.dumps(actions)}}}')

    decision = parse_audit(text)

    assert decision.decision == REJECT
    assert decision.reason == "no lesion\nat the marked place"
    assert decision.actions["shape"] == "DOWNGRADE"
    assert REPAIR in decision.notes


def test_escaping_leaves_text_outside_strings():
    text = '{\n "a": "x\ty",\n "b": "\\\\"\n}\n{"c": 1}'

    extracted = extract_json_object(text, ("a",))

    assert extracted.value == {"a": "x\ty", "b": "\\"}
    assert extracted.repairs == [REPAIR]


def test_strictly_valid_reply_needs_no_repair():
    extracted = extract_json_object(json.dumps({"shape": "Oval", "note": "a\nb"}), FIELDS)

    assert extracted.value["note"] == "a\nb"
    assert extracted.repairs == []


@pytest.mark.slow
def test_llamacpp_replies_finish_and_parse(gguf_pair, mri_images):  # noqa: F811
    from engine.inference.llamacpp_backend import LlamaCppBackend

    def request(schema: dict) -> Request:
        messages = ({"role": "system", "content": "You label brain MRI slices."},
                    {"role": "user", "content": [{"type": "image"},
                                                 {"type": "text", "text": "Reply with JSON."}]})
        settings = GenerationSettings(max_new_tokens=700, json_schema=schema)
        return Request(messages=messages, images=(mri_images["a"],), settings=settings)

    with LlamaCppBackend(*gguf_pair, n_threads=2) as backend:
        label, audit = backend.generate([request(silver_label_schema()),
                                         request(audit_schema())])

    assert label.finish_reason == "stop", label.text
    status, fields, _notes = interpret_reply(label.text)
    assert status == "ok", label.text
    assert set(fields) == set(FIELDS)

    assert audit.finish_reason == "stop", audit.text
    decision = parse_audit(audit.text)
    assert decision.decision in (ACCEPT, REJECT), decision.notes
    assert set(decision.actions) == set(ALLOWED_ACTIONS)
    assert decision.reason is None or len(decision.reason) <= 200
