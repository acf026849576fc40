"""Rules about the module tree: unique ids, Iterator inputs, Break retries, placeholders."""

from __future__ import annotations

from collections.abc import Iterator

from scenarios import iml
from scenarios.lint_context import Finding, LintContext
from scenarios.markers import find_placeholders
from scenarios.rules.http import is_hub_call
from scenarios.shapes import FEEDER, HTTP_MODULES, SHEETS_ROW_MODULES, is_implicit_iterator
from scenarios.tree import iter_strings

# Field types that are certainly not arrays (interface types as Make exports them).
_SCALAR_TYPES = frozenset(
    {"text", "number", "uinteger", "integer", "boolean", "date", "email", "url", "collection"}
)


def duplicate_ids(context: LintContext) -> Iterator[Finding]:
    seen: dict[int, str] = {}
    for site in context.sites:
        if site.id is None:
            yield context.finding(site, "error", "missing-id", "module has no integer 'id'")
            continue
        if site.id in seen:
            yield context.finding(
                site,
                "error",
                "duplicate-id",
                f"id {site.id} is already used at {seen[site.id]}: ids must be unique in the "
                "whole blueprint, or mappings point at the wrong module",
            )
        else:
            seen[site.id] = site.path


def iterator_input(context: LintContext) -> Iterator[Finding]:
    """An Iterator must be fed an array, not a bundle or a plain field ("Invalid array")."""
    for site in context.sites:
        if site.kind != FEEDER:
            continue
        text = site.mapper.get("array")
        path = f"{site.path}.mapper.array"
        if not isinstance(text, str) or not iml.has_expression(text):
            continue
        template = iml.parse(text, context.options.extra_functions)
        if not template.is_single_expression:
            yield context.finding(
                site,
                "error",
                "iterator-not-array",
                "the Iterator's array mixes literal text with a mapping, which makes it text",
                path,
            )
            continue
        ref = template.expressions[0].sole_reference
        if ref is None or ref.module_id not in context.by_id:
            continue  # a function result (split, map, ...) or a reported unknown module
        source = context.by_id[ref.module_id]
        if ref.whole_bundle:
            yield context.finding(
                site,
                "error",
                "iterator-not-array",
                f"{{{{{ref.text}}}}} is a whole bundle of module {ref.module_id}, not an array",
                path,
            )
            continue
        resolved = context.shapes.resolve(ref)
        field = resolved.field
        field_type = field.type if field is not None else ""
        # A sheet's cells are never arrays; other search modules only when their field says so.
        certain = field_type in _SCALAR_TYPES or source.kind in SHEETS_ROW_MODULES
        if is_implicit_iterator(source.kind) and field_type != "array" and certain:
            yield context.finding(
                site,
                "error",
                "iterator-not-array",
                f"{{{{{ref.text}}}}}: module {ref.module_id} ({source.kind}) already outputs one "
                "bundle per result, so this field is a single value, not an array; map the "
                "module's results through an Array aggregator, or drop the Iterator",
                path,
            )
        elif field_type in _SCALAR_TYPES:
            yield context.finding(
                site,
                "error",
                "iterator-not-array",
                f"{{{{{ref.text}}}}} is a {field_type}, not an array (Make fails with "
                "'Invalid array')",
                path,
            )


def break_needs_dlq(context: LintContext) -> Iterator[Finding]:
    """A Break that retries stores an incomplete execution: the scenario must allow them."""
    if context.dlq_allowed:
        return
    hub_callers = {s.id for s in context.sites if s.kind in HTTP_MODULES and is_hub_call(s)}
    for site in context.sites:
        if site.handler_of in hub_callers:
            continue  # reported at the hub call itself (rules.http.hub_calls)
        if site.kind == "builtin:Break" and _truthy(site.mapper.get("retry")):
            yield context.finding(
                site,
                "error",
                "break-without-dlq",
                "Break with automatic retry needs 'Allow storing of incomplete executions' "
                f"(metadata.scenario.dlq: true at {context.blueprint.metadata_path}); without "
                "it the failed bundle is dropped and never retried",
                f"{site.path}.mapper.retry",
            )


def unrendered_placeholders(context: LintContext) -> Iterator[Finding]:
    for site in context.sites:
        for path, text in iter_strings(site.module.get("mapper"), f"{site.path}.mapper"):
            for marker in sorted(set(find_placeholders(text))):
                yield context.finding(
                    site,
                    "warning",
                    "placeholder",
                    f"{marker} is still a placeholder: render the blueprint with "
                    "`hub scenarios render NAME --hub-url URL` before importing it",
                    path,
                )


def _truthy(value: object) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")
