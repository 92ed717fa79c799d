"""Double-blind fusion of two silver labels (runs A and B) of one slice.

Consensus on the lesion decides the sample's fate:

- both found a lesion: the sample is kept and its fields are merged;
- neither did: the sample goes to the healthy list;
- only one did: the sample is dropped;
- a label is missing or has no lesion decision: the sample is dropped as incomplete.

Merging a kept sample, field by field (values compared after canonicalisation):

- signs: either None gives None; equal values are kept; signal intensity Hyperintense or
  Hypointense against Isointense gives Isointense, any other signal conflict None;
  an enhancement or oedema conflict gives "Present"; a shape, margins or texture conflict
  gives None;
- modality: equal kept; one missing (None or "unknown") gives the other; T2 against FLAIR
  gives FLAIR; T1 against T1CE gives T1CE; any other conflict drops the sample; a fused
  T1CE without fused enhancement becomes T1;
- location: A's, else B's;
- then the modality rules of :func:`engine.pipeline.validation.apply_modality_rules`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.pipeline.validation import apply_modality_rules
from engine.pipeline.vocabulary import (FIELDS, FLAIR, LESION_FOUND,
                                        LOCATION, MODALITY, PRESENT, SIGNS, T1, T1CE, T2,
                                        UNKNOWN, empty_fields)

KEPT, HEALTHY, DROPPED = "kept", "healthy", "dropped"
SINGLE_LESION = "single-model lesion"
MODALITY_CONFLICT = "modality conflict"
INCOMPLETE = "incomplete"

_ISOINTENSE_PAIRS = ({"Hyperintense", "Isointense"}, {"Hypointense", "Isointense"})
_MODALITY_PAIRS = {frozenset({T2, FLAIR}): FLAIR, frozenset({T1, T1CE}): T1CE}


@dataclass
class FusionOutcome:
    """The fused sample: ``status`` kept, healthy or dropped; ``reason`` for drops.

    ``fields`` is the merged label for kept samples, None otherwise. ``conflicts`` names
    the fields on which both runs gave different non-missing values.
    """

    status: str
    fields: dict[str, Any] | None = None
    reason: str | None = None
    conflicts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def fuse(a: dict[str, Any] | None, b: dict[str, Any] | None) -> FusionOutcome:
    """Fuse run A's label ``a`` with run B's label ``b`` (either may be None when missing)."""
    if a is None or b is None or a.get(LESION_FOUND) is None or b.get(LESION_FOUND) is None:
        missing = [name for name, label in (("A", a), ("B", b))
                   if label is None or label.get(LESION_FOUND) is None]
        return FusionOutcome(DROPPED, reason=INCOMPLETE,
                             notes=[f"run {' and '.join(missing)} has no lesion decision"])
    if not a[LESION_FOUND] and not b[LESION_FOUND]:
        return FusionOutcome(HEALTHY, notes=["neither run found a lesion"])
    if not (a[LESION_FOUND] and b[LESION_FOUND]):
        which = "A" if a[LESION_FOUND] else "B"
        return FusionOutcome(DROPPED, reason=SINGLE_LESION,
                             notes=[f"only run {which} found a lesion"])

    outcome = FusionOutcome(KEPT)
    modality = fuse_modality(a.get(MODALITY), b.get(MODALITY))
    if modality is _CONFLICT:
        return FusionOutcome(DROPPED, reason=MODALITY_CONFLICT,
                             conflicts=[MODALITY],
                             notes=[f"modality A {a.get(MODALITY)} against B {b.get(MODALITY)}"])

    fields = empty_fields()
    fields[LESION_FOUND] = True
    fields[MODALITY] = modality
    fields[LOCATION] = a.get(LOCATION) or b.get(LOCATION)
    for sign in SIGNS:
        fields[sign] = fuse_sign(sign, a.get(sign), b.get(sign))

    if fields[MODALITY] == T1CE and fields["enhancement"] is None:
        fields[MODALITY] = T1
        outcome.notes.append("T1CE without agreed enhancement became T1")
    apply_modality_rules(fields, outcome.notes)

    outcome.conflicts = [name for name in FIELDS if name != LESION_FOUND
                         and _present(a.get(name)) and _present(b.get(name))
                         and a.get(name) != b.get(name)]
    outcome.fields = fields
    return outcome


class _Conflict:
    """Marks a modality pair that drops the sample."""

    def __repr__(self) -> str:
        return "<modality conflict>"


_CONFLICT = _Conflict()


def fuse_modality(a: str | None, b: str | None) -> str | None | _Conflict:
    """Return the fused modality, or the conflict marker for a pair that drops the sample."""
    if a == b:
        return a
    if not _present(a) and not _present(b):
        return UNKNOWN if UNKNOWN in (a, b) else None
    if not _present(a):
        return b
    if not _present(b):
        return a
    return _MODALITY_PAIRS.get(frozenset({a, b}), _CONFLICT)


def fuse_sign(sign: str, a: str | None, b: str | None) -> str | None:
    """Return the fused value of one sign from run A's ``a`` and run B's ``b``."""
    if a is None or b is None:
        return None
    if a == b:
        return a
    if sign == "signal_intensity":
        return "Isointense" if {a, b} in _ISOINTENSE_PAIRS else None
    if sign in ("enhancement", "oedema"):
        return PRESENT
    return None


def _present(value: Any) -> bool:
    return value is not None and value != UNKNOWN
