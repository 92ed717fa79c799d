"""Stage 2: silver-label extraction by run A or run B, one model call per sample.

Each sample's slice image and its coarse description go to the run's model with the run's
prompt and the silver-label JSON schema. The reply is stored as it came, with the fields
extracted and validated from it and a note for every value that was set to null. Each
sample is committed on its own; a resumed stage skips samples that already have a label,
except those whose model call failed. The model is loaded once for the stage, and its
provenance is stored in the stage's result.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from db.models import Slice
from db.session import Database
from engine.errors import InvalidInputError, WorkbenchError
from engine.pipeline.air import average_information_rate
from engine.pipeline.images import SliceImages
from engine.pipeline.labels import (RETRIED_STATUSES, RUN_A, RUN_B, status_counts,
                                    stored_labels, write_label)
from engine.pipeline.model_calls import (ModelCall, ModelRequest, ModelUnavailableError,
                                         caller_provenance, stage_caller)
from engine.pipeline.parsing import extract_json_object
from engine.pipeline.prompts import load_prompt
from engine.pipeline.runs import RunInfo
from engine.pipeline.samples import Sample
from engine.pipeline.schema import silver_label_schema
from engine.pipeline.validation import validate_label
from engine.pipeline.vocabulary import FIELDS
from engine.progress import Progress

log = logging.getLogger(__name__)

ROLE_NAMES = {RUN_A: "run A", RUN_B: "run B"}


def interpret_reply(raw: str) -> tuple[str, dict[str, Any] | None, list[str]]:
    """Return (status, fields, notes) for a silver-label reply: "ok" or "unparsed"."""
    extracted = extract_json_object(raw, FIELDS)
    if extracted.value is None:
        return "unparsed", None, [extracted.problem or "no JSON object"]
    fields, notes = validate_label(extracted.value)
    return "ok", fields, [*extracted.repairs, *notes]


def run_extract(db: Database, run: RunInfo, samples: list[Sample], stage: str,
                progress: Progress, caller: ModelCall | None = None) -> dict[str, Any]:
    """Extract the silver labels of ``stage`` (run_a or run_b); return the stage's counts.

    Raises ModelUnavailableError when the model cannot run and InvalidInputError when a
    sample has no coarse description yet.
    """
    model = run.model(stage)
    with stage_caller(db, model, ROLE_NAMES[stage], caller) as call:
        prompt = load_prompt(run.config["prompts"][stage])
        schema = silver_label_schema()
        with db.session() as session:
            done = stored_labels(session, run.id, stage)
            descriptions = _descriptions(session, [sample.slice_id for sample in samples])
        pending = [sample for sample in samples if sample.slice_id not in done
                   or done[sample.slice_id].status in RETRIED_STATUSES]

        images = SliceImages()
        progress.start(len(samples), f"{ROLE_NAMES[stage]}: extracting silver labels")
        progress.advance(len(samples) - len(pending))
        for sample in pending:
            description = descriptions.get(sample.slice_id)
            if not description:
                raise InvalidInputError(f"slice {sample.sample_id} has no coarse description; "
                                        "run the description stage first")
            system, user = prompt.render(coarse_description=description)
            request = ModelRequest(model=model or "", key=sample.sample_id, system=system,
                                   user=user, image=images.image(sample), json_schema=schema,
                                   settings=prompt.settings, prompt_name=prompt.name)
            status, fields, notes, raw = _call(call, request)
            for note in notes:
                log.info("%s %s: %s", ROLE_NAMES[stage], sample.sample_id, note)
            with db.session(write=True) as session:
                write_label(session, run.id, sample.slice_id, stage, status=status,
                            fields=fields, notes=notes, model_name=model,
                            template_id=prompt.name, raw_output=raw)
            progress.advance()
        provenance = caller_provenance(call)

    with db.session() as session:
        labels = stored_labels(session, run.id, stage)
    return {"model": model, "prompt": prompt.name, "samples": len(samples),
            "statuses": status_counts(labels),
            "air": average_information_rate(label.fields for label in labels.values()
                                            if label.status == "ok"),
            "provenance": provenance}


def _call(caller: ModelCall, request: ModelRequest):  # noqa: ANN202 - a 4-tuple
    try:
        raw = caller(request)
    except ModelUnavailableError:
        raise
    except WorkbenchError as error:
        return "error", None, [f"model call failed: {error}"], None
    status, fields, notes = interpret_reply(raw)
    return status, fields, notes, raw


def _descriptions(session, slice_ids: list[int]) -> dict[int, str | None]:  # noqa: ANN001
    result = {}
    for start in range(0, len(slice_ids), 900):  # below SQLite's bound-parameter limit
        chunk = slice_ids[start:start + 900]
        result.update(session.execute(
            select(Slice.id, Slice.coarse_description).where(Slice.id.in_(chunk))).all())
    return result
