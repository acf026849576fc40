"""Rules over the IML in mappers and filters: syntax, scope of references, known fields."""

from __future__ import annotations

from collections.abc import Iterator

from scenarios.lint_context import Finding, LintContext, iter_references
from scenarios.tree import Site


def expression_syntax(context: LintContext) -> Iterator[Finding]:
    """Unbalanced braces, ``,`` between arguments, ``[0]``, unknown functions and keywords."""
    for site in context.sites:
        for path, template in context.templates(site):
            for problem in template.problems:
                excerpt = _excerpt(template.text, problem.offset)
                yield context.finding(
                    site, problem.severity, problem.code, f"{problem.message} in {excerpt}", path
                )


def references(context: LintContext) -> Iterator[Finding]:
    """Every ``{{N.path}}`` must name a module that ran earlier on this path, and a field it has."""
    by_id = context.by_id
    for site in context.sites:
        for path, ref in iter_references(context, site):
            target = by_id.get(ref.module_id)
            if target is None:
                yield context.finding(
                    site,
                    "error",
                    "unknown-module",
                    f"{{{{{ref.text}}}}} refers to module {ref.module_id}, which is not in this "
                    "blueprint",
                    path,
                )
                continue
            if ref.module_id in site.failed and ref.fields[:1] == ("error",):
                continue  # {{N.error.message}} inside N's error handler
            if ref.module_id not in site.scope:
                yield context.finding(
                    site, "error", "out-of-scope", _scope_message(site, target, ref.text), path
                )
                continue
            if ref.whole_bundle:
                continue
            resolved = context.shapes.resolve(ref)
            if not resolved.ok:
                soft = resolved.soft
                hint = (
                    " (the webhook's fields come from one sample request: redetermine the "
                    "data structure if the sender changed)"
                    if soft
                    else ""
                )
                yield context.finding(
                    site,
                    "warning" if soft else "error",
                    "unknown-field",
                    f"{{{{{ref.text}}}}}: module {ref.module_id} ({target.kind}) has no output "
                    f"field '{resolved.missing}'{hint}",
                    path,
                )


def _scope_message(site: Site, target: Site, text: str) -> str:
    mid = target.id
    if mid == site.id:
        why = "a module cannot map its own output (its filter runs before it)"
    elif mid in site.failed:
        why = (
            f"module {mid} failed, so inside its error handler only {{{{{mid}.error.message}}}}"
            " and the like exist"
        )
    elif target.path.startswith(site.path + "."):
        why = f"module {mid} runs after this one (in a route or handler of it)"
    elif target.flow is site.flow:
        why = f"module {mid} runs after this one"
    else:
        why = (
            f"module {mid} is on another route or handler, which does not run before this "
            "module (sibling routes never see each other's output)"
        )
    return f"{{{{{text}}}}}: {why}"


def _excerpt(text: str, offset: int, width: int = 60) -> str:
    start = max(offset - 20, 0)
    snippet = text[start : start + width].replace("\n", "\\n")
    prefix = "…" if start else ""
    suffix = "…" if start + width < len(text) else ""
    return f"'{prefix}{snippet}{suffix}'"
