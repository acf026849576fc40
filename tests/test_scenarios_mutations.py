"""Inject one mistake at a time into real Make.com blueprints; lint must find it at that module.

Every case starts from an unmodified fixture (which lints without errors), changes one value
programmatically, and expects exactly one kind of error at exactly the module it touched.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from scenarios.lint import lint_document
from scenarios.lint_context import LintOptions
from tests.fixtures import MAKE

ORDERS = "6302Mohamed__project-02-blueprint-sanitized-reference.json"  # routers, Search Rows, Break
LEADS = "6302Mohamed__scenario-1-lead-intake-ai-draft-sanitized.json"  # HTTP v4, ParseJSON
DSM = "amrit-dash__Webhook based DSM Reply Bot - Amrit.json"  # HTTP v3 POST, webhook, handlers
DOLLAR = "polyanademery__blueprint.json"  # ParseJSON arrays
OPSWAT = "manasoid__blueprint-url-checker-opswat.json"  # HTTP v3 raw JSON body
DEEPL = "manasoid__blueprint-deepl-tag-handling-html.json"  # HTTP v3 form fields
CRICKET = "amrit-dash__Amrit's Cricket Responder Bot.json"  # (random + 0.1), 1.3 MB
PATIENTS = [ORDERS, LEADS, DSM, DOLLAR, OPSWAT, DEEPL, CRICKET]
HUB_URL = "https://hub.example.com/webhooks/make/eyJhIjoidGljayJ9.abc"
DFS_URL = "https://api.dataforseo.com/v3/serp/google/organic/task_post"

_cache: dict[str, str] = {}


def fresh(name: str) -> dict[str, Any]:
    if name not in _cache:
        _cache[name] = (MAKE / name).read_text(encoding="utf-8")
    return json.loads(_cache[name])


def modules(flow: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for module in flow:
        yield module
        for route in module.get("routes") or []:
            yield from modules(route.get("flow") or [])
        yield from modules(module.get("onerror") or [])


def module(document: dict[str, Any], module_id: int) -> dict[str, Any]:
    return next(m for m in modules(document["flow"]) if m.get("id") == module_id)


def replace_text(document: dict[str, Any], module_id: int, old: str, new: str) -> None:
    """Replace ``old`` in exactly one string of the module's mapper/filter."""
    hits = []

    def visit(value: Any, setter: Callable[[str], None]) -> None:
        if isinstance(value, str) and old in value:
            hits.append((value, setter))
        elif isinstance(value, dict):
            for key, item in value.items():
                visit(item, lambda v, d=value, k=key: d.__setitem__(k, v))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                visit(item, lambda v, seq=value, i=index: seq.__setitem__(i, v))

    target = module(document, module_id)
    for part in ("mapper", "filter"):
        visit(target.get(part), lambda v: None)
    assert hits, f"{old!r} not found in module {module_id}"
    value, setter = hits[0]
    setter(value.replace(old, new, 1))


def errors(document: dict[str, Any], **options: Any) -> set[tuple[str, int | None]]:
    findings = lint_document(document, LintOptions(**options))
    return {(f.code, f.module_id) for f in findings if f.severity == "error"}


@pytest.mark.parametrize("name", PATIENTS)
def test_the_unmodified_blueprints_are_clean(name):
    assert errors(fresh(name)) == set()


# --- references ----------------------------------------------------------------------------------


def test_reference_into_a_sibling_route_is_out_of_scope():
    document = fresh(ORDERS)
    # Module 6 is on route 0 of router 4; module 11 on route 1 of the same router.
    module(document, 6)["mapper"]["values"]["1"] = "{{11.rowNumber}}"
    assert errors(document) == {("out-of-scope", 6)}


def test_reference_to_a_later_module_is_out_of_scope():
    document = fresh(ORDERS)
    module(document, 15)["mapper"]["values"]["2"] = "{{length(18.array)}}"  # 18 runs after 15
    assert errors(document) == {("out-of-scope", 15)}


def test_the_failed_module_gives_only_its_error_inside_its_handler():
    document = fresh(ORDERS)
    handler = module(document, 21)  # in module 7's onerror route
    handler["mapper"]["text"] = "Search failed: {{7.error.message}}"
    assert errors(document) == set()
    handler["mapper"]["text"] = "Row {{7.`__ROW_NUMBER__`}}"
    assert errors(document) == {("out-of-scope", 21)}


def test_reference_to_a_module_that_does_not_exist():
    document = fresh(DOLLAR)
    replace_text(document, 11, "{{12.Date}}", "{{99.Date}}")
    assert errors(document) == {("unknown-module", 11)}


def test_field_missing_from_metadata_interface_is_an_error():
    document = fresh(LEADS)
    replace_text(document, 28, "9.draft_reply", "9.draft_replies")  # ParseJSON 9's interface
    assert errors(document) == {("unknown-field", 28)}


def test_column_missing_from_search_rows_interface_is_an_error():
    document = fresh(ORDERS)
    module(document, 20)["mapper"]["injected"] = "{{7.`999`}}"
    assert errors(document) == {("unknown-field", 20)}


def test_field_missing_from_a_webhook_sample_is_only_a_warning():
    document = fresh(ORDERS)
    module(document, 3)["mapper"]["injected"] = "{{1.order_idd}}"
    findings = lint_document(document)
    assert [(f.severity, f.code, f.module_id) for f in findings] == [
        ("warning", "unknown-field", 3)
    ]


# --- expression syntax -----------------------------------------------------------------------------


def test_zero_index():
    document = fresh(DOLLAR)
    replace_text(document, 12, "7.value[].dataHoraCotacao", "7.value[0].dataHoraCotacao")
    assert errors(document) == {("zero-index", 12)}


def test_comma_between_function_arguments():
    document = fresh(DSM)
    replace_text(document, 38, 'formatDate(now; "YYYY-MM-DD")', 'formatDate(now, "YYYY-MM-DD")')
    assert errors(document) == {("comma-separator", 38)}


def test_unknown_function():
    document = fresh(DSM)
    replace_text(document, 38, 'formatDate(now; "YYYY-MM-DD")', 'formatDat(now; "YYYY-MM-DD")')
    assert errors(document) == {("unknown-function", 38)}


def test_unbalanced_braces():
    document = fresh(DOLLAR)
    replace_text(document, 11, "{{12.Date}}", "{{12.Date}")
    assert errors(document) == {("unbalanced-braces", 11)}


def test_numbers_in_expressions_stay_clean_in_a_large_blueprint():
    document = fresh(CRICKET)
    text = json.dumps(document)
    assert "random + 0.1" in text
    assert errors(document) == set()


# --- the Iterator ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "array",
    ["{{7.`0`}}", "{{1.order_id}}", "{{`7`}}"],
    ids=["search-rows-column", "plain-text-field", "whole-bundle"],
)
def test_iterator_fed_something_that_is_not_an_array(array):
    document = fresh(ORDERS)
    module(document, 13)["mapper"]["array"] = array  # was {{1.line_items}}
    assert errors(document) == {("iterator-not-array", 13)}


# --- HTTP: DataForSEO ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, expected",
    [
        ('[{"keyword": "art blog", "location_code": 2826}]', set()),
        ('  [{"keyword": "{{11.array_links}}"}]', set()),
        ('{"keyword": "art blog"}', {("dataforseo-body", 12)}),
    ],
    ids=["array", "array-with-mapping", "object"],
)
def test_dataforseo_v3_body_must_be_a_raw_json_array(body, expected):
    document = fresh(OPSWAT)
    mapper = module(document, 12)["mapper"]
    mapper["url"], mapper["data"] = DFS_URL, body
    assert errors(document) == expected


def test_dataforseo_v3_form_fields_are_refused():
    document = fresh(DEEPL)
    http = module(document, 11)  # POST x_www_form_urlencoded with formFields[]
    assert http["mapper"]["bodyType"] == "x_www_form_urlencoded"
    http["mapper"]["url"] = DFS_URL
    assert errors(document) == {("dataforseo-body", 11)}


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"jsonStringBodyContent": '[{"keyword": "x"}]'}, set()),
        ({"jsonStringBodyContent": '{"keyword": "x"}'}, {("dataforseo-body", 7)}),
        ({"inputMethod": "dataStructure"}, {("dataforseo-body", 7)}),
    ],
    ids=["array", "object", "data-structure"],
)
def test_dataforseo_v4_body_must_be_a_json_string_array(change, expected):
    document = fresh(LEADS)
    mapper = module(document, 7)["mapper"]
    mapper["url"] = DFS_URL
    mapper.update(change)
    assert errors(document) == expected


# --- HTTP: calls to the hub ------------------------------------------------------------------------


def test_hub_call_without_evaluate_all_states_as_errors():
    document = fresh(DSM)
    http = module(document, 53)
    http["mapper"]["url"] = HUB_URL
    assert http["parameters"]["handleErrors"] is False
    assert errors(document) == {("hub-errors-ignored", 53)}
    http["parameters"]["handleErrors"] = True
    assert errors(document) == set()
    warnings = {(f.code, f.module_id) for f in lint_document(document) if f.severity == "warning"}
    assert ("hub-no-retry", 53) in warnings


def test_hub_call_without_signature_when_signatures_are_required():
    document = fresh(DSM)
    http = module(document, 53)
    http["mapper"]["url"] = HUB_URL
    http["parameters"]["handleErrors"] = True
    assert errors(document, require_signature=False) == set()
    assert errors(document, require_signature=True) == {("hub-unsigned", 53)}
    http["mapper"]["headers"] = [
        {"name": "X-Hub-Timestamp", "value": "{{timestamp}}"},
        {"name": "X-Hub-Signature-256", "value": 'sha256={{sha256(timestamp; "hex"; "k")}}'},
    ]
    assert errors(document, require_signature=True) == set()


def test_v4_hub_call_with_retry_needs_incomplete_executions_allowed():
    document = fresh(LEADS)
    http = module(document, 7)  # onerror ends in a Break with retry; dlq is true
    http["mapper"]["url"] = HUB_URL
    assert errors(document) == set()
    document["metadata"]["scenario"]["dlq"] = False
    assert errors(document) == {("hub-retry-without-dlq", 7)}


def test_v4_hub_call_that_ignores_http_errors():
    document = fresh(LEADS)
    http = module(document, 7)
    http["mapper"]["url"] = HUB_URL
    http["mapper"]["stopOnHttpError"] = False
    assert errors(document) == {("hub-errors-ignored", 7)}


def test_hub_call_with_get_is_refused():
    document = fresh(LEADS)
    http = module(document, 7)
    http["mapper"].update(url=HUB_URL, method="get")
    assert errors(document) == {("hub-method", 7)}


# --- structure -------------------------------------------------------------------------------------


def test_break_retry_without_incomplete_executions():
    document = fresh(ORDERS)
    document["metadata"]["scenario"]["dlq"] = False
    assert errors(document) == {("break-without-dlq", 22), ("break-without-dlq", 25)}


def test_duplicate_module_ids():
    document = fresh(ORDERS)
    module(document, 20)["id"] = 13
    found = errors(document)
    assert ("duplicate-id", 13) in found


def test_set_variable_without_interface_uses_its_known_shape():
    document = fresh(OPSWAT)
    variable = module(document, 11)  # util:SetVariable2 "array_links"
    del variable["metadata"]["interface"]
    assert errors(document) == set()
    replace_text(document, 16, "{{11.array_links}}", "{{11.array_link}}")
    assert errors(document) == {("unknown-field", 16)}
