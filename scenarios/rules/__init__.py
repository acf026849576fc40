"""The lint rules. Each is ``rule(context) -> Iterable[Finding]``; RULES runs them in order."""

from __future__ import annotations

from scenarios.rules import http, mapping, structure

RULES = (
    structure.duplicate_ids,
    mapping.expression_syntax,
    mapping.references,
    structure.iterator_input,
    structure.break_needs_dlq,
    http.dataforseo_body,
    http.hub_calls,
    structure.unrendered_placeholders,
)
