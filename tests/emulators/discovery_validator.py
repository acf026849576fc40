"""Requests checked the way Google's front end checks them, from Google's own API descriptions.

The Sheets and Gmail emulators load the discovery documents that ship inside
google-api-python-client (``googleapiclient/discovery_cache/documents/sheets.v4.json`` and
``gmail.v1.json``, the files the client itself is built from). Gemini has no such document, so
:func:`tests.emulators.gapic_discovery.from_gapic` writes one from the v1/v1beta types and HTTP
rules of google-ai-generativelanguage. One :class:`DiscoveryApi` then checks every request an emulator
receives, before the emulator acts on it:

- the path and verb name a method of the document;
- every query parameter is the method's own or a standard one (``fields``, ``alt``, ``key``...);
  enums are among the listed values; integers parse, fit their format and the maximum that the
  parameter states, in a field or in its description ("The maximum allowed value for this field
  is 500"); path parameters match their patterns;
- the JSON body holds only the request schema's fields (camelCase or snake_case, as Google's
  JSON parser accepts), each of its JSON type and enum, with the fields the method requires;
- ``fields`` selects only what the response schema has; :meth:`DiscoveryApi.partial` then trims
  the answer to it (Google's partial responses).

What a service states only in its guides is added with ``extra`` checks keyed by
``"Schema.property"`` or ``"?parameter"`` (Sheets: A1 sheet-name quoting, 50,000 characters a
cell, no object cells; see ``sheets_api.py``).

A refusal raises :class:`RefusedRequest`; the emulator answers it with :func:`error_body` (400
``INVALID_ARGUMENT`` in Google's shape, each message followed by the description's reason in
brackets) and it is written to :data:`REFUSALS`. ``tests/conftest.py`` fails the test that
caused a refusal unless it is marked ``google_refuses`` (it sends bad requests on purpose): the
product must never send what Google would refuse.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

import googleapiclient

DOCUMENTS = Path(googleapiclient.__file__).resolve().parent / "discovery_cache" / "documents"


# --- what a refusal says --------------------------------------------------------------------
@dataclass(frozen=True)
class Violation:
    field: str  # Google's path to the bad part: "insert_data_option", "data[0].values[0][1]"
    message: str  # Google's own wording for it
    reason: str  # what the API description says, and which one says it

    def text(self) -> str:
        return f"{self.message} [{self.reason}]"


class RefusedRequest(Exception):
    def __init__(self, api: str, method: str, violations: list[Violation]):
        self.api, self.method, self.violations = api, method, violations
        super().__init__(f"{api} {method}: " + "; ".join(v.text() for v in violations))


@dataclass(frozen=True)
class Refusal:
    api: str  # "sheets.v4"
    method: str  # "sheets.spreadsheets.values.append"
    request: str  # "POST /v4/spreadsheets/.../values/...:append"
    violations: tuple[Violation, ...]

    def __str__(self) -> str:
        lines = "\n".join(f"    {v.field or '(body)'}: {v.text()}" for v in self.violations)
        return f"{self.api} {self.method} ({self.request}):\n{lines}"


class RefusalLog:
    """Every refused request, in order (a test compares :meth:`mark` before and after), and
    how many requests each API description checked."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[Refusal] = []
        self.checked: Counter[str] = Counter()

    def count(self, api: str) -> None:
        with self._lock:
            self.checked[api] += 1

    def record(self, refusal: Refusal) -> None:
        with self._lock:
            self._items.append(refusal)

    def mark(self) -> int:
        with self._lock:
            return len(self._items)

    def since(self, mark: int) -> list[Refusal]:
        with self._lock:
            return self._items[mark:]


REFUSALS = RefusalLog()


def error_body(refused: RefusedRequest, *, legacy_errors: bool = False) -> dict:
    """Google's 400 for a request it refuses; ``legacy_errors`` adds the ``errors[]`` list that
    Gmail (an older API surface) still sends beside ``details``."""
    message = "; ".join(v.text() for v in refused.violations)
    error: dict[str, Any] = {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}
    if legacy_errors:
        error["errors"] = [{"message": message, "domain": "global", "reason": "invalidArgument"}]
    error["details"] = [
        {
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [
                {"field": v.field, "description": v.text()} for v in refused.violations
            ],
        }
    ]
    return {"error": error}


# A check a service adds for what its guides say: (value, Google's field path) -> problems.
Check = Callable[[Any, str], Iterable[Violation]]


# --- the document's methods ---------------------------------------------------------------------
@dataclass(frozen=True)
class Method:
    id: str  # "sheets.spreadsheets.values.append"
    http_method: str
    path: str  # "v4/spreadsheets/{spreadsheetId}/values/{range}:append"
    pattern: re.Pattern
    names: tuple[str, ...]  # path parameters, in the order of the pattern's groups
    literal: int  # characters outside the variables: when two paths match, the longer wins
    parameters: Mapping[str, dict]
    request: str | None  # schema id of the JSON body
    response: str | None


@dataclass(frozen=True)
class Routed:
    method: Method
    path_params: dict[str, str]
    http_method: str
    path: str


def _path_pattern(template: str, patterns: Mapping[str, str]) -> tuple[re.Pattern, tuple, int]:
    """``v4/spreadsheets/{spreadsheetId}:batchUpdate`` -> a regex over the raw (encoded) path.
    ``{+name}`` may span slashes; ``patterns`` narrows a variable (from a proto HTTP rule)."""
    regex, names, literal, at = "", [], 0, 0
    for found in re.finditer(r"\{(\+?)([^}]+)\}", template):
        text = template[at : found.start()]
        regex += re.escape(text)
        literal += len(text)
        plus, name = found.groups()
        default = ".+?" if plus else "[^/]+?"
        regex += f"({patterns.get(name, default)})"
        names.append(name)
        at = found.end()
    regex += re.escape(template[at:])
    literal += len(template) - at
    return re.compile(regex), tuple(names), literal


def _methods(resources: Mapping[str, dict], patterns: Mapping[str, Mapping[str, str]]):
    for resource in resources.values():
        for spec in resource.get("methods", {}).values():
            path = spec.get("flatPath") or spec["path"]
            pattern, names, literal = _path_pattern(path, patterns.get(spec["id"], {}))
            yield Method(
                id=spec["id"],
                http_method=spec["httpMethod"],
                path=path,
                pattern=pattern,
                names=names,
                literal=literal,
                parameters=spec.get("parameters", {}),
                request=(spec.get("request") or {}).get("$ref"),
                response=(spec.get("response") or {}).get("$ref"),
            )
        yield from _methods(resource.get("resources", {}), patterns)


@cache
def _document(name: str) -> dict:
    return json.loads((DOCUMENTS / f"{name}.json").read_text(encoding="utf-8"))


# --- the checker ----------------------------------------------------------------------------------
class DiscoveryApi:
    def __init__(
        self,
        document: Mapping[str, Any],
        *,
        source: str,
        extra: Mapping[str, Check] | None = None,
        path_patterns: Mapping[str, Mapping[str, str]] | None = None,
        body_fields: Mapping[str, str] | None = None,
    ):
        self.name = f"{document['name']}.{document['version']}"
        self.source = source  # named in every reason, so a reader knows where to look
        self.schemas: Mapping[str, dict] = document.get("schemas", {})
        self.standard: Mapping[str, dict] = document.get("parameters", {})
        self.methods = list(_methods(document.get("resources", {}), path_patterns or {}))
        self.extra = dict(extra or {})
        # Where a body is one field of the request message, Google's error paths start with
        # that field's name ('data.values' for a ValueRange body, as recorded); the discovery
        # document does not say which field it is, so the service names it.
        self.body_fields = dict(body_fields or {})

    @classmethod
    def load(
        cls,
        name: str,
        *,
        extra: Mapping[str, Check] | None = None,
        body_fields: Mapping[str, str] | None = None,
    ) -> DiscoveryApi:
        """The discovery document ``name`` (``"sheets.v4"``) shipped with the installed client."""
        source = f"googleapiclient/discovery_cache/documents/{name}.json"
        return cls(_document(name), source=source, extra=extra, body_fields=body_fields)

    # --- routing ---------------------------------------------------------------------------------
    def route(self, http_method: str, raw_path: str) -> Routed | None:
        """The method a request's verb and raw path name (path parameters decoded), if any."""
        path = raw_path.split("?", 1)[0].lstrip("/")
        best: tuple[Method, re.Match] | None = None
        for method in self.methods:
            if method.http_method != http_method.upper():
                continue
            found = method.pattern.fullmatch(path)
            if found and (best is None or method.literal > best[0].literal):
                best = (method, found)
        if best is None:
            return None
        method, found = best
        params = {
            name: unquote(value) for name, value in zip(method.names, found.groups(), strict=True)
        }
        return Routed(method, params, http_method.upper(), "/" + path)

    # --- checking --------------------------------------------------------------------------------
    def check(self, routed: Routed, query: Iterable[tuple[str, str]], body: bytes) -> Any:
        """The parsed JSON body, or :class:`RefusedRequest` naming every problem Google would
        name (the refusal is also written to :data:`REFUSALS`)."""
        method = routed.method
        REFUSALS.count(self.name)
        out: list[Violation] = []
        for name, value in routed.path_params.items():
            spec = method.parameters.get(name, {})
            out += self._parameter(method, name, spec, value)
        given: dict[str, list[str]] = {}
        for name, value in query:
            given.setdefault(name, []).append(value)
        for name, values in given.items():
            spec = self._query_parameter(method, name)
            if spec is None:
                out.append(self._unknown_parameter(method, name))
                continue
            for value in values:
                out += self._parameter(method, name, spec, value)
        for name, spec in method.parameters.items():
            wanted = spec.get("required") and spec.get("location") == "query"
            if wanted and not any(_same_name(name, g) for g in given):
                out.append(self._missing(method, _snake(name), f'parameter "{name}"'))
        payload = self._body(method, body, out)
        if "fields" in given and method.response:
            out += self._selection(method, given["fields"][-1])
        if out:
            refused = RefusedRequest(self.name, method.id, out)
            request = f"{routed.http_method} {routed.path}"
            REFUSALS.record(Refusal(self.name, method.id, request, tuple(out)))
            raise refused
        return payload

    def partial(self, routed: Routed, answer: Any, query: Iterable[tuple[str, str]]) -> Any:
        """The answer trimmed to the ``fields`` the request asked for (already checked)."""
        fields = [value for name, value in query if name == "fields"]
        if not fields or not fields[-1].strip():
            return answer
        return _select(answer, _parse_fields(fields[-1]))

    # --- parameters ------------------------------------------------------------------------------
    def _query_parameter(self, method: Method, name: str) -> dict | None:
        for table in (method.parameters, self.standard):
            for known, spec in table.items():
                if _same_name(known, name) and spec.get("location", "query") == "query":
                    return spec
        return None

    def _unknown_parameter(self, method: Method, name: str) -> Violation:
        known = sorted(
            n for n, s in method.parameters.items() if s.get("location", "query") == "query"
        )
        return Violation(
            name,
            f'Invalid JSON payload received. Unknown name "{name}": Cannot bind query parameter. '
            f"Field '{name}' could not be found in request message.",
            f"{self.source}: {method.id} has no query parameter {name!r} "
            f"(its own: {', '.join(known) or 'none'}; and the standard ones: "
            f"{', '.join(sorted(self.standard))})",
        )

    def _parameter(self, method: Method, name: str, spec: dict, value: str) -> list[Violation]:
        out: list[Violation] = []
        where = f"{self.source}: {method.id} parameter {name!r}"
        snake = _snake(name)
        kind, fmt = spec.get("type", "string"), spec.get("format")
        if "enum" in spec and value not in spec["enum"]:
            out.append(
                Violation(
                    snake,
                    f"Invalid value at '{snake}' (TYPE_ENUM), \"{_clip(value)}\"",
                    f"{where} is one of {', '.join(spec['enum'])}",
                )
            )
        elif kind == "integer" or fmt in ("int64", "uint64"):
            out += self._integer_parameter(name, spec, value, where)
        elif kind == "boolean" and value.lower() not in ("true", "false", "1", "0"):
            message = f"Invalid value at '{snake}' (TYPE_BOOL), \"{_clip(value)}\""
            out.append(Violation(snake, message, f"{where} is a boolean"))
        if "pattern" in spec and not re.search(spec["pattern"], value):
            out.append(
                Violation(
                    snake,
                    f"Invalid value at '{snake}', \"{_clip(value)}\"",
                    f"{where} must match {spec['pattern']}",
                )
            )
        if not out and (check := self.extra.get("?" + name)):
            out += check(value, snake)
        return out

    def _integer_parameter(self, name: str, spec: dict, value: str, where: str):
        snake, fmt = _snake(name), spec.get("format", "int32")
        low, high = _RANGES.get(fmt, (None, None))
        bad = Violation(
            snake,
            f"Invalid value at '{snake}' (TYPE_{fmt.upper()}), \"{_clip(value)}\"",
            f"{where} is an integer ({fmt})",
        )
        if not re.fullmatch(r"-?\d+", value.strip()):
            return [bad]
        number = int(value)
        if (low is not None and number < low) or (high is not None and number > high):
            return [bad]
        stated = spec.get("maximum") or _stated_maximum(spec.get("description", ""))
        if stated is not None and number > int(stated):
            return [
                Violation(
                    snake,
                    f"Invalid value at '{snake}' ({number}): at most {stated} is allowed",
                    f'{where}: "The maximum allowed value for this field is {stated}."',
                )
            ]
        minimum = spec.get("minimum")
        if minimum is not None and number < int(minimum):
            return [bad]
        return []

    # --- the body --------------------------------------------------------------------------------
    def _body(self, method: Method, body: bytes, out: list[Violation]) -> Any:
        if not method.request:
            return None
        if not body.strip():
            payload: Any = {}
        else:
            try:
                payload = json.loads(body)
            except ValueError:
                out.append(
                    Violation(
                        "",
                        "Invalid JSON payload received. Unexpected token.",
                        f"{self.source}: {method.id} takes a JSON {method.request}",
                    )
                )
                return None
        where = self.body_fields.get(method.request, "")
        _Walk(self, method, out).value(payload, {"$ref": method.request}, where)
        return payload

    def _missing(self, method: Method, where: str, what: str) -> Violation:
        return Violation(
            where,
            f"Missing required field {where}" if where else "Missing required field",
            f"{self.source}: {what} is required by {method.id}",
        )

    # --- fields (partial responses) ---------------------------------------------------------------
    def _selection(self, method: Method, text: str) -> list[Violation]:
        reason = f"{self.source}: {method.id} answers a {method.response}"
        try:
            tree = _parse_fields(text)
        except ValueError as exc:
            return [Violation("fields", f"Invalid field selection {text}", f"{reason}; {exc}")]
        out: list[Violation] = []
        self._selection_in(tree, {"$ref": method.response}, "", reason, out)
        return out

    def _selection_in(self, tree: dict, prop: dict, at: str, reason: str, out: list) -> None:
        prop = self._item(prop)
        if "$ref" in prop:
            schema_id = prop["$ref"]
            properties = self.schemas.get(schema_id, {}).get("properties", {})
        elif prop.get("type") == "object" and "properties" in prop:
            schema_id, properties = at or "(answer)", prop["properties"]
        else:
            return  # a map or a free-form value: anything may be selected below it
        for name, sub in tree.items():
            if name == "*":
                for inner in properties.values():
                    if sub:
                        self._selection_in(sub, inner, at, reason, out)
                continue
            known = _property(properties, name)
            if known is None:
                path = f"{at}.{name}" if at else name
                out.append(
                    Violation(
                        "fields",
                        f"Invalid field selection {path}",
                        f"{reason}; {schema_id} has no field {name!r} "
                        f"(it has {', '.join(sorted(properties))})",
                    )
                )
            elif sub:
                inner = f"{at}.{known[0]}" if at else known[0]
                self._selection_in(sub, known[1], inner, reason, out)

    def _item(self, prop: dict) -> dict:
        while prop.get("type") == "array":
            prop = prop.get("items", {})
        return prop


_RANGES = {
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint64": (0, 2**64 - 1),
}
_TYPE_NAMES = {
    ("string", None): "TYPE_STRING",
    ("string", "byte"): "TYPE_BYTES",
    ("string", "int64"): "TYPE_INT64",
    ("string", "uint64"): "TYPE_UINT64",
    ("integer", "int32"): "TYPE_INT32",
    ("integer", "uint32"): "TYPE_UINT32",
    ("number", "double"): "TYPE_DOUBLE",
    ("number", "float"): "TYPE_FLOAT",
    ("boolean", None): "TYPE_BOOL",
}


@dataclass
class _Walk:
    """One body against one schema; collects violations in ``out``."""

    api: DiscoveryApi
    method: Method
    out: list[Violation] = field(default_factory=list)

    def value(self, value: Any, prop: dict, where: str, owner: str = "") -> None:
        if value is None:
            return  # JSON null is the field's default (proto3 JSON mapping)
        if "$ref" in prop:
            schema_id = prop["$ref"]
            self.object(value, schema_id, self.api.schemas.get(schema_id, {}), where)
        elif prop.get("type") == "array":
            if not isinstance(value, list):
                self.bad(
                    value, where, "a JSON array", "type.googleapis.com/google.protobuf.ListValue"
                )
                return
            for index, item in enumerate(value):
                self.value(item, prop.get("items", {}), f"{where}[{index}]", owner)
        elif prop.get("type") == "object":
            if not isinstance(value, dict):
                self.bad(
                    value, where, "a JSON object", "type.googleapis.com/google.protobuf.Struct"
                )
            elif "properties" in prop:
                self.object(value, owner or "(object)", prop, where)
            elif "additionalProperties" in prop:
                for key, item in value.items():
                    self.value(item, prop["additionalProperties"], f'{where}["{key}"]', owner)
        elif prop.get("type") != "any":
            self.scalar(value, prop, where, owner)

    def object(self, value: Any, schema_id: str, schema: dict, where: str) -> None:
        if not isinstance(value, dict):
            self.bad(
                value, where, f"a JSON object ({schema_id})", f"type.googleapis.com/{schema_id}"
            )
            return
        properties = schema.get("properties", {})
        for key, item in value.items():
            known = _property(properties, key)
            at = f"{where}.{_snake(key)}" if where else _snake(key)
            if known is None:
                self.out.append(self.unknown(key, where, schema_id, properties))
                continue
            name, prop = known
            self.value(item, prop, at, owner=f"{schema_id}.{name}")
            check = self.api.extra.get(f"{schema_id}.{name}")
            if check is not None and item is not None:
                self.out.extend(check(item, at))
        for name, prop in properties.items():
            required = (prop.get("annotations") or {}).get("required", ())
            if self.method.id in required and not any(_same_name(name, k) for k in value):
                at = f"{where}.{_snake(name)}" if where else _snake(name)
                self.out.append(self.api._missing(self.method, at, f"{schema_id}.{name}"))
        for group, members in schema.get("x-oneofs", {}).items():
            given = [
                k for k in value if value[k] is not None and any(_same_name(m, k) for m in members)
            ]
            if len(given) > 1:
                self.out.append(
                    Violation(
                        where or given[1],
                        f"Invalid JSON payload received. Oneof field '{group}' is already set. "
                        f"Cannot set '{given[1]}'",
                        f"{self.api.source}: {schema_id}.{group} takes one of {', '.join(members)}",
                    )
                )

    def unknown(self, key: str, where: str, schema_id: str, properties: Mapping) -> Violation:
        at = f" at '{where}'" if where else ""
        return Violation(
            f"{where}.{key}" if where else key,
            f'Invalid JSON payload received. Unknown name "{key}"{at}: Cannot find field.',
            f"{self.api.source}: {schema_id} has no field {key!r} "
            f"(it has {', '.join(sorted(properties)) or 'none'})",
        )

    def bad(self, value: Any, where: str, wanted: str, type_name: str) -> None:
        self.out.append(
            Violation(
                where,
                f"Invalid value at '{where}' ({type_name}), {_clip(json.dumps(value))}",
                f"{self.api.source}: {self.method.id} expects {wanted} at {where or 'the body'}",
            )
        )

    def scalar(self, value: Any, prop: dict, where: str, owner: str) -> None:
        kind, fmt = prop.get("type", "string"), prop.get("format")
        type_name = _TYPE_NAMES.get((kind, fmt), _TYPE_NAMES.get((kind, None), "TYPE_STRING"))
        if "enum" in prop:
            if value not in prop["enum"]:
                self.out.append(
                    Violation(
                        where,
                        f"Invalid value at '{where}' (TYPE_ENUM), {_clip(json.dumps(value))}",
                        f"{self.api.source}: {owner or where} is one of {', '.join(prop['enum'])}",
                    )
                )
            return
        if not _scalar_ok(value, kind, fmt):
            described = f"{kind} ({fmt})" if fmt else kind
            self.bad(value, where, f"a {described}", type_name)


def _scalar_ok(value: Any, kind: str, fmt: str | None) -> bool:
    # The proto3 JSON mapping: 64-bit integers travel as strings (numbers are accepted too),
    # 32-bit ones as numbers (strings are accepted too), floats also as "NaN"/"Infinity".
    if isinstance(value, bool):
        return kind == "boolean"
    if kind == "boolean":
        return False
    if kind == "integer" or fmt in ("int64", "uint64"):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
            value = int(value)
        low, high = _RANGES.get(fmt or "int32", (None, None))
        return isinstance(value, int) and (low is None or low <= value <= high)
    if kind == "number":
        if isinstance(value, str):
            return value in ("NaN", "Infinity", "-Infinity") or _is_float(value)
        return isinstance(value, int | float)
    if not isinstance(value, str):
        return False
    if fmt == "byte":
        try:
            base64.b64decode(value.replace("-", "+").replace("_", "/") + "==", validate=False)
        except (binascii.Error, ValueError):
            return False
        return re.fullmatch(r"[A-Za-z0-9+/_=-]*", value) is not None
    if fmt == "google-datetime":
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return False
    if fmt == "google-duration":
        return re.fullmatch(r"-?\d+(\.\d{1,9})?s", value) is not None
    return True


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _stated_maximum(description: str) -> int | None:
    # Gmail gives list limits only in prose: "The maximum allowed value for this field is 500."
    found = re.search(r"maximum allowed value for this field is (\d+)", description)
    return int(found.group(1)) if found else None


def _snake(name: str) -> str:
    """``insertDataOption`` -> ``insert_data_option`` (how Google names fields in errors)."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _same_name(known: str, given: str) -> bool:
    # Google's JSON parser takes a field's lowerCamel JSON name or its proto (snake) name.
    return given == known or given == _snake(known)


def _property(properties: Mapping[str, dict], name: str) -> tuple[str, dict] | None:
    if name in properties:
        return name, properties[name]
    for known, prop in properties.items():
        if _same_name(known, name):
            return known, prop
    return None


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


# --- fields= ------------------------------------------------------------------------------------
def _parse_fields(text: str) -> dict:
    """Google's field selector: ``a,b/c,d(e,f),*`` (``.`` works as ``/``) -> a tree whose
    leaves are ``{}`` (the whole value)."""
    tree, at = _parse_list(text.replace(" ", ""), 0)
    if at != len(text.replace(" ", "")):
        raise ValueError(f"unexpected {text[at:]!r} in the field selector")
    return tree


def _parse_list(text: str, at: int) -> tuple[dict, int]:
    tree: dict = {}
    while True:
        found = re.compile(
            r"[A-Za-z_$@*][A-Za-z0-9_$@]*(?:[/.][A-Za-z_$@*][A-Za-z0-9_$@]*)*"
        ).match(text, at)
        if not found:
            raise ValueError(f"a field name is missing at {at} of {text!r}")
        names = re.split(r"[/.]", found.group())
        at = found.end()
        sub: dict = {}
        if text[at : at + 1] == "(":
            sub, at = _parse_list(text, at + 1)
            if text[at : at + 1] != ")":
                raise ValueError(f"unbalanced parentheses in {text!r}")
            at += 1
        node = tree
        for name in names[:-1]:
            node = node.setdefault(name, {})
        _merge(node, names[-1], sub)
        if text[at : at + 1] != ",":
            return tree, at
        at += 1


def _merge(node: dict, name: str, sub: dict) -> None:
    if name in node and (node[name] == {} or sub == {}):
        node[name] = {}  # one of them asked for the whole value
    elif name in node:
        for key, value in sub.items():
            _merge(node[name], key, value)
    else:
        node[name] = sub


def _select(value: Any, tree: dict) -> Any:
    if not tree:
        return value
    if isinstance(value, list):
        return [_select(item, tree) for item in value]
    if not isinstance(value, dict):
        return value
    out: dict = {}
    for name, sub in tree.items():
        for key, item in value.items():
            if name == "*" or _same_name(key, name):
                out[key] = _select(item, sub)
    return out


def standard_parameters(name: str = "gmail.v1") -> dict[str, dict]:
    """The query parameters every Google API takes (``fields``, ``alt``, ``key``, ``$.xgafv``,
    ...), as a shipped discovery document lists them."""
    return dict(_document(name)["parameters"])


def query_pairs(raw_query: str | bytes) -> list[tuple[str, str]]:
    """``a=1&b=2&b=3`` -> ``[("a", "1"), ("b", "2"), ("b", "3")]``, decoded, blanks kept."""
    text = raw_query.decode("latin-1") if isinstance(raw_query, bytes) else raw_query
    return parse_qsl(text, keep_blank_values=True)
