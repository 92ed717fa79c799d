"""Double-blind fusion of run A and run B, rule by rule."""

from __future__ import annotations

import pytest

from engine.pipeline.fusion import (DROPPED, HEALTHY, INCOMPLETE, KEPT, MODALITY_CONFLICT,
                                    SINGLE_LESION, fuse, fuse_modality, fuse_sign)
from engine.pipeline.vocabulary import empty_fields


def label(**values):
    fields = empty_fields()
    fields.update({"lesion_found": True, "modality": "T2", "location": "Center"})
    fields.update(values)
    return fields


@pytest.mark.parametrize("a, b, status, reason", [
    (label(), label(), KEPT, None),
    (label(lesion_found=False, location=None), label(lesion_found=False, location=None),
     HEALTHY, None),
    (label(), label(lesion_found=False, location=None), DROPPED, SINGLE_LESION),
    (label(lesion_found=False, location=None), label(), DROPPED, SINGLE_LESION),
    (label(), None, DROPPED, INCOMPLETE),
    (None, None, DROPPED, INCOMPLETE),
    (label(lesion_found=None), label(), DROPPED, INCOMPLETE),
    (label(modality="T1"), label(modality="T2"), DROPPED, MODALITY_CONFLICT),
    (label(modality="FLAIR"), label(modality="T1CE", enhancement="Ring"), DROPPED,
     MODALITY_CONFLICT),
])
def test_lesion_consensus(a, b, status, reason):
    outcome = fuse(a, b)
    assert outcome.status == status
    assert outcome.reason == reason
    assert (outcome.fields is not None) == (status == KEPT)


@pytest.mark.parametrize("sign, a, b, fused", [
    ("shape", None, "Round", None),
    ("shape", "Round", None, None),
    ("shape", "Round", "Round", "Round"),
    ("shape", "Round", "Oval", None),
    ("margins", "Well-circumscribed", "Ill-defined", None),
    ("texture", "Homogeneous", "Heterogeneous", None),
    ("texture", "Heterogeneous", "Heterogeneous", "Heterogeneous"),
    ("signal_intensity", "Hyperintense", "Isointense", "Isointense"),
    ("signal_intensity", "Isointense", "Hypointense", "Isointense"),
    ("signal_intensity", "Hyperintense", "Hypointense", None),
    ("signal_intensity", "Mixed", "Isointense", None),
    ("signal_intensity", "Mixed", "Hyperintense", None),
    ("signal_intensity", "Mixed", "Mixed", "Mixed"),
    ("enhancement", "Ring", "Solid", "Present"),
    ("enhancement", "Patchy", None, None),
    ("oedema", "Mild", "Extensive", "Present"),
    ("oedema", "Mild", "Mild", "Mild"),
])
def test_sign_rules(sign, a, b, fused):
    assert fuse_sign(sign, a, b) == fused


@pytest.mark.parametrize("a, b, fused", [
    ("T2", "T2", "T2"),
    (None, "T2", "T2"),
    ("FLAIR", None, "FLAIR"),
    ("unknown", "T1", "T1"),
    ("T1CE", "unknown", "T1CE"),
    ("unknown", None, "unknown"),
    (None, None, None),
    ("T2", "FLAIR", "FLAIR"),
    ("FLAIR", "T2", "FLAIR"),
    ("T1", "T1CE", "T1CE"),
    ("T1CE", "T1", "T1CE"),
])
def test_modality_rules(a, b, fused):
    assert fuse_modality(a, b) == fused


@pytest.mark.parametrize("a, b", [("T1", "T2"), ("T1", "FLAIR"), ("T1CE", "T2"),
                                  ("T1CE", "FLAIR")])
def test_modality_conflicts(a, b):
    assert fuse(label(modality=a), label(modality=b)).reason == MODALITY_CONFLICT


def test_t1ce_without_enhancement_becomes_t1():
    outcome = fuse(label(modality="T1CE", enhancement="Ring"), label(modality="T1"))
    assert outcome.fields["modality"] == "T1"
    assert outcome.fields["enhancement"] is None
    assert "T1CE without agreed enhancement became T1" in outcome.notes


def test_t1ce_with_conflicting_enhancement_stays_t1ce():
    outcome = fuse(label(modality="T1CE", enhancement="Ring"),
                   label(modality="T1CE", enhancement="Patchy"))
    assert outcome.fields["modality"] == "T1CE"
    assert outcome.fields["enhancement"] == "Present"


@pytest.mark.parametrize("a, b, fused", [
    ("Upper-Left", "Lower-Right", "Upper-Left"),
    (None, "Lower-Right", "Lower-Right"),
    ("Center", None, "Center"),
])
def test_location_is_a_else_b(a, b, fused):
    assert fuse(label(location=a), label(location=b)).fields["location"] == fused


def test_conflicts_are_listed():
    a = label(modality="T2", location="Upper-Left", shape="Round", texture="Homogeneous",
              oedema="Mild")
    b = label(modality="FLAIR", location="Center", shape="Round", texture="Heterogeneous",
              oedema=None)
    outcome = fuse(a, b)
    assert outcome.status == KEPT
    assert outcome.conflicts == ["modality", "location", "texture"]
    assert outcome.fields == dict(empty_fields(), lesion_found=True, modality="FLAIR",
                                  location="Upper-Left", shape="Round")


def test_fused_unknown_modality_clears_signal_intensity():
    outcome = fuse(label(modality="unknown", signal_intensity="Hyperintense"),
                   label(modality=None, signal_intensity="Hyperintense"))
    assert outcome.fields["modality"] == "unknown"
    assert outcome.fields["signal_intensity"] is None
