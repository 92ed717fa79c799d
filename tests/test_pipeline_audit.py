"""Audit replies and their application to fused labels, rule by rule."""

from __future__ import annotations

import json

import pytest

from engine.pipeline.audit import ACCEPTED, REJECTED, UNPARSED, apply_audit, parse_audit
from engine.pipeline.vocabulary import empty_fields

FUSED = dict(empty_fields(), lesion_found=True, modality="T1CE", location="Upper-Left",
             shape="Round", margins="Ill-defined", texture="Heterogeneous", enhancement="Ring",
             signal_intensity=None)


def audited(actions=None, decision="ACCEPT", fields=FUSED, reason=None):
    reply = json.dumps({"decision": decision, "reason": reason, "actions": actions or {}})
    return apply_audit(fields, parse_audit(reply))


@pytest.mark.parametrize("field, action, after", [
    ("location", "KEEP", "Upper-Left"),
    ("location", "ERASE", None),
    ("shape", "ERASE", None),
    ("shape", "DOWNGRADE", "Round/Oval"),
    ("margins", "DOWNGRADE", None),
    ("texture", "DOWNGRADE", None),
    ("texture", "KEEP", "Heterogeneous"),
    ("enhancement", "DOWNGRADE", "Present"),
    ("enhancement", "ERASE", None),
])
def test_field_actions(field, action, after):
    outcome = audited({field: action})
    assert outcome.status == ACCEPTED
    assert outcome.fields[field] == after
    untouched = {name: value for name, value in FUSED.items() if name != field}
    assert {name: outcome.fields[name] for name in untouched} == untouched


@pytest.mark.parametrize("shape, general", [("Round", "Round/Oval"), ("Oval", "Round/Oval"),
                                            ("Irregular", "Irregular/Lobulated"),
                                            ("Lobulated", "Irregular/Lobulated")])
def test_shape_downgrade_general_terms(shape, general):
    outcome = audited({"shape": "DOWNGRADE"}, fields=dict(FUSED, shape=shape))
    assert outcome.fields["shape"] == general


def test_oedema_downgrade_gives_present():
    fields = dict(FUSED, modality="FLAIR", enhancement=None, oedema="Extensive")
    assert audited({"oedema": "DOWNGRADE"}, fields=fields).fields["oedema"] == "Present"


def test_modality_downgrade_clears_enhancement():
    outcome = audited({"modality": "DOWNGRADE"})
    assert outcome.fields["modality"] == "T1"
    assert outcome.fields["enhancement"] is None
    assert outcome.changes["modality"] == ["T1CE", "T1"]
    assert outcome.changes["enhancement"] == ["Ring", None]


def test_modality_downgrade_of_flair_is_kept():
    fields = dict(FUSED, modality="FLAIR", enhancement=None, oedema="Mild")
    outcome = audited({"modality": "DOWNGRADE"}, fields=fields)
    assert outcome.fields["modality"] == "FLAIR"
    assert any("has no general term; kept" in note for note in outcome.notes)


def test_modality_erase_clears_dependent_signs():
    fields = dict(FUSED, signal_intensity="Hyperintense")
    outcome = audited({"modality": "ERASE"}, fields=fields)
    assert outcome.fields["modality"] is None
    assert outcome.fields["enhancement"] is None
    assert outcome.fields["signal_intensity"] is None
    assert outcome.fields["shape"] == "Round"


@pytest.mark.parametrize("field, action", [("location", "DOWNGRADE"),
                                           ("signal_intensity", "DOWNGRADE"),
                                           ("shape", "MAYBE")])
def test_disallowed_actions_keep_the_value(field, action):
    fields = dict(FUSED, modality="T2", enhancement=None, signal_intensity="Hypointense")
    outcome = audited({field: action}, fields=fields)
    assert outcome.fields[field] == fields[field]
    assert any(f"is not allowed for {field}" in note for note in outcome.notes)


def test_reject_really_rejects():
    outcome = audited({"shape": "ERASE"}, decision="REJECT", reason="not a brain MRI")
    assert outcome.status == REJECTED
    assert "rejected: not a brain MRI" in outcome.notes


@pytest.mark.parametrize("reply", ["no json here", json.dumps({"actions": {}}),
                                   json.dumps({"decision": "MAYBE", "actions": {}})])
def test_reply_without_decision_is_unparsed(reply):
    outcome = apply_audit(FUSED, parse_audit(reply))
    assert outcome.status == UNPARSED
    assert outcome.fields == FUSED


def test_published_reply_form_and_missing_actions():
    reply = ('```json\n{"final_decision": "ACCEPT", "field_actions": {"predicted_modality": '
             '"KEEP", "predicted_location": "ERASE", "edema": "KEEP"}, '
             '"additional_findings": null}\n```')
    outcome = apply_audit(FUSED, parse_audit(reply))
    assert outcome.status == ACCEPTED
    assert outcome.fields["location"] is None
    assert outcome.fields["shape"] == "Round"


def test_input_label_is_not_modified():
    before = dict(FUSED)
    audited({"shape": "ERASE", "modality": "DOWNGRADE"})
    assert FUSED == before
