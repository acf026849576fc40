"""Lint Make.com blueprints: find the mistakes Make only reports at run time, before import.

Every finding names the module id, the module (its app:Module and designer label) and the
JSON path of the offending value, so a user can find it in the file and in Make's editor.
The checks live in ``scenarios/rules/``; this module loads files, walks the tree once and
hands the rules a :class:`LintContext`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from scenarios import iml
from scenarios.shapes import ShapeBook
from scenarios.tree import Blueprint, BlueprintError, Site, iter_strings, unwrap, walk

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Finding:
    severity: Severity
    code: str
    message: str
    module_id: int | None = None
    module: str = ""  # app:Module, e.g. http:ActionSendData
    label: str = ""  # the name given in Make's designer, if any
    path: str = "$"  # JSON path of the offending value

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        where = ""
        if self.module_id is not None:
            name = f' "{self.label}"' if self.label else ""
            where = f"module {self.module_id} ({self.module}{name}) "
        return f"{self.severity}: {where}at {self.path}: {self.message} [{self.code}]"


@dataclass(frozen=True)
class LintOptions:
    require_signature: bool = (
        False  # hub calls must carry X-Hub-Signature-256 (HUB_REQUIRE_SIGNATURE)
    )
    extra_functions: frozenset[str] = frozenset()  # custom functions the account defines


@dataclass
class LintContext:
    blueprint: Blueprint
    sites: list[Site]
    options: LintOptions
    _templates: dict[int, list[tuple[str, iml.Template]]] = field(default_factory=dict)

    @cached_property
    def by_id(self) -> dict[int, Site]:
        found: dict[int, Site] = {}
        for site in self.sites:
            if site.id is not None:
                found.setdefault(site.id, site)
        return found

    @cached_property
    def shapes(self) -> ShapeBook:
        return ShapeBook({mid: site.module for mid, site in self.by_id.items()})

    @property
    def dlq_allowed(self) -> bool:
        return bool(self.blueprint.scenario.get("dlq"))

    def templates(self, site: Site) -> list[tuple[str, iml.Template]]:
        """Parsed IML of every string in the module's mapper and filter (cached)."""
        key = id(site.module)
        if key not in self._templates:
            parsed = []
            for part in ("mapper", "filter"):
                value = site.module.get(part)
                for path, text in iter_strings(value, f"{site.path}.{part}"):
                    if iml.has_expression(text):
                        parsed.append((path, iml.parse(text, self.options.extra_functions)))
            self._templates[key] = parsed
        return self._templates[key]

    def finding(
        self, site: Site | None, severity: Severity, code: str, message: str, path: str = ""
    ) -> Finding:
        if site is None:
            return Finding(severity, code, message, path=path or "$")
        return Finding(severity, code, message, site.id, site.kind, site.label, path or site.path)


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
    from scenarios.rules import RULES  # the rules import LintContext from here

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


def iter_references(context: LintContext, site: Site) -> Iterator[tuple[str, iml.Reference]]:
    for path, template in context.templates(site):
        for ref in template.references:
            yield path, ref
