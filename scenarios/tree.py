"""Walk a blueprint's modules with their scope: which modules have run before each one.

A module may map outputs only of modules that run before it on the same path: earlier siblings
in its own flow list, plus everything in scope of the router (or If/Else, or failing module)
whose route it sits in. Sibling routes never see each other. Inside an ``onerror`` route the
failed module has produced no output, except its ``error`` (``{{N.error.message}}``).

Blueprints arrive in three wrappings (research notes, "Wrappers seen in the wild"): the export
itself ``{name, flow, metadata}``, an API answer ``{"blueprint": {...}}`` (also under
``response``), and copy-pastes ``{"subflows": [{"flow": [...]}]}``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


class BlueprintError(ValueError):
    """The document is JSON but not a blueprint; the message says what is missing."""


@dataclass(frozen=True)
class Site:
    """One module where it sits in the tree."""

    module: dict[str, Any]
    path: str  # JSON path of the module, e.g. "$.flow[2].routes[0].flow[1]"
    scope: tuple[int, ...]  # ids of modules that ran before it on its path, in order
    failed: tuple[int, ...] = ()  # modules whose onerror route contains it
    handler_of: int | None = None  # the module whose onerror route it is directly in
    flow: list[dict[str, Any]] = field(default_factory=list, compare=False, repr=False)

    @property
    def id(self) -> int | None:
        value = self.module.get("id")
        return value if isinstance(value, int) else None

    @property
    def kind(self) -> str:
        return str(self.module.get("module", ""))

    @property
    def label(self) -> str:
        designer = (self.module.get("metadata") or {}).get("designer") or {}
        return str(designer.get("name") or "")

    @property
    def mapper(self) -> dict[str, Any]:
        mapper = self.module.get("mapper")
        return mapper if isinstance(mapper, dict) else {}

    @property
    def parameters(self) -> dict[str, Any]:
        params = self.module.get("parameters")
        return params if isinstance(params, dict) else {}


@dataclass
class Blueprint:
    """The flows to lint (usually one) and the scenario metadata, wherever they were found."""

    roots: list[tuple[list[dict[str, Any]], str]]
    metadata: dict[str, Any]
    metadata_path: str
    document: dict[str, Any]

    @property
    def scenario(self) -> dict[str, Any]:
        scenario = self.metadata.get("scenario")
        return scenario if isinstance(scenario, dict) else {}


def unwrap(document: Any) -> Blueprint:
    if not isinstance(document, dict):
        raise BlueprintError("the file holds JSON but not an object: a blueprint is {name, flow}")
    path = "$"
    node = document
    for key in ("response", "blueprint"):
        inner = node.get(key)
        if isinstance(inner, dict) and (
            "flow" in inner or "blueprint" in inner or key == "blueprint"
        ):
            node = inner
            path += f".{key}"
    metadata = node.get("metadata") if isinstance(node.get("metadata"), dict) else {}
    if isinstance(node.get("flow"), list):
        return Blueprint([(node["flow"], f"{path}.flow")], metadata, f"{path}.metadata", document)
    subflows = node.get("subflows")
    if isinstance(subflows, list):
        roots = [
            (sub["flow"], f"{path}.subflows[{i}].flow")
            for i, sub in enumerate(subflows)
            if isinstance(sub, dict) and isinstance(sub.get("flow"), list)
        ]
        if roots:
            return Blueprint(roots, metadata, f"{path}.metadata", document)
    raise BlueprintError(
        "no 'flow' list found (looked at the top level, 'blueprint', 'response.blueprint' "
        "and 'subflows[].flow')"
    )


def walk(blueprint: Blueprint) -> list[Site]:
    sites: list[Site] = []
    for flow, path in blueprint.roots:
        sites.extend(_walk_flow(flow, path, (), ()))
    return sites


def _walk_flow(
    flow: list[Any],
    path: str,
    outer_scope: tuple[int, ...],
    failed: tuple[int, ...],
    handler_of: int | None = None,
) -> Iterator[Site]:
    scope = list(outer_scope)
    for i, module in enumerate(flow):
        if not isinstance(module, dict):
            continue
        here = f"{path}[{i}]"
        site = Site(module, here, tuple(scope), failed, handler_of, flow)
        yield site
        module_id = site.id
        own = (*scope, module_id) if module_id is not None else tuple(scope)
        # Router routes and If/Else branches run after the router, each on its own path.
        for key in ("routes", "branches"):
            for r, route in enumerate(module.get(key) or []):
                if isinstance(route, dict) and isinstance(route.get("flow"), list):
                    yield from _walk_flow(route["flow"], f"{here}.{key}[{r}].flow", own, failed)
        onerror = module.get("onerror")
        if isinstance(onerror, list) and module_id is not None:
            yield from _walk_flow(
                onerror, f"{here}.onerror", tuple(scope), (*failed, module_id), module_id
            )
        if module_id is not None:
            scope.append(module_id)


def iter_strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every string inside a mapper or filter, with its JSON path (nested lists and dicts)."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from iter_strings(item, path + key_suffix(str(key)))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from iter_strings(item, f"{path}[{i}]")


def key_suffix(key: str) -> str:
    """``.name`` for plain keys, ``["odd key"]`` otherwise (JSONPath bracket notation)."""
    if key.isidentifier():
        return f".{key}"
    escaped = key.replace("\\", "\\\\").replace('"', '\\"')
    return f'["{escaped}"]'
