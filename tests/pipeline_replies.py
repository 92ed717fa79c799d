"""Recorded model replies for pipeline tests: replay files with a known outcome per sample.

The model stages read them through ``replay:<file.jsonl>`` model names, as they would read the
recorded replies of an earlier run. :func:`write_replay_plan` gives every sample of a 2D
dataset a role (healthy, dropped by fusion, rejected or accepted by the audit) and writes the
run A, run B and audit replies that lead to it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from engine.pipeline.model_calls import REPLAY_PREFIX

SIGNS = ("shape", "margins", "texture", "enhancement", "oedema", "signal_intensity")


def reply(lesion: bool = True, modality: str = "T1", location: str = "Center-Left",
          **signs: str) -> str:
    """Return a silver-label reply in the schema's flat form; unset signs are null."""
    record = {"what_where_why": "dark rim, left, T1 shows the capsule", "lesion_found": lesion,
              "modality": modality, "location": location if lesion else None}
    for sign in SIGNS:
        record[sign] = signs.get(sign) if lesion else None
    return json.dumps(record)


def audit_reply(decision: str = "ACCEPT", **actions: str) -> str:
    """Return an audit reply; fields without an action are kept."""
    reason = None if decision == "ACCEPT" else "the slice shows no lesion at that place"
    return json.dumps({"decision": decision, "reason": reason, "actions": actions})


def write_replies(path: Path, replies: dict[str, str]) -> Path:
    """Write ``{key: output}`` as a replay file and return its path."""
    path.write_text("".join(json.dumps({"key": key, "output": output}) + "\n"
                            for key, output in replies.items()), encoding="utf-8")
    return path


@dataclass(frozen=True)
class ReplayPlan:
    """Replay files of runs A and B and the audit, and the expected outcome of each sample.

    ``dropped`` has a lesion for run A only, so fusion drops it. ``rejected`` is rejected by
    the auditor, ``downgraded`` accepted with its shape made general, and ``accepted``
    contains every other lesion sample. ``healthy`` samples have no lesion in either run.
    """

    folder: Path
    healthy: tuple[str, ...]
    dropped: str
    rejected: str
    downgraded: str
    accepted: tuple[str, ...]

    def model(self, role: str) -> str:
        """Return the model name that replays ``role``: "a", "b" or "audit"."""
        return f"{REPLAY_PREFIX}{self.folder / f'{role}.jsonl'}"

    @property
    def audited(self) -> tuple[str, ...]:
        """Sample ids that reach the audit (kept by fusion)."""
        return (self.rejected, self.downgraded, *self.accepted)


def write_replay_plan(samples, folder: Path) -> ReplayPlan:  # noqa: ANN001 - pipeline Samples
    """Write a.jsonl, b.jsonl and audit.jsonl under ``folder`` for ``samples``.

    Needs at least four samples with a tumour class other than healthy.
    """
    folder.mkdir(parents=True, exist_ok=True)
    healthy = tuple(sorted(s.sample_id for s in samples if s.is_healthy))
    lesion = sorted(s.sample_id for s in samples if not s.is_healthy)
    assert len(lesion) >= 4, "the replay plan needs four lesion samples"
    plan = ReplayPlan(folder, healthy, dropped=lesion[0], rejected=lesion[1],
                      downgraded=lesion[2], accepted=tuple(lesion[3:]))

    run_a = {key: reply(False) for key in healthy}
    run_b = dict(run_a)
    for key in lesion:
        run_a[key] = reply(shape="Round", margins="Well-circumscribed", texture="Homogeneous",
                           signal_intensity="Hypointense")
        # Margins disagree, so fusion nulls them; the other signs agree.
        run_b[key] = reply(shape="Round", margins="Ill-defined", texture="Homogeneous",
                           signal_intensity="Hypointense")
    run_b[plan.dropped] = reply(False)

    audit = {key: audit_reply() for key in plan.accepted}
    audit[plan.rejected] = audit_reply("REJECT")
    audit[plan.downgraded] = audit_reply(shape="DOWNGRADE")
    write_replies(folder / "a.jsonl", run_a)
    write_replies(folder / "b.jsonl", run_b)
    write_replies(folder / "audit.jsonl", audit)
    return plan
