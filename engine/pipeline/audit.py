"""Applying a third model's audit to a fused silver label.

The audit reply (see :mod:`engine.pipeline.schema`) contains a decision and one action per
field. The rules:

- ``REJECT`` rejects the sample: it gets status "rejected", and instruction generation
  leaves the slice out entirely. ``ACCEPT`` accepts it. A reply without a valid decision
  leaves the sample unaudited ("unparsed"): its silver label is not used, but the slice
  still gets the questions that need no silver label.
- A missing action is KEEP. An action a field does not allow (DOWNGRADE of the location or
  the signal intensity, or an unknown word) is logged and treated as KEEP. Actions on empty
  fields change nothing.
- ERASE sets the field to None.
- DOWNGRADE of the modality turns T1CE into T1 and then clears the enhancement; on another
  modality it has no general term and is logged as KEEP.
- DOWNGRADE of enhancement or oedema gives "Present"; of the shape, "Round/Oval" for Round
  and Oval and "Irregular/Lobulated" for Irregular and Lobulated. Margins and texture have
  two values and no more general term above them, so their DOWNGRADE clears the field.
- Finally the modality rules of :func:`engine.pipeline.validation.apply_modality_rules`
  apply, so erasing the modality also clears the signs that depend on it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from engine.pipeline.parsing import extract_json_object
from engine.pipeline.schema import ACCEPT, ALLOWED_ACTIONS, AUDITED_FIELDS, ERASE, KEEP, REJECT
from engine.pipeline.validation import KEY_ALIASES, apply_modality_rules
from engine.pipeline.vocabulary import GENERAL_TERMS, MODALITY, T1, T1CE, comparison_key

ACCEPTED, REJECTED, UNPARSED = "accepted", "rejected", "unparsed"

_DECISION_KEYS = ("decision", "finaldecision", "verdict")
_ACTION_KEYS = ("actions", "fieldactions")
_REASON_KEYS = ("reason", "rejectionreason", "additionalfindings")


@dataclass
class AuditDecision:
    """A parsed audit reply: ``decision`` ACCEPT, REJECT or None; ``actions`` per field."""

    decision: str | None
    actions: dict[str, str] = field(default_factory=dict)
    reason: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class AuditOutcome:
    """The audited sample: ``status`` accepted, rejected or unparsed, and its fields."""

    status: str
    fields: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    changes: dict[str, list[Any]] = field(default_factory=dict)  # field: [before, after]


def parse_audit(text: str | None) -> AuditDecision:
    """Parse an audit reply. Problems become notes of the result instead of exceptions."""
    extracted = extract_json_object(text, (*_DECISION_KEYS, *_ACTION_KEYS))
    if extracted.value is None:
        return AuditDecision(None, notes=[extracted.problem or "no JSON object"])
    raw = {comparison_key(str(key)): value for key, value in extracted.value.items()}
    result = AuditDecision(None, notes=list(extracted.repairs))

    decision = next((raw[key] for key in _DECISION_KEYS if key in raw), None)
    word = comparison_key(decision) if isinstance(decision, str) else ""
    if word in ("accept", "accepted", "keep"):
        result.decision = ACCEPT
    elif word in ("reject", "rejected"):
        result.decision = REJECT
    else:
        result.notes.append(f"decision {decision!r} is not ACCEPT or REJECT")

    reason = next((raw[key] for key in _REASON_KEYS if key in raw), None)
    result.reason = reason.strip() if isinstance(reason, str) and reason.strip() else None

    actions = next((raw[key] for key in _ACTION_KEYS if key in raw), None)
    if isinstance(actions, dict):
        for key, action in actions.items():
            name = KEY_ALIASES.get(comparison_key(str(key)))
            if name not in AUDITED_FIELDS:
                result.notes.append(f"ignored action for unknown field {str(key)!r}")
                continue
            result.actions[name] = comparison_key(action).upper() if isinstance(action, str) else ""
    elif actions is not None:
        result.notes.append("actions is not an object; every field is kept")
    return result


def apply_audit(fields: dict[str, Any], audit: AuditDecision) -> AuditOutcome:
    """Apply ``audit`` to a fused label ``fields`` (not modified) and return the outcome."""
    audited = copy.deepcopy(fields)
    outcome = AuditOutcome(UNPARSED, audited, notes=list(audit.notes))
    if audit.decision is None:
        return outcome
    if audit.decision == REJECT:
        outcome.status = REJECTED
        outcome.notes.append(f"rejected: {audit.reason or 'no reason given'}")
        return outcome
    outcome.status = ACCEPTED

    for name in AUDITED_FIELDS:
        action = audit.actions.get(name, KEEP)
        if action not in ALLOWED_ACTIONS[name]:
            outcome.notes.append(f"action {action or 'empty'} is not allowed for {name}; kept")
            continue
        before = audited[name]
        if action == KEEP or before is None:
            continue
        audited[name] = None if action == ERASE else _downgrade(name, before, outcome.notes)

    if fields[MODALITY] == T1CE and audited[MODALITY] == T1 and audited["enhancement"] is not None:
        outcome.notes.append("enhancement cleared because the modality was downgraded to T1")
        audited["enhancement"] = None
    apply_modality_rules(audited, outcome.notes)

    outcome.changes = {name: [fields[name], audited[name]] for name in fields
                       if fields[name] != audited[name]}
    return outcome


def _downgrade(name: str, value: str, notes: list[str]) -> str | None:
    if name == MODALITY:
        if value == T1CE:
            return T1
        notes.append(f"DOWNGRADE of modality {value} has no general term; kept")
        return value
    if name in GENERAL_TERMS:
        general = GENERAL_TERMS[name].get(value)
        if general is None:
            notes.append(f"{name} {value!r} is already a general term; kept")
            return value
        return general
    notes.append(f"DOWNGRADE of {name} {value!r} cleared it: {name} has no general term")
    return None
