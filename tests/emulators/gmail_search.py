"""The subset of Gmail's search syntax the hub uses, for the Gmail emulator's ``messages.list``.

Operators: ``in:sent``, ``in:inbox``, ``label:``, ``rfc822msgid:``, ``to:``, ``from:``,
``subject:``, ``after:``/``before:`` (epoch seconds or ``YYYY/MM/DD``), ``is:unread``; a bare
word searches subject and body. Terms are ANDed, as in Gmail. An operator we do not know is a
400 (as Gmail answers a malformed query) rather than silently matching everything.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import getaddresses
from typing import Protocol


class SearchError(ValueError):
    pass


class Searchable(Protocol):
    label_ids: list[str]
    internal_date_ms: int

    def header(self, name: str) -> str: ...

    def text(self) -> str: ...


Predicate = Callable[[Searchable], bool]


def _epoch(value: str) -> float:
    if value.isdigit():
        return float(value)
    for fmt in ("%Y/%m/%d", "%Y-%m-%d"):
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=UTC).timestamp()
        except ValueError:
            continue
    raise SearchError(f"Invalid date in search query: {value!r}")


def _addresses(message: Searchable, *names: str) -> str:
    values = [message.header(name) for name in names]
    pairs = getaddresses([v for v in values if v])
    return " ".join(f"{name} {addr}".lower() for name, addr in pairs)


def _term(operator: str, value: str) -> Predicate:
    low = value.lower()
    if operator == "in" or operator == "label":
        label = {"sent": "SENT", "inbox": "INBOX", "spam": "SPAM", "trash": "TRASH"}.get(
            low, value.upper()
        )
        return lambda m: label in m.label_ids
    if operator == "is":
        if low == "unread":
            return lambda m: "UNREAD" in m.label_ids
        raise SearchError(f"Unsupported search term is:{value}")
    if operator == "rfc822msgid":
        wanted = value.strip().strip("<>").lower()
        return lambda m: m.header("Message-ID").strip().strip("<>").lower() == wanted
    if operator == "to":
        return lambda m: low in _addresses(m, "To", "Cc", "Bcc")
    if operator == "from":
        return lambda m: low in _addresses(m, "From")
    if operator == "subject":
        return lambda m: low in m.header("Subject").lower()
    if operator == "after":
        after_ms = _epoch(value) * 1000
        return lambda m: m.internal_date_ms > after_ms
    if operator == "before":
        before_ms = _epoch(value) * 1000
        return lambda m: m.internal_date_ms < before_ms
    raise SearchError(f"Unsupported search operator {operator}:")


def compile_query(query: str) -> Predicate:
    try:
        tokens = shlex.split(query or "")
    except ValueError as exc:
        raise SearchError(f"Invalid search query: {exc}") from exc
    terms: list[Predicate] = []
    for token in tokens:
        operator, sep, value = token.partition(":")
        if sep and operator.isalnum() and value:
            terms.append(_term(operator.lower(), value))
        else:
            word = token.lower()
            terms.append(lambda m, w=word: w in (m.header("Subject") + " " + m.text()).lower())
    return lambda message: all(term(message) for term in terms)
