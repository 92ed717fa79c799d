"""Stage 4: the audit of every kept fused label by a third model.

The auditor sees the slice and the fused label (modality, location, signs) and replies
with a decision and per-field actions (:mod:`engine.pipeline.audit`). The audited label is
stored with status accepted, rejected, unparsed (no usable decision) or error (the call
failed, retried on resume). Only accepted labels reach instruction generation.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from db.session import Database
from engine.errors import InvalidInputError, WorkbenchError
from engine.pipeline.air import average_information_rate
from engine.pipeline.audit import ACCEPTED, apply_audit, parse_audit
from engine.pipeline.fusion import KEPT
from engine.pipeline.images import SliceImages
from engine.pipeline.labels import (AUDITED, FUSED, RETRIED_STATUSES, status_counts,
                                    stored_labels, write_label)
from engine.pipeline.model_calls import (ModelCall, ModelRequest, ModelUnavailableError,
                                         caller_provenance, stage_caller)
from engine.pipeline.prompts import load_prompt
from engine.pipeline.runs import RunInfo
from engine.pipeline.samples import Sample
from engine.pipeline.schema import AUDITED_FIELDS, audit_schema
from engine.progress import Progress

log = logging.getLogger(__name__)


def audit_prompt_labels(fields: dict[str, Any]) -> str:
    """Return the JSON text of a fused label that the audit prompt shows the auditor."""
    shown = {"modality": fields.get("modality"), "location": fields.get("location"),
             "signs": {name: fields.get(name) for name in AUDITED_FIELDS[2:]}}
    return json.dumps(shown, indent=1)


def run_audit(db: Database, run: RunInfo, samples: list[Sample], progress: Progress,
              caller: ModelCall | None = None) -> dict[str, Any]:
    """Audit the kept fused labels of ``samples``; return the stage's counts.

    Raises InvalidInputError when the run has no fused labels and ModelUnavailableError
    when the auditor cannot run.
    """
    model = run.model("audit")
    with db.session() as session:
        fused = stored_labels(session, run.id, FUSED)
        done = stored_labels(session, run.id, AUDITED)
    if not fused:
        raise InvalidInputError(f"pipeline run '{run.name}' has no fused labels; run the fuse "
                                "stage first")
    with stage_caller(db, model, "the audit", caller) as call:
        prompt = load_prompt(run.config["prompts"]["audit"])
        schema = audit_schema()
        kept = [sample for sample in samples
                if sample.slice_id in fused and fused[sample.slice_id].status == KEPT]
        pending = [sample for sample in kept if sample.slice_id not in done
                   or done[sample.slice_id].status in RETRIED_STATUSES]

        images = SliceImages()
        progress.start(len(kept), "auditing fused labels")
        progress.advance(len(kept) - len(pending))
        for sample in pending:
            fields = fused[sample.slice_id].fields
            system, user = prompt.render(labels_json=audit_prompt_labels(fields))
            request = ModelRequest(model=model or "", key=sample.sample_id, system=system,
                                   user=user, image=images.image(sample), json_schema=schema,
                                   settings=prompt.settings, prompt_name=prompt.name)
            status, audited, notes, raw = _audit_one(call, request, fields)
            for note in notes:
                log.info("audit %s: %s", sample.sample_id, note)
            with db.session(write=True) as session:
                write_label(session, run.id, sample.slice_id, AUDITED, status=status,
                            fields=audited, notes=notes, model_name=model,
                            template_id=prompt.name, raw_output=raw)
            progress.advance()
        provenance = caller_provenance(call)

    with db.session() as session:
        labels = stored_labels(session, run.id, AUDITED)
    kept_ids = {sample.slice_id for sample in kept}
    labels = {slice_id: label for slice_id, label in labels.items() if slice_id in kept_ids}
    return {"model": model, "prompt": prompt.name, "audited": len(kept),
            "statuses": status_counts(labels),
            "air": average_information_rate(label.fields for label in labels.values()
                                            if label.status == ACCEPTED),
            "provenance": provenance}


def _audit_one(caller: ModelCall, request: ModelRequest, fields: dict[str, Any]):  # noqa: ANN202
    try:
        raw = caller(request)
    except ModelUnavailableError:
        raise
    except WorkbenchError as error:
        return "error", fields, [f"model call failed: {error}"], None
    outcome = apply_audit(fields, parse_audit(raw))
    notes = list(outcome.notes)
    notes.extend(f"{name}: {before!r} -> {after!r}" for name, (before, after)
                 in outcome.changes.items())
    return outcome.status, outcome.fields, notes, raw
