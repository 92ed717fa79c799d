"""JSON schemas that constrain the silver-label and audit replies.

Backends that support constrained decoding get the schema with each request: the llama.cpp
backend turns it into a grammar with llama-cpp-python's ``LlamaGrammar.from_json_schema``,
and OpenAI-compatible servers receive it as ``response_format``. Other backends return
free text, which :mod:`engine.pipeline.parsing` and :mod:`engine.pipeline.validation`
handle.

Silver-label reply (all keys required, flat, no other keys)::

    {"what_where_why": str, "lesion_found": bool, "modality": "T1"|...|"unknown",
     "location": "Upper-Left"|...|null, "shape": ...|null, "margins": ...|null,
     "texture": ...|null, "enhancement": ...|null, "oedema": ...|null,
     "signal_intensity": ...|null}

``what_where_why`` contains the model's short evidence note for the filled signs (the 3W rule
of the prompts); it is stored with the raw reply and not used as a field.

Audit reply::

    {"decision": "ACCEPT"|"REJECT", "reason": str|null,
     "actions": {"modality": "KEEP"|"ERASE"|"DOWNGRADE", "location": "KEEP"|"ERASE", ...}}
"""

from __future__ import annotations

from typing import Any

from engine.pipeline.vocabulary import LOCATIONS, MODALITIES, SIGN_VALUES, SIGNS

KEEP, ERASE, DOWNGRADE = "KEEP", "ERASE", "DOWNGRADE"
ACCEPT, REJECT = "ACCEPT", "REJECT"
AUDITED_FIELDS = ("modality", "location", *SIGNS)
# Actions each audited field allows; signal intensity and location have no general term.
ALLOWED_ACTIONS = {field: (KEEP, ERASE, DOWNGRADE) for field in AUDITED_FIELDS}
ALLOWED_ACTIONS["location"] = (KEEP, ERASE)
ALLOWED_ACTIONS["signal_intensity"] = (KEEP, ERASE)
EVIDENCE_KEY = "what_where_why"


def _nullable_enum(values: tuple[str, ...]) -> dict[str, Any]:
    return {"enum": [*values, None]}


def silver_label_schema() -> dict[str, Any]:
    """Return the JSON schema of a silver-label reply."""
    properties: dict[str, Any] = {
        EVIDENCE_KEY: {"type": "string", "maxLength": 400},
        "lesion_found": {"type": "boolean"},
        "modality": {"enum": list(MODALITIES)},
        "location": _nullable_enum(LOCATIONS),
    }
    for sign in SIGNS:
        properties[sign] = _nullable_enum(SIGN_VALUES[sign])
    return {"type": "object", "properties": properties, "required": list(properties),
            "additionalProperties": False}


def audit_schema() -> dict[str, Any]:
    """Return the JSON schema of an audit reply."""
    actions = {field: {"enum": list(ALLOWED_ACTIONS[field])} for field in AUDITED_FIELDS}
    return {
        "type": "object",
        "properties": {
            "decision": {"enum": [ACCEPT, REJECT]},
            # anyOf, not a type list: llama-cpp-python (0.3.36) drops maxLength from a
            # type list, and an unbounded reason can use up the reply's token budget.
            "reason": {"anyOf": [{"type": "string", "maxLength": 200}, {"type": "null"}]},
            "actions": {"type": "object", "properties": actions, "required": list(actions),
                        "additionalProperties": False},
        },
        "required": ["decision", "reason", "actions"],
        "additionalProperties": False,
    }
