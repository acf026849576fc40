"""What a lint rule works with: the walked blueprint (:class:`LintContext`), the options, and
the :class:`Finding` it reports. The rules (``scenarios/rules/``) and the driver
(:mod:`scenarios.lint`) both import it; it imports neither.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any, Literal

from scenarios import iml
from scenarios.shapes import ShapeBook
from scenarios.tree import Blueprint, Site, iter_strings

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


def iter_references(context: LintContext, site: Site) -> Iterator[tuple[str, iml.Reference]]:
    for path, template in context.templates(site):
        for ref in template.references:
            yield path, ref
