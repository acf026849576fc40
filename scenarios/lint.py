"""Lint Make.com blueprints: find the mistakes Make only reports at run time, before import.

Every finding names the module id, the module (its app:Module and designer label) and the
JSON path of the offending value, so a user can find it in the file and in Make's editor.
The checks live in ``scenarios/rules/``; this module loads files, walks the tree once and
hands the rules a :class:`~scenarios.lint_context.LintContext`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scenarios.lint_context import Finding, LintContext, LintOptions
from scenarios.rules import RULES
from scenarios.tree import BlueprintError, unwrap, walk


@dataclass
class FileReport:
    path: str
    findings: list[Finding]
    invalid: bool = False  # not JSON, or JSON that is not a blueprint

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "invalid": self.invalid,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "findings": [f.to_dict() for f in self.findings],
        }


def lint_document(document: Any, options: LintOptions | None = None) -> list[Finding]:
    """Lint a parsed blueprint (any of the accepted wrappings)."""
    options = options or LintOptions()
    try:
        blueprint = unwrap(document)
    except BlueprintError as exc:
        return [Finding("error", "not-a-blueprint", str(exc))]
    context = LintContext(blueprint, walk(blueprint), options)
    findings: list[Finding] = []
    for rule in RULES:
        findings.extend(rule(context))
    return sorted(findings, key=_order(context))


def lint_text(text: str, options: LintOptions | None = None) -> tuple[list[Finding], bool]:
    """Lint blueprint JSON text; returns (findings, invalid)."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        message = f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        return [Finding("error", "invalid-json", message)], True
    findings = lint_document(document, options)
    return findings, any(f.code == "not-a-blueprint" for f in findings)


def lint_file(path: str | Path, options: LintOptions | None = None) -> FileReport:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        finding = Finding("error", "invalid-json", f"not UTF-8 text: {exc.reason}")
        return FileReport(str(path), [finding], invalid=True)
    except OSError as exc:
        finding = Finding("error", "unreadable", f"cannot read the file: {exc.strerror}")
        return FileReport(str(path), [finding], invalid=True)
    findings, invalid = lint_text(text, options)
    return FileReport(str(path), findings, invalid)


def _order(context: LintContext):
    position = {id(site.module): i for i, site in enumerate(context.sites)}
    by_id = context.by_id

    def key(finding: Finding) -> tuple[int, str]:
        site = by_id.get(finding.module_id) if finding.module_id is not None else None
        return (position.get(id(site.module), -1) if site else -1, finding.path)

    return key
