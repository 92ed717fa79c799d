"""Extracting one JSON object from a model's free-text reply.

Models wrap JSON in code fences, prepend reasoning (``<think>`` blocks), echo an example
before the answer, write Python literals (``True``, ``None``), single quotes or trailing
commas, or stop mid-object at the token limit. :func:`extract_json_object` tries, in order:

1. every fenced block, then the whole text, with a strict JSON decoder;
2. the same accepting raw control characters (line breaks, tabs, other characters below
   0x20) inside strings, which strict JSON forbids. llama-cpp-python's schema-to-grammar
   converter (version 0.3.36) lets them into strings, and models that write multi-line text put
   line breaks there;
3. the same after light repairs: Python literals, single quotes (only when the text has no
   double quote), trailing commas and ``//`` comments removed;
4. a truncated object closed after its last complete member.

Among several objects the last one that has an expected key wins, because reasoning models
often show a draft before the final answer.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

_THINK_BLOCK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_UNCLOSED_THINK = re.compile(r"^.*</think>", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")
_LINE_COMMENT = re.compile(r"(?m)^\s*//.*$|(?<=[,{\[])\s*//[^\n]*")
CONTROL_CHARACTER_REPAIR = "accepted raw control characters inside strings"
_PYTHON_LITERALS = ((re.compile(r"\bTrue\b"), "true"), (re.compile(r"\bFalse\b"), "false"),
                    (re.compile(r"\bNone\b"), "null"))


@dataclass
class Extracted:
    """A JSON object found in a reply, or None with the reason; ``repairs`` lists fixes applied."""

    value: dict[str, Any] | None
    problem: str | None = None
    repairs: list[str] = field(default_factory=list)


def extract_json_object(text: str | None, expected_keys: Iterable[str] = ()) -> Extracted:
    """Find the JSON object in ``text``; see the module docstring for the order of attempts.

    ``expected_keys`` are compared case-insensitively, ignoring separators, to choose among
    several objects. Never raises on bad text: the problem is returned instead.
    """
    if text is None or not text.strip():
        return Extracted(None, "the reply is empty")
    expected = {_key(name) for name in expected_keys}
    body = _strip_reasoning(text)
    candidates = [match.group(1) for match in _FENCE.finditer(body)] + [body]

    # Strict JSON first, then control characters inside strings, then the light repairs.
    for repaired, strict in ((False, True), (False, False), (True, False)):
        found: list[dict[str, Any]] = []
        repairs: list[str] = []
        lenient = False
        for candidate in candidates:
            source = candidate
            if repaired:
                source, repairs = _repair(candidate)
            objects, needed_lenient = _objects(source, strict=strict)
            found.extend(objects)
            lenient = lenient or needed_lenient
        if found:
            notes = repairs + ([CONTROL_CHARACTER_REPAIR] if lenient else [])
            return Extracted(_choose(found, expected), None, notes)

    closed = _close_truncated(body)
    if closed is not None:
        objects, lenient = _objects(_repair(closed)[0], strict=False)
        if objects:
            repairs = ["closed a truncated object"]
            if lenient:
                repairs.append(CONTROL_CHARACTER_REPAIR)
            return Extracted(_choose(objects, expected), None, repairs)
    if "{" not in body:
        return Extracted(None, "the reply contains no JSON object")
    return Extracted(None, "the reply contains '{' but no JSON object could be decoded")


def _key(name: str) -> str:
    return re.sub(r"[\s\-_]+", "", name.casefold())


def _strip_reasoning(text: str) -> str:
    text = _THINK_BLOCK.sub("", text)
    # A reply that starts inside a reasoning block shows only its closing tag.
    if "</think>" in text.lower():
        text = _UNCLOSED_THINK.sub("", text)
    return text


def _objects(text: str, strict: bool = True) -> tuple[list[dict[str, Any]], bool]:
    """Return the top-level JSON objects decodable from positions of ``{`` in ``text``.

    With ``strict`` False an object that strict JSON rejects only for raw control
    characters inside strings is accepted too, and the returned flag is True.
    """
    decoders = [json.JSONDecoder()] + ([] if strict else [json.JSONDecoder(strict=False)])
    objects = []
    lenient = False
    position = text.find("{")
    while position != -1:
        for decoder in decoders:
            try:
                value, end = decoder.raw_decode(text, position)
            except json.JSONDecodeError:
                continue
            lenient = lenient or decoder is not decoders[0]
            break
        else:
            position = text.find("{", position + 1)
            continue
        if isinstance(value, dict):
            objects.append(value)
        position = text.find("{", end)
    return objects, lenient


def _choose(objects: list[dict[str, Any]], expected: set[str]) -> dict[str, Any]:
    if expected:
        with_keys = [value for value in objects if expected & set(_flat_keys(value))]
        if with_keys:
            return with_keys[-1]
    return objects[-1]


def _flat_keys(value: dict[str, Any]) -> list[str]:
    keys = []
    for name, item in value.items():
        keys.append(_key(str(name)))
        if isinstance(item, dict):
            keys.extend(_flat_keys(item))
    return keys


def _repair(text: str) -> tuple[str, list[str]]:
    repairs = []
    for pattern, replacement in _PYTHON_LITERALS:
        text, count = pattern.subn(replacement, text)
        if count:
            repairs.append(f"replaced Python literal {replacement}")
    if '"' not in text and "'" in text:
        text = text.replace("'", '"')
        repairs.append("replaced single quotes")
    text, count = _LINE_COMMENT.subn("", text)
    if count:
        repairs.append("removed // comments")
    text, count = _TRAILING_COMMA.subn(r"\1", text)
    if count:
        repairs.append("removed trailing commas")
    return text, repairs


def _close_truncated(text: str) -> str | None:
    """Return the text from the first ``{`` cut after its last complete member and closed.

    Tracks strings and nesting; returns None when there is no unclosed object.
    """
    start = text.find("{")
    if start == -1:
        return None
    stack: list[str] = []
    in_string = escaped = False
    last_safe = None  # position after the last complete member, with the stack at that point
    for index in range(start, len(text)):
        char = text[index]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            continue
        if char == '"':
            in_string = True
        elif char in "{[":
            stack.append("}" if char == "{" else "]")
        elif char in "}]":
            if not stack:
                return None
            stack.pop()
            if not stack:
                return None  # a complete object exists; the strict passes handle it
            last_safe = (index + 1, list(stack))
        elif char == ",":
            last_safe = (index, list(stack))
    if not stack or last_safe is None:
        return None
    end, open_brackets = last_safe
    return text[start:end] + "".join(reversed(open_brackets))
