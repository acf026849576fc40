"""The blueprint linter over real Make.com exports, and the IML tokenizer it stands on."""

from __future__ import annotations

import copy
import json

import pytest

from scenarios import iml
from scenarios.lint import lint_document, lint_file
from scenarios.lint_context import LintContext, LintOptions, iter_references
from scenarios.tree import unwrap, walk
from tests.fixtures import MAKE

FIXTURES = sorted(MAKE.glob("*.json"))
INVALID = "manasoid__blueprint-nlp-ai-hubspot.json"  # published with a 00000000 literal
VALID = [path for path in FIXTURES if path.name != INVALID]


def load(name: str) -> dict:
    return json.loads((MAKE / name).read_text(encoding="utf-8"))


# --- real blueprints -----------------------------------------------------------------------------


def test_the_fixture_folder_holds_the_real_blueprints():
    assert len(FIXTURES) == 11
    assert (MAKE / INVALID).exists()


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name[:40])
def test_real_blueprints_lint_without_false_errors(path):
    report = lint_file(path)
    assert not report.invalid
    assert report.errors == [], [f.describe() for f in report.errors]


def test_the_invalid_json_fixture_is_reported_as_invalid_not_crashed_on():
    report = lint_file(MAKE / INVALID)
    assert report.invalid
    [finding] = report.findings
    assert finding.code == "invalid-json"
    assert finding.severity == "error"
    assert "line 364" in finding.message


def test_several_hundred_references_resolve_against_metadata_interface():
    resolved = 0
    for path in VALID:
        blueprint = unwrap(json.loads(path.read_text(encoding="utf-8")))
        context = LintContext(blueprint, walk(blueprint), LintOptions())
        for site in context.sites:
            for _, ref in iter_references(context, site):
                target = context.by_id.get(ref.module_id)
                if target is None or not target.module.get("metadata", {}).get("interface"):
                    continue
                resolution = context.shapes.resolve(ref)
                if resolution.ok and resolution.field is not None:
                    resolved += 1
    assert resolved >= 400


def test_webhook_fields_missing_from_the_sample_are_only_warnings():
    report = lint_file(MAKE / "amrit-dash__Webhook based DSM Reply Bot - Amrit.json")
    assert report.errors == []
    missing = {f.message.split("'")[1] for f in report.warnings if f.code == "unknown-field"}
    assert missing == {"userEmail", "doNotSendLeaveNotification", "searchQuery", "textStyle"}
    assert all(f.module_id in (55, 38) for f in report.warnings)


def test_error_of_the_failed_module_is_in_scope_inside_its_handler():
    # amrit-dash DSM: module 36 sits in module 13's onerror route and maps {{13.error.message}}.
    document = load("amrit-dash__Webhook based DSM Reply Bot - Amrit.json")
    blueprint = unwrap(document)
    context = LintContext(blueprint, walk(blueprint), LintOptions())
    handler = context.by_id[36]
    assert handler.failed == (13,) and 13 not in handler.scope
    refs = [ref.text for _, ref in iter_references(context, handler) if ref.module_id == 13]
    assert refs == ["13.error.message", "13.error.detail"]
    assert [f for f in lint_document(document) if f.module_id == 36] == []


# --- wrappers and broken input ---------------------------------------------------------------------


def _with_mistake() -> dict:
    document = load("manasoid__blueprint-basics.json")
    document["flow"][1]["mapper"]["value"] = "{{split(1.original_text, space)}}"
    return document


@pytest.mark.parametrize(
    "wrap",
    [
        lambda bp: bp,
        lambda bp: {"blueprint": bp},
        lambda bp: {"code": "OK", "response": {"blueprint": bp, "scheduling": {}}},
        lambda bp: {"subflows": [{"flow": bp["flow"]}], "metadata": bp["metadata"]},
    ],
    ids=["plain", "blueprint", "api-response", "subflows"],
)
def test_wrapped_blueprints_are_linted_like_plain_ones(wrap):
    findings = lint_document(wrap(_with_mistake()))
    assert [(f.code, f.module_id) for f in findings] == [("comma-separator", 2)]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("[1, 2, 3]", "not-a-blueprint"),
        ('{"name": "x"}', "not-a-blueprint"),
        ('{"name": "x", "flow": [', "invalid-json"),
        ("", "invalid-json"),
    ],
)
def test_json_that_is_not_a_blueprint_is_invalid(tmp_path, text, expected):
    path = tmp_path / "broken.json"
    path.write_text(text)
    report = lint_file(path)
    assert report.invalid
    assert [f.code for f in report.findings] == [expected]


def test_an_unreadable_file_is_reported(tmp_path):
    report = lint_file(tmp_path / "missing.json")
    assert report.invalid and report.findings[0].code == "unreadable"


def test_findings_point_at_the_json_path_of_the_offending_text():
    document = _with_mistake()
    [finding] = lint_document(document)
    assert finding.path == "$.flow[1].mapper.value"
    assert finding.module == "util:SetVariable2"
    assert finding.label == "split text into words"
    assert document["flow"][1]["mapper"]["value"].count(",") == 1


# --- the IML tokenizer -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["{{(random + 0.1)}}", "{{addHours(now; -24.2)}}", "{{round(3.75; 1)}}", "{{1.5 * 2}}"],
)
def test_decimal_numbers_are_not_module_references(text):
    template = iml.parse(text)
    assert template.references == []
    assert template.problems == []


def test_references_with_backticks_arrays_and_whole_bundles():
    template = iml.parse("Hi {{1.`Customer Name`}}, {{2.items[].url}} {{3.rows[2].`0`}} {{`4`}}")
    refs = [(r.module_id, r.path, r.whole_bundle) for r in template.references]
    assert refs == [
        (1, ("Customer Name",), False),
        (2, ("items", "[]", "url"), False),
        (3, ("rows", "[2]", "0"), False),
        (4, (), True),
    ]
    assert template.problems == []


@pytest.mark.parametrize(
    "text, code",
    [
        ("{{1.items[0].url}}", "zero-index"),
        ('{{formatDate(now, "YYYY")}}', "comma-separator"),
        ("{{formatDat(now)}}", "unknown-function"),
        ("{{1.name", "unbalanced-braces"),
        ("{{1.name} and {{2.x}}", "unbalanced-braces"),
        ("{{lower(1.name}}", "unbalanced-parentheses"),
        ('{{lower("abc)}}', "unterminated-string"),
    ],
)
def test_iml_mistakes_are_found(text, code):
    assert code in {p.code for p in iml.parse(text).problems}


def test_doubled_quotes_inside_a_string_are_one_quote():
    template = iml.parse('{{replace(33.`A B`; """"; emptystring)}}')
    assert template.problems == []
    assert [r.module_id for r in template.references] == [33]


def test_literal_json_around_expressions_is_not_iml():
    template = iml.parse('{"a": {"b": "{{1.x}}", "c": [1, 2]}}')
    assert template.problems == []
    assert [r.path for r in template.references] == [("x",)]


def test_scenario_variables_are_not_module_references():
    assert iml.parse("{{var.scenario.apiBase}}/x").references == []


def test_custom_functions_can_be_declared():
    options = LintOptions(extra_functions=frozenset({"myFn"}))
    document = copy.deepcopy(load("manasoid__blueprint-basics.json"))
    document["flow"][1]["mapper"]["value"] = "{{myFn(1.original_text)}}"
    assert [f.code for f in lint_document(document)] == ["unknown-function"]
    assert lint_document(document, options) == []


def _if_else_blueprint(mapped: str) -> dict:
    def variable(module_id: int, name: str, value: str) -> dict:
        return {
            "id": module_id,
            "module": "util:SetVariable2",
            "version": 1,
            "mapper": {"name": name, "scope": "roundtrip", "value": value},
            "metadata": {"designer": {"x": 0, "y": 0}},
        }

    return {
        "name": "if/else",
        "flow": [
            variable(1, "a", "x"),
            {
                "id": 2,
                "module": "builtin:BasicIfElse",
                "version": 1,
                "branches": [
                    {"flow": [variable(3, "b", "{{1.a}}")]},
                    {"flow": [variable(4, "c", mapped)]},
                ],
                "metadata": {"designer": {"x": 300, "y": 0}},
            },
        ],
        "metadata": {"scenario": {"dlq": False}},
    }


def test_if_else_branches_see_the_modules_before_them_but_not_each_other():
    assert lint_document(_if_else_blueprint("{{1.a}}")) == []
    findings = lint_document(_if_else_blueprint("{{3.b}}"))
    assert [(f.code, f.module_id) for f in findings] == [("out-of-scope", 4)]
    assert "another route" in findings[0].message
