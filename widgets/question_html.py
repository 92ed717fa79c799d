"""HTML of the questions panel's detail view: a question with its options, or one run's answer.

Blind mode leaves out everything that reveals the gold answer or whether an answer is right:
the gold letter and text, trap marks, reference answers, keyword hits, scores and accuracy.
"""

from __future__ import annotations

from html import escape

from engine.bench.open_metrics import keyword_spans

GOLD_STYLE = "background:#d9f2d9;"
CHOSEN_STYLE = "border:1px solid #1565c0;"
HIT_STYLE = "background:#c8e6c9;"
MISSED_STYLE = "background:#ffcdd2;"
MUTED_STYLE = "color:#666;"


def _paragraph(text: str) -> str:
    return escape(text).replace("\n", "<br>")


def highlight(text: str, keywords) -> str:
    """Return ``text`` as HTML with each occurrence of ``keywords`` marked as a hit."""
    spans = keyword_spans(text, list(keywords))
    parts, position = [], 0
    for start, end in spans:
        parts.append(_paragraph(text[position:start]))
        parts.append(f'<span class="hit" style="{HIT_STYLE}">{_paragraph(text[start:end])}</span>')
        position = end
    parts.append(_paragraph(text[position:]))
    return "".join(parts)


def _percent(value) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


def correctness(answer) -> str:
    if answer.skipped:
        return f"skipped ({answer.skipped})"
    if answer.is_correct is None:
        return ""
    return "right" if answer.is_correct else "wrong"


def run_figures(overview, blind: bool) -> str:
    """Return "accuracy 50.0 %, agreement 80.0 % of 5 reviewed" (accuracy left out when blind)."""
    if overview is None:
        return ""
    parts = [] if blind else [f"accuracy {_percent(overview.accuracy)}"]
    if overview.reviewed:
        parts.append(f"agreement {_percent(overview.agreement)} of {overview.reviewed} reviewed")
    else:
        parts.append("no reviews yet")
    return ", ".join(parts)


def _options(question, blind: bool, chosen: str | None) -> str:
    rows = []
    for letter, text in question.options:
        style = ""
        if not blind and letter == question.gold_letter:
            style += GOLD_STYLE
        if chosen == letter:
            style += CHOSEN_STYLE
        mark = " (gold)" if not blind and letter == question.gold_letter else ""
        rows.append(f'<li style="{style}"><b>{escape(letter)}</b> {escape(text)}{mark}</li>')
    return f"<ul>{''.join(rows)}</ul>"


def _question_block(question, blind: bool, chosen: str | None = None) -> str:
    head = (f"<h3>{escape(question.benchmark)} item {question.item_id}: {escape(question.question_type)} "
            f"({question.kind})</h3>")
    parts = [head, f"<p><b>{_paragraph(question.stem)}</b></p>"]
    if question.kind == "closed":
        parts.append(_options(question, blind, chosen))
        if not blind and question.is_trap:
            parts.append(f'<p style="{MUTED_STYLE}">Trap item: the correct option was removed, so the '
                         f"gold answer is the rejection option. Removed answer: "
                         f"{escape(question.original_answer or '-')}</p>")
    elif not blind:
        reference = question.reference_answer or ""
        parts.append(f"<p><b>Reference answer</b><br>{highlight(reference, question.keywords)}</p>")
        parts.append(f"<p><b>Keywords</b> {escape(', '.join(question.keywords)) or '-'}</p>")
    if question.image_missing:
        parts.append(f'<p style="{MUTED_STYLE}">Image missing: {escape(question.image_path)}</p>')
    return "".join(parts)


def question_html(question, overviews: dict, blind: bool) -> str:
    """Return the detail HTML of ``question`` with a one-line summary of each run's answer."""
    parts = [_question_block(question, blind)]
    if question.answers:
        rows = []
        for answer in question.answers:
            verdict = "" if blind else correctness(answer)
            if question.kind == "closed":
                letter = answer.parsed_letter or "none"
            else:
                letter = "text" if answer.raw_output else "no text"
            rows.append(f"<tr><td>{escape(answer.run_name)}</td><td>{escape(answer.model_label)}</td>"
                        f"<td>{escape(letter)}</td><td>{escape(verdict)}</td>"
                        f"<td>{escape(run_figures(overviews.get(answer.run_id), blind))}</td></tr>")
        parts.append("<table cellpadding='3'><tr><th>Run</th><th>Model</th><th>Answer</th><th></th>"
                     f"<th>Run figures</th></tr>{''.join(rows)}</table>")
    else:
        parts.append(f'<p style="{MUTED_STYLE}">No run has answered this question.</p>')
    return "".join(parts)


def _probabilities(answer) -> str:
    if not answer.letter_probs:
        return ""
    cells = "".join(f"<td><b>{escape(letter)}</b> {probability:.3f}</td>"
                    for letter, probability in sorted(answer.letter_probs.items()))
    mass = f" (mass on letters {answer.letter_mass:.3f})" if answer.letter_mass is not None else ""
    return f"<p><b>Letter probabilities</b>{mass}</p><table cellpadding='3'><tr>{cells}</tr></table>"


def _open_answer(question, answer, blind: bool) -> str:
    text = answer.raw_output or ""
    if blind:
        body = _paragraph(text) if text else "<i>no answer text</i>"
        return f"<p><b>Model answer</b><br>{body}</p>"
    body = highlight(text, answer.keywords_hit) if text else "<i>no answer text</i>"
    hit = ", ".join(f'<span style="{HIT_STYLE}">{escape(k)}</span>' for k in answer.keywords_hit) or "-"
    missed = ", ".join(f'<span class="missed" style="{MISSED_STYLE}">{escape(k)}</span>'
                       for k in answer.keywords_missed) or "-"
    parts = [f"<p><b>Model answer</b><br>{body}</p>",
             f"<p><b>Keywords hit</b> {hit}<br><b>Keywords missed</b> {missed}</p>"]
    if answer.scores:
        scores = ", ".join(f"{escape(name)} {value:.3f}" for name, value in sorted(answer.scores.items())
                           if isinstance(value, (int, float)))
        parts.append(f'<p style="{MUTED_STYLE}">{scores}</p>')
    return "".join(parts)


def answer_html(question, answer, overview, blind: bool) -> str:
    """Return the detail HTML of one run's ``answer`` to ``question``."""
    parts = [_question_block(question, blind, chosen=answer.parsed_letter)]
    template = answer.template or "default"
    latency = "-" if answer.latency_ms is None else f"{answer.latency_ms:.0f} ms"
    parts.append(f"<h3>{escape(answer.run_name)}</h3>"
                 f"<p>Model {escape(answer.model_label)}, prompt template {escape(template)}, "
                 f"mode {escape(answer.mode)}, latency {latency}<br>"
                 f"{escape(run_figures(overview, blind))}</p>")
    if question.kind == "closed":
        verdict = "" if blind else f" ({correctness(answer)})"
        rule = f", rule {escape(answer.parse_rule)}" if answer.parse_rule else ""
        parts.append(f"<p><b>Parsed letter</b> {escape(answer.parsed_letter or 'none')}{verdict}{rule}</p>")
        parts.append(_probabilities(answer))
        if answer.raw_output:
            parts.append(f"<p><b>Raw output</b><br><tt>{_paragraph(answer.raw_output)}</tt></p>")
    else:
        parts.append(_open_answer(question, answer, blind))
    if answer.reasoning:
        parts.append(f"<p><b>Reasoning</b><br>{_paragraph(answer.reasoning)}</p>")
    if answer.skipped:
        parts.append(f'<p style="{MUTED_STYLE}">Not asked: {escape(answer.skipped)}</p>')
    return "".join(parts)
