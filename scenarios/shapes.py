"""What a module outputs: the fields a later module may map from it.

Sources, in order (research notes, "Where output fields come from"):

1. ``metadata.interface``, the output spec Make exports with most modules. Across the real
   blueprints in ``tests/fixtures/make`` several hundred references resolve against it. A
   Custom webhook's interface is learned from one sample request, so a miss there is only a
   warning (``Shape.soft``).
2. Fixed shapes of modules that export no interface: Google Sheets rows (columns ``"0".."N"``
   plus ``__ROW_NUMBER__``...), the Iterator (``__IMTINDEX__``, ``value`` or the item's fields),
   Set variable (the variable's name), aggregators (``array`` / ``text``), HTTP (``data``,
   ``statusCode``, ``headers``).
3. Anything else is unknown: we accept every field rather than guess.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from scenarios import iml
from scenarios.iml import Reference

SHEETS_ROW_FIELDS = ("__ROW_NUMBER__", "__SPREADSHEET_ID__", "__SHEET__")
ITERATION_FIELDS = ("__IMTLENGTH__", "__IMTINDEX__")
HTTP_FIELDS = ("data", "statusCode", "headers", "cookieHeaders", "fileSize", "fileName")
WEBHOOK_EXTRA_FIELDS = ("__IMTHEADERS__", "__IMTMETHOD__")
SHEETS_ROW_MODULES = frozenset(
    {"google-sheets:watchRows", "google-sheets:filterRows", "google-sheets:getSheetContent"}
)
HTTP_MODULES = frozenset(
    {
        "http:ActionSendData",
        "http:ActionSendDataBasicAuth",
        "http:ActionSendDataAPIKeyAuth",
        "http:ActionSendDataOAuth",
        "http:MakeRequest",
    }
)
WEBHOOK_MODULES = frozenset({"gateway:CustomWebHook", "gateway:CustomMailHook"})
FEEDER = "builtin:BasicFeeder"
# Modules that emit one bundle per item found: downstream modules run once per item, and with
# no results they do not run at all (SKILLS bundles.md / iterations.md).
_ITERATOR_VERBS = ("search", "list", "filter", "watch")


@dataclass(frozen=True)
class Field:
    name: str
    type: str = ""  # "" when unknown
    children: Shape | None = None  # fields of a collection, or of an array's items

    @property
    def is_array(self) -> bool:
        return self.type == "array"


@dataclass(frozen=True)
class Shape:
    """Known output fields; ``fields is None`` means unknown (accept everything)."""

    fields: Mapping[str, Field] | None
    soft: bool = False  # a miss is a warning, not an error (webhook samples)
    accepts: Callable[[str], bool] | None = None  # names accepted beyond ``fields``
    source: str = ""

    def lookup(self, name: str) -> Field | bool | None:
        """The field; True when accepted but unknown; None when the module cannot output it."""
        if self.fields is None:
            return True
        if name in self.fields:
            return self.fields[name]
        if self.accepts is not None and self.accepts(name):
            return True
        return None


UNKNOWN = Shape(None, source="unknown")


@dataclass
class Resolution:
    ok: bool
    missing: str = ""  # the first field name the module cannot output
    field: Field | None = None  # the last field reached, when known
    soft: bool = False


def from_spec(spec: Any, *, soft: bool = False, source: str = "interface") -> Shape:
    """A Shape from an interface/spec list (``[{name, type, spec?}, ...]``)."""
    if not isinstance(spec, list) or not spec:
        return UNKNOWN  # an empty spec (aggregator "array": []) says nothing
    fields: dict[str, Field] = {}
    for item in spec:
        if not isinstance(item, dict) or "name" not in item:
            continue
        children = None
        spec = item.get("spec")
        if isinstance(spec, dict):  # an array's item spec: {type: collection, spec: [...]}
            if spec.get("type") in ("collection", "array", "any", None):
                children = from_spec(spec.get("spec"), soft=soft, source=source)
            else:  # an array of primitives: its items have no fields
                children = Shape({}, soft=soft, source=source)
        elif spec is not None:
            children = from_spec(spec, soft=soft, source=source)
        fields[str(item["name"])] = Field(str(item["name"]), str(item.get("type") or ""), children)
    return Shape(fields, soft=soft, source=source)


def _names(names: list[str], source: str, accepts=None) -> Shape:
    return Shape({n: Field(n) for n in names if n}, accepts=accepts, source=source)


def _merge(shape: Shape, extra: list[str], accepts=None) -> Shape:
    if shape.fields is None:
        return shape
    fields = dict(shape.fields)
    for name in extra:
        fields.setdefault(name, Field(name))
    return Shape(fields, soft=shape.soft, accepts=accepts or shape.accepts, source=shape.source)


def is_implicit_iterator(kind: str) -> bool:
    """True for modules that output one bundle per found item (Search Rows, Watch ...)."""
    if kind in SHEETS_ROW_MODULES:
        return True
    action = kind.partition(":")[2].lower()
    return action.startswith(_ITERATOR_VERBS)


@dataclass
class ShapeBook:
    """Shapes of every module in one blueprint, computed lazily (the Iterator needs its source)."""

    modules: Mapping[int, dict[str, Any]]
    _cache: dict[int, Shape] = field(default_factory=dict)

    def shape(self, module_id: int) -> Shape:
        if module_id not in self._cache:
            self._cache[module_id] = UNKNOWN  # guards against an Iterator fed from itself
            self._cache[module_id] = self._compute(self.modules[module_id])
        return self._cache[module_id]

    def resolve(self, ref: Reference) -> Resolution:
        if ref.module_id not in self.modules:
            return Resolution(True)
        shape = self.shape(ref.module_id)
        current: Field | None = None
        for part in ref.path:
            if part.startswith("["):
                continue  # [] and [n] select items; the item's fields are the array's children
            if current is not None:
                shape = current.children or UNKNOWN
            found = shape.lookup(part)
            if found is None:
                return Resolution(False, part, None, shape.soft)
            if found is True:
                return Resolution(True)
            current = found
        return Resolution(True, field=current)

    def _compute(self, module: dict[str, Any]) -> Shape:
        kind = str(module.get("module", ""))
        mapper = module.get("mapper") if isinstance(module.get("mapper"), dict) else {}
        interface = (module.get("metadata") or {}).get("interface")
        soft = kind in WEBHOOK_MODULES
        shape = from_spec(interface, soft=soft) if interface else UNKNOWN
        if kind in SHEETS_ROW_MODULES:
            extra = list(SHEETS_ROW_FIELDS)
            if kind != "google-sheets:watchRows":
                extra += ITERATION_FIELDS
            if shape.fields is None:  # no interface: any column index may be mapped
                return _names(extra, "google sheets row", accepts=str.isdigit)
            return _merge(shape, extra)
        if kind in WEBHOOK_MODULES:
            return _merge(shape, list(WEBHOOK_EXTRA_FIELDS))
        if kind == FEEDER:
            return self._feeder_shape(mapper, shape)
        if shape.fields is not None:
            return shape
        return self._fixed_shape(kind, mapper)

    def _fixed_shape(self, kind: str, mapper: dict[str, Any]) -> Shape:
        if kind in ("util:SetVariable2", "util:GetVariable2"):
            return _names([str(mapper.get("name") or "")], kind)
        if kind == "util:SetVariables":
            variables = mapper.get("variables") or []
            return _names(
                [str(v.get("name") or "") for v in variables if isinstance(v, dict)], kind
            )
        if kind == "util:GetVariables":
            return _names(
                [str(v) for v in mapper.get("variables") or [] if isinstance(v, str)], kind
            )
        if kind == "builtin:BasicAggregator":
            return _names(["array", "__IMTAGGLENGTH__"], kind)
        if kind == "util:TextAggregator":
            return _names(["text"], kind)
        if kind == "json:CreateJSON":
            return _names(["json"], kind)
        if kind in HTTP_MODULES:
            return _names(list(HTTP_FIELDS), kind)
        return UNKNOWN

    def _feeder_shape(self, mapper: dict[str, Any], interface: Shape) -> Shape:
        base = list(ITERATION_FIELDS)
        template = iml.parse(str(mapper.get("array") or ""))
        ref = template.expressions[0].sole_reference if template.is_single_expression else None
        item = None
        if ref is not None and not ref.whole_bundle:
            resolved = self.resolve(ref)
            if resolved.ok and resolved.field is not None and resolved.field.is_array:
                item = resolved.field.children
        if interface.fields is not None and item is None:
            return _merge(interface, base)
        if item is None or item.fields is None:
            return UNKNOWN  # items of unknown shape: any field may exist
        if not item.fields:
            return _names([*base, "value"], "iterator")
        return _merge(item, base)
