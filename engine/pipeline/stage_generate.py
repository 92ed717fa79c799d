"""Stage 6: instruction generation from metadata, mask semantics and silver labels.

Silver labels come from the latest label stage of the run: accepted audited labels when the
audit ran (a sample the auditor rejected is left out entirely), else kept fused labels,
else none. Every closed question is stored twice (kind "closed" and "closed-cot"), every
open question once ("open"), as InstructionSample rows whose ``meta`` keeps the question
before lay-out, so exports can lay it out again.

Questions whose stem leaks its answer or a finding word are dropped and counted. Optional
paraphrasing (a model set for the "paraphrase" role) rewords closed stems. A reworded stem
that leaks or cannot be read is replaced by the template stem.

The stage commits in batches of samples. Its inputs (samples, labels, configuration) are
fingerprinted: a resumed stage with the same fingerprint skips committed samples, and any
change deletes the run's instructions and starts over.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from dataclasses import replace
from typing import Any

from sqlalchemy import delete, insert, select

from db.models import InstructionSample
from db.session import Database
from engine.errors import WorkbenchError
from engine.pipeline.audit import ACCEPTED, REJECTED
from engine.pipeline.fusion import KEPT
from engine.pipeline.generate_closed import closed_questions
from engine.pipeline.generate_open import open_questions
from engine.pipeline.instructions import closed_messages, open_messages, reasoning_messages
from engine.pipeline.labels import AUDITED, FUSED, stored_labels
from engine.pipeline.leakage import finding_words, leak_problems
from engine.pipeline.mimics import load_mimics
from engine.pipeline.model_calls import (ModelCall, ModelRequest, ModelUnavailableError,
                                         caller_provenance, stage_caller)
from engine.pipeline.parsing import extract_json_object
from engine.pipeline.prompts import load_prompt
from engine.pipeline.questions import SHOWN_DISTRACTORS, ClosedQuestion, OpenQuestion
from engine.pipeline.runs import RunInfo, read_stats, update_stats
from engine.pipeline.samples import Sample
from engine.pipeline.traps import LaidOut, lay_out
from engine.progress import Progress

log = logging.getLogger(__name__)

BATCH = 500
CLOSED, CLOSED_COT, OPEN = "closed", "closed-cot", "open"
KINDS = (CLOSED, CLOSED_COT, OPEN)
PROGRESS_KEY = "generate_progress"
# Part of the input fingerprint: change it when templates change what is generated, so that
# stored instructions of earlier code are regenerated instead of resumed.
GENERATOR_VERSION = "1"


def load_signs(db: Database, run: RunInfo) -> tuple[str | None, dict[int, dict], set[int]]:
    """Return (label stage, accepted labels by slice id, slice ids rejected by the audit)."""
    with db.session() as session:
        audited = stored_labels(session, run.id, AUDITED)
        if audited:
            accepted = {slice_id: label.fields for slice_id, label in audited.items()
                        if label.status == ACCEPTED}
            rejected = {slice_id for slice_id, label in audited.items()
                        if label.status == REJECTED}
            return AUDITED, accepted, rejected
        fused = stored_labels(session, run.id, FUSED)
    if fused:
        return FUSED, {slice_id: label.fields for slice_id, label in fused.items()
                       if label.status == KEPT}, set()
    return None, {}, set()


def build_questions(samples: list[Sample], signs: dict[int, dict], label_stage: str | None,
                    seed: int) -> tuple[list[ClosedQuestion], list[OpenQuestion], Counter]:
    """Generate and leak-check the questions of ``samples``; return them and the drop counts."""
    mimics = load_mimics()
    closed: list[ClosedQuestion] = []
    opened: list[OpenQuestion] = []
    dropped: Counter = Counter()
    for sample in samples:
        label = signs.get(sample.slice_id)
        finding = finding_words(sample, label)
        for question in closed_questions(sample, label, label_stage, mimics, seed):
            if not question.binary and len(question.distractors) < SHOWN_DISTRACTORS:
                dropped["too_few_distractors"] += 1
            elif leak_problems(question.stem, question.answer, finding):
                dropped["leaks"] += 1
            else:
                closed.append(question)
        for question in open_questions(sample, label, mimics):
            if leak_problems(question.stem, None, finding):
                dropped["leaks"] += 1
            else:
                opened.append(question)
    return closed, opened, dropped


def run_generate(db: Database, run: RunInfo, samples: list[Sample], progress: Progress,
                 paraphraser: ModelCall | None = None) -> dict[str, Any]:
    """Generate the run's instruction samples; return the counts recorded in its stats."""
    label_stage, signs, rejected = load_signs(db, run)
    included = [sample for sample in samples if sample.slice_id not in rejected]
    seed, share = int(run.config["seed"]), float(run.config["trap_share"])
    closed, opened, dropped = build_questions(included, signs, label_stage, seed)

    paraphrased, paraphrase_provenance = 0, None
    if run.model("paraphrase") or paraphraser is not None:
        with stage_caller(db, run.model("paraphrase"), "paraphrasing", paraphraser) as call:
            closed, paraphrased = _paraphrase(run, closed, {s.slice_id: s for s in included},
                                              signs, call)
            paraphrase_provenance = caller_provenance(call)
    laid_out = lay_out(closed, share, seed)

    fingerprint = _fingerprint(run, included, signs, label_stage)
    done = _prepare(db, run, fingerprint)
    rows_by_slice = _rows(run.id, laid_out, opened)
    pending = [sample for sample in included if sample.slice_id not in done]

    progress.start(len(included), "writing instruction samples")
    progress.advance(len(included) - len(pending))
    for start in range(0, len(pending), BATCH):
        batch = pending[start:start + BATCH]
        rows = [row for sample in batch for row in rows_by_slice.get(sample.slice_id, ())]
        with db.session(write=True) as session:
            if rows:
                # A Core insert: the ORM's bulk path costs several times more per row.
                session.connection().execute(insert(InstructionSample.__table__), rows)
        progress.advance(len(batch))

    kinds = Counter()
    for rows in rows_by_slice.values():
        kinds.update(row["kind"] for row in rows)
    return {
        "label_stage": label_stage, "samples": len(samples), "rejected_by_audit": len(rejected),
        "samples_with_questions": len(rows_by_slice), "by_kind": dict(sorted(kinds.items())),
        "closed_by_type": dict(sorted(Counter(q.question_type for q in closed).items())),
        "open_by_type": dict(sorted(Counter(q.question_type for q in opened).items())),
        "traps": sum(item.is_trap for item in laid_out),
        "five_option": sum(not item.question.binary for item in laid_out),
        "trap_share": share, "seed": seed, "paraphrased": paraphrased,
        "paraphrase_provenance": paraphrase_provenance,
        "dropped": dict(sorted(dropped.items())), "fingerprint": fingerprint,
    }


def _rows(run_id: int, laid_out: list[LaidOut],
          opened: list[OpenQuestion]) -> dict[int, list[dict[str, Any]]]:
    rows: dict[int, list[dict[str, Any]]] = {}
    for index, item in enumerate(laid_out):
        question = item.question
        meta = {**question.to_meta(), "q_index": index, "options": item.options,
                "gold": item.gold, "is_trap": item.is_trap,
                "original_answer": item.original_answer}
        for kind, messages in ((CLOSED, closed_messages(item)),
                               (CLOSED_COT, reasoning_messages(item))):
            rows.setdefault(question.slice_id, []).append(
                _row(run_id, question.slice_id, kind, question.question_type, messages,
                     question.sample_id, meta))
    for question in opened:
        rows.setdefault(question.slice_id, []).append(
            _row(run_id, question.slice_id, OPEN, question.question_type,
                 open_messages(question), question.sample_id, question.to_meta()))
    return rows


def _row(run_id: int, slice_id: int, kind: str, question_type: str, messages: list,
         sample_id: str, meta: dict[str, Any]) -> dict[str, Any]:
    return {"pipeline_run_id": run_id, "slice_id": slice_id, "kind": kind,
            "question_type": question_type, "split": None, "messages": messages,
            "images": [sample_id], "meta": meta}


def _fingerprint(run: RunInfo, samples: list[Sample], signs: dict[int, dict],
                 label_stage: str | None) -> str:
    """Return a digest of everything generation reads: configuration, samples and labels."""
    digest = hashlib.sha256(f"{GENERATOR_VERSION}|{label_stage}|".encode())
    digest.update(json.dumps(run.config, sort_keys=True).encode())
    for sample in samples:
        label = signs.get(sample.slice_id)
        digest.update(repr((sample, sorted(label.items()) if label else None)).encode())
    return digest.hexdigest()


def _prepare(db: Database, run: RunInfo, fingerprint: str) -> set[int]:
    """Return the slice ids already written for ``fingerprint``; clear stale rows first."""
    stored = read_stats(db, run.id).get(PROGRESS_KEY, {})
    if stored.get("fingerprint") == fingerprint:
        with db.session() as session:
            return set(session.scalars(select(InstructionSample.slice_id).distinct()
                                       .where(InstructionSample.pipeline_run_id == run.id)))
    with db.session(write=True) as session:
        session.execute(delete(InstructionSample)
                        .where(InstructionSample.pipeline_run_id == run.id))
    update_stats(db, run.id, PROGRESS_KEY, {"fingerprint": fingerprint})
    return set()


def _paraphrase(run: RunInfo, questions: list[ClosedQuestion], samples: dict[int, Sample],
                signs: dict[int, dict], caller: ModelCall) -> tuple[list[ClosedQuestion], int]:
    prompt = load_prompt(run.config["prompts"]["paraphrase"])
    result, changed = [], 0
    for question in questions:
        finding = finding_words(samples[question.slice_id], signs.get(question.slice_id))
        avoid = ", ".join(sorted(finding | {question.answer.lower()}))
        system, user = prompt.render(question=question.stem, avoid_words=avoid)
        request = ModelRequest(model=run.model("paraphrase") or "",
                               key=f"{question.sample_id}#{question.question_type}",
                               system=system, user=user,
                               json_schema={"type": "object",
                                            "properties": {"question": {"type": "string"}},
                                            "required": ["question"]},
                               settings=prompt.settings, prompt_name=prompt.name)
        stem = _reworded(caller, request)
        if stem and not leak_problems(stem, question.answer, finding):
            question = replace(question, stem=stem)
            changed += 1
        elif stem:
            log.info("paraphrase of %s leaks; the template stem is kept", request.key)
        result.append(question)
    return result, changed


def _reworded(caller: ModelCall, request: ModelRequest) -> str | None:
    try:
        raw = caller(request)
    except ModelUnavailableError:
        raise
    except WorkbenchError as error:
        log.info("paraphrase of %s failed (%s); the template stem is kept", request.key, error)
        return None
    extracted = extract_json_object(raw, ("question",))
    stem = (extracted.value or {}).get("question")
    return stem.strip() if isinstance(stem, str) and stem.strip() else None
