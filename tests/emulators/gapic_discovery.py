"""A discovery document written from a GAPIC client, for APIs that ship none (Gemini).

google-api-python-client ships discovery documents for Sheets and Gmail, not for the Gemini
API (generativelanguage). Its GAPIC package, google-ai-generativelanguage, holds the same
facts in another form: each method's HTTP rules in its REST transport base
(``_BaseGenerateContent._get_http_options()``), its request and response types in the client
method's annotations, and the messages as protobuf descriptors. :func:`from_gapic` turns them
into the discovery form that :class:`tests.emulators.discovery_validator.DiscoveryApi` checks
requests against, reading each message as the proto3 JSON mapping does (lowerCamel names,
enums by name, 64-bit integers as strings, the well-known types by their JSON forms) and
keeping each oneof so that setting two of its members is refused, as Google's parser does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, get_args

from google.protobuf.descriptor import Descriptor, FieldDescriptor

from tests.emulators.discovery_validator import DiscoveryApi

_PROTO_SCALARS = {
    FieldDescriptor.TYPE_STRING: {"type": "string"},
    FieldDescriptor.TYPE_BYTES: {"type": "string", "format": "byte"},
    FieldDescriptor.TYPE_BOOL: {"type": "boolean"},
    FieldDescriptor.TYPE_INT32: {"type": "integer", "format": "int32"},
    FieldDescriptor.TYPE_SINT32: {"type": "integer", "format": "int32"},
    FieldDescriptor.TYPE_SFIXED32: {"type": "integer", "format": "int32"},
    FieldDescriptor.TYPE_UINT32: {"type": "integer", "format": "uint32"},
    FieldDescriptor.TYPE_FIXED32: {"type": "integer", "format": "uint32"},
    FieldDescriptor.TYPE_INT64: {"type": "string", "format": "int64"},
    FieldDescriptor.TYPE_SINT64: {"type": "string", "format": "int64"},
    FieldDescriptor.TYPE_SFIXED64: {"type": "string", "format": "int64"},
    FieldDescriptor.TYPE_UINT64: {"type": "string", "format": "uint64"},
    FieldDescriptor.TYPE_FIXED64: {"type": "string", "format": "uint64"},
    FieldDescriptor.TYPE_DOUBLE: {"type": "number", "format": "double"},
    FieldDescriptor.TYPE_FLOAT: {"type": "number", "format": "float"},
}
# The proto3 JSON mapping of the well-known types (protobuf.dev/programming-guides/json).
_WELL_KNOWN = {
    "google.protobuf.Struct": {"type": "object", "additionalProperties": {"type": "any"}},
    "google.protobuf.Value": {"type": "any"},
    "google.protobuf.ListValue": {"type": "array", "items": {"type": "any"}},
    "google.protobuf.Timestamp": {"type": "string", "format": "google-datetime"},
    "google.protobuf.Duration": {"type": "string", "format": "google-duration"},
    "google.protobuf.FieldMask": {"type": "string", "format": "google-fieldmask"},
    "google.protobuf.Empty": {"type": "object", "properties": {}},
    "google.protobuf.Any": {"type": "object", "additionalProperties": {"type": "any"}},
}
for _kind, _scalar in (
    ("Int32Value", FieldDescriptor.TYPE_INT32),
    ("UInt32Value", FieldDescriptor.TYPE_UINT32),
    ("Int64Value", FieldDescriptor.TYPE_INT64),
    ("UInt64Value", FieldDescriptor.TYPE_UINT64),
    ("DoubleValue", FieldDescriptor.TYPE_DOUBLE),
    ("FloatValue", FieldDescriptor.TYPE_FLOAT),
    ("BoolValue", FieldDescriptor.TYPE_BOOL),
    ("StringValue", FieldDescriptor.TYPE_STRING),
    ("BytesValue", FieldDescriptor.TYPE_BYTES),
):
    _WELL_KNOWN[f"google.protobuf.{_kind}"] = _PROTO_SCALARS[_scalar]


def _descriptor(message_type: Any) -> Descriptor:
    """A proto-plus class or a protobuf class -> its descriptor."""
    return message_type.pb().DESCRIPTOR if hasattr(message_type, "pb") else message_type.DESCRIPTOR


def _proto_property(fd: FieldDescriptor, schemas: dict, skip: str) -> dict:
    if fd.type == FieldDescriptor.TYPE_MESSAGE and fd.message_type.GetOptions().map_entry:
        value = _proto_property(fd.message_type.fields_by_name["value"], schemas, skip)
        return {"type": "object", "additionalProperties": value}
    if fd.type == FieldDescriptor.TYPE_ENUM:
        prop = {"type": "string", "enum": [v.name for v in fd.enum_type.values]}
    elif fd.type == FieldDescriptor.TYPE_MESSAGE:
        name = fd.message_type.full_name
        if name in _WELL_KNOWN:
            prop = dict(_WELL_KNOWN[name])
        else:
            prop = {"$ref": _proto_schema(fd.message_type, schemas, skip)}
    else:
        prop = dict(_PROTO_SCALARS[fd.type])
    return {"type": "array", "items": prop} if fd.is_repeated else prop


def _proto_schema(message: Descriptor, schemas: dict, skip: str, drop: Iterable[str] = ()) -> str:
    """Add ``message`` (and what it refers to) to ``schemas`` in discovery form; its id."""
    dropped = set(drop)
    schema_id = message.full_name.removeprefix(skip)
    if dropped:
        schema_id += "Body"  # the request message less the fields bound to the path
    if schema_id in schemas:
        return schema_id
    schema: dict[str, Any] = {"id": schema_id, "type": "object", "properties": {}}
    schemas[schema_id] = schema
    for fd in message.fields:
        if fd.name not in dropped:
            schema["properties"][fd.json_name] = _proto_property(fd, schemas, skip)
    oneofs = {
        oneof.name: [fd.json_name for fd in oneof.fields if fd.name not in dropped]
        for oneof in message.oneofs
        # proto3 `optional` makes a one-field "_name" oneof: presence, not a choice
        if not (oneof.name.startswith("_") and len(oneof.fields) == 1)
    }
    if oneofs:
        schema["x-oneofs"] = oneofs
    return schema_id


def _template(uri: str) -> tuple[str, dict[str, str]]:
    """``/v1beta/{model=models/*}:generateContent`` -> (``v1beta/{+model}:generateContent``,
    ``{"model": "models/[^/]+?"}``)."""
    patterns: dict[str, str] = {}

    def variable(found: re.Match) -> str:
        name, _, shape = found.group(1).partition("=")
        if not shape:
            return "{" + name + "}"
        parts = [
            "[^/]+?" if p == "*" else ".+?" if p == "**" else re.escape(p) for p in shape.split("/")
        ]
        patterns[name] = "/".join(parts)
        return "{+" + name + "}"

    return re.sub(r"\{([^}]+)\}", variable, uri.lstrip("/")), patterns


def _message_of(annotation: Any) -> Any:
    """``Union[GenerateContentRequest, dict, None]`` -> ``GenerateContentRequest``."""
    for option in (annotation, *get_args(annotation)):
        if hasattr(option, "pb") or hasattr(option, "DESCRIPTOR"):
            return option
    raise TypeError(f"no message type in {annotation!r}")


def from_gapic(
    *,
    name: str,
    version: str,
    clients: Mapping[type, tuple[type, Iterable[str]]],
    standard_parameters: Mapping[str, dict],
) -> DiscoveryApi:
    """A :class:`DiscoveryApi` for some methods of GAPIC clients (google-cloud-python style):
    ``clients`` maps a client class to (its REST transport base, method names such as
    ``"generate_content"``). Each method's HTTP rules come from the transport base
    (``_BaseGenerateContent._get_http_options()``), its request and response types from the
    client method's annotations, and every message becomes a schema as the proto3 JSON
    mapping reads it. The standard query parameters (``fields``, ``alt``, ``key``...) are the
    same for every Google API, so they are borrowed from a shipped discovery document."""
    methods: dict[str, dict] = {}
    schemas: dict[str, dict] = {}
    path_patterns: dict[str, dict[str, str]] = {}
    prefix = ""
    for client, (transport_base, names) in clients.items():
        for method_name in names:
            camel = "".join(part.title() for part in method_name.split("_"))
            hints = getattr(client, method_name).__annotations__
            request, response = _message_of(hints["request"]), _message_of(hints["return"])
            request_descriptor = _descriptor(request)
            prefix = request_descriptor.file.package + "."
            rules = getattr(transport_base, f"_Base{camel}")._get_http_options()
            for index, rule in enumerate(rules):
                path, patterns = _template(rule["uri"])
                method_id = (
                    f"{name}.{client.__name__.removesuffix('Client')}.{camel[0].lower()}{camel[1:]}"
                )
                method_id += f"#{index}" if index else ""
                parameters = {
                    variable: {"type": "string", "location": "path", "required": True}
                    for variable in re.findall(r"\{\+?([^}]+)\}", path)
                }
                spec: dict[str, Any] = {
                    "id": method_id,
                    "httpMethod": rule["method"].upper(),
                    "path": path,
                    "parameters": parameters,
                    "response": {"$ref": _proto_schema(_descriptor(response), schemas, prefix)},
                }
                body = rule.get("body")
                bound = [p.split(".")[0] for p in parameters]
                if body == "*":
                    spec["request"] = {
                        "$ref": _proto_schema(request_descriptor, schemas, prefix, drop=bound)
                    }
                elif body:
                    inner = request_descriptor.fields_by_name[body].message_type
                    spec["request"] = {"$ref": _proto_schema(inner, schemas, prefix)}
                else:  # a GET: the request's other fields travel as query parameters
                    for fd in request_descriptor.fields:
                        if fd.name not in bound and fd.type != FieldDescriptor.TYPE_MESSAGE:
                            param = _proto_property(fd, schemas, prefix)
                            parameters[fd.json_name] = {**param, "location": "query"}
                methods[method_id] = spec
                path_patterns[method_id] = patterns
    document = {
        "name": name,
        "version": version,
        "parameters": dict(standard_parameters),
        "resources": {"methods": {"methods": methods}},
        "schemas": schemas,
    }
    source = f"{prefix.rstrip('.')} types (google-ai-generativelanguage)"
    return DiscoveryApi(document, source=source, path_patterns=path_patterns)
