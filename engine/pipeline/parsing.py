"""Extracting one JSON object from a model's free-text reply.

Models wrap JSON in code fences, prepend reasoning (``<think>`` blocks), echo an example
before the answer, write Python literals (``True``, ``None``), single quotes or trailing
commas, or stop mid-object at the token limit. :func:`extract_json_object` tries, in order:

1. every fenced block, then the whole text, with a strict JSON decoder;
2. the same after light repairs: Python literals, single quotes (only when the text has no
   double quote), trailing commas and ``//`` comments removed, and control characters
   inside strings escaped (grammar-constrained decoding lets a raw newline into a string,
   which strict JSON forbids);
3. a truncated object closed after its last complete member.

The first attempt that finds an object with an expected key wins, so an outer object that
needs a repair is preferred to a nested object that decodes strictly. Among several objects
the last one that has an expected key wins, because reasoning models often show a draft
before the final answer. Without an expected key anywhere, the first attempt that finds an
object gives it.
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

    attempts: list[tuple[list[dict[str, Any]], list[str]]] = []
    for repaired in (False, True):
        found: list[dict[str, Any]] = []
        repairs: list[str] = []
        for candidate in candidates:
            source = candidate
            if repaired:
                source, fixes = _repair(candidate)
                repairs += [fix for fix in fixes if fix not in repairs]
            found.extend(_objects(source))
        attempts.append((found, repairs))
        if _with_expected_keys(found, expected):
            return Extracted(_choose(found, expected), None, repairs)

    closed = _close_truncated(body)
    if closed is not None:
        source, fixes = _repair(closed)
        found = _objects(source)
        notes = ["closed a truncated object", *fixes]
        attempts.append((found, notes))
        if _with_expected_keys(found, expected):
            return Extracted(_choose(found, expected), None, notes)
    for found, repairs in attempts:
        if found:
            return Extracted(_choose(found, expected), None, repairs)
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


def _objects(text: str) -> list[dict[str, Any]]:
    """Return the top-level JSON objects decodable from positions of ``{`` in ``text``."""
    decoder = json.JSONDecoder()
    objects = []
    position = text.find("{")
    while position != -1:
        try:
            value, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError:
            position = text.find("{", position + 1)
            continue
        if isinstance(value, dict):
            objects.append(value)
        position = text.find("{", end)
    return objects


def _with_expected_keys(objects: list[dict[str, Any]], expected: set[str]) -> list[dict[str, Any]]:
    """Return the objects that contain an expected key (all of them when none is expected)."""
    if not expected:
        return objects
    return [value for value in objects if expected & set(_flat_keys(value))]


def _choose(objects: list[dict[str, Any]], expected: set[str]) -> dict[str, Any]:
    with_keys = _with_expected_keys(objects, expected)
    return with_keys[-1] if with_keys else objects[-1]


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
    text, count = _escape_string_controls(text)
    if count:
        repairs.append("escaped control characters inside strings")
    return text, repairs


def _escape_string_controls(text: str) -> tuple[str, int]:
    """Return ``text`` with control characters inside double-quoted strings escaped, and
    how many there were."""
    parts: list[str] = []
    count = 0
    in_string = escaped = False
    for char in text:
        if in_string and not escaped and ord(char) < 0x20:
            parts.append(json.dumps(char)[1:-1])
            count += 1
            continue
        parts.append(char)
        if escaped:
            escaped = False
        elif in_string and char == "\\":
            escaped = True
        elif char == '"':
            in_string = not in_string
    return "".join(parts), count


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
