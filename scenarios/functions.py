"""The names Make's mapping language (IML) knows: built-in functions and keywords.

Taken from Make's function help pages (general, math, text and binary, date and time, array;
the same list appears in Adobe Workfront Fusion, Make's white-labelled twin). A name used as
``name(...)`` that is not here makes Make fail at run time with "Function 'name' not found".
Custom functions (an Enterprise feature) are not known here: pass them to the linter with
``extra_functions``.
"""

from __future__ import annotations

GENERAL = frozenset({"get", "if", "ifempty", "switch", "omit", "pick"})

MATH = frozenset(
    {
        "average",
        "ceil",
        "floor",
        "formatNumber",
        "max",
        "min",
        "parseNumber",
        "round",
        "sum",
        "trunc",
    }
)

TEXT_AND_BINARY = frozenset(
    {
        "ascii",
        "base64",
        "capitalize",
        "contains",
        "decodeURL",
        "encodeURL",
        "escapeHTML",
        "escapeMarkdown",
        "indexOf",
        "length",
        "lower",
        "md5",
        "replace",
        "replaceEmojiCharacters",
        "sha1",
        "sha256",
        "sha512",
        "split",
        "startcase",
        "stripHTML",
        "substring",
        "toBinary",
        "toString",
        "trim",
        "upper",
    }
)

DATE_AND_TIME = frozenset(
    {
        "addDays",
        "addHours",
        "addMinutes",
        "addMonths",
        "addSeconds",
        "addYears",
        "dateDifference",
        "formatDate",
        "parseDate",
        "setDate",
        "setDay",
        "setHour",
        "setMinute",
        "setMonth",
        "setSecond",
        "setYear",
    }
)

ARRAY = frozenset(
    {
        "add",
        "arrayDifference",
        "contains",
        "deduplicate",
        "distinct",
        "first",
        "flatten",
        "join",
        "keys",
        "last",
        "length",
        "map",
        "merge",
        "remove",
        "reverse",
        "shuffle",
        "slice",
        "sort",
        "toArray",
        "toCollection",
    }
)

FUNCTIONS: frozenset[str] = GENERAL | MATH | TEXT_AND_BINARY | DATE_AND_TIME | ARRAY

# Bare words that stand for a value. `ignore` and `erase` are Make's "leave the field out" and
# "clear the field" markers; `mod` is the remainder operator as the mapping panel writes it.
KEYWORDS: frozenset[str] = frozenset(
    {
        "now",
        "timestamp",
        "uuid",
        "random",
        "executionId",
        "null",
        "true",
        "false",
        "emptystring",
        "emptyarray",
        "space",
        "nbsp",
        "newline",
        "carriageReturn",
        "tab",
        "ignore",
        "erase",
        "pi",
        "mod",
        "and",
        "or",
    }
)

# `{{var.scenario.X}}`, `{{var.organization.X}}`, `{{var.team.X}}`, `{{var.input.X}}`:
# scenario, organisation and team variables and scenario inputs, not module outputs.
VARIABLE_ROOTS: frozenset[str] = frozenset({"var"})


def is_function(name: str, extra: frozenset[str] = frozenset()) -> bool:
    return name in FUNCTIONS or name in extra
