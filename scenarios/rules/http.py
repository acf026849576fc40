"""Rules for HTTP modules: DataForSEO request bodies, and calls to the hub's Make webhooks.

Two generations of Make's HTTP app exist (research notes, "HTTP modules"): the legacy v3
``http:ActionSendData`` family (``parameters.handleErrors``, ``mapper.bodyType`` / ``contentType``
/ ``data``) and the v4 ``http:MakeRequest`` (``mapper.stopOnHttpError``, ``contentType`` json,
``inputMethod`` jsonString, ``jsonStringBodyContent``). Both are checked.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from scenarios.lint_context import Finding, LintContext
from scenarios.markers import ACTION_URL_PREFIX, HUB_PATH
from scenarios.shapes import HTTP_MODULES
from scenarios.tree import Site

V4 = "http:MakeRequest"
SIGNATURE_HEADER = "x-hub-signature-256"


def http_sites(context: LintContext) -> Iterator[Site]:
    return (site for site in context.sites if site.kind in HTTP_MODULES)


def url_of(site: Site) -> str:
    return str(site.mapper.get("url") or "")


def method_of(site: Site) -> str:
    return str(site.mapper.get("method") or "get").strip().lower()


def is_hub_call(site: Site) -> bool:
    url = url_of(site)
    return HUB_PATH in url or ACTION_URL_PREFIX in url


def headers_of(site: Site) -> dict[str, str]:
    headers: dict[str, str] = {}
    for item in site.mapper.get("headers") or []:
        if isinstance(item, dict) and item.get("name"):
            headers[str(item["name"]).strip().lower()] = str(item.get("value") or "")
    return headers


def body_of(site: Site) -> tuple[str, str]:
    """(the raw body text, the mapper key holding it)."""
    key = "jsonStringBodyContent" if site.kind == V4 else "data"
    return str(site.mapper.get(key) or ""), key


# --- DataForSEO ---------------------------------------------------------------------------------


def dataforseo_body(context: LintContext) -> Iterator[Finding]:
    """POSTs to DataForSEO take a raw JSON array of tasks: ``[{"keyword": ...}]``.

    DataForSEO answers HTTP 200 even to a malformed body (the error is in ``status_code``), so
    Make's error handling never sees the mistake; catch it here.
    """
    for site in http_sites(context):
        if "dataforseo.com" not in url_of(site).lower() or method_of(site) != "post":
            continue
        mapper = site.mapper
        if site.kind == V4:
            yield from _expect(context, site, mapper, "contentType", "json", "application/json")
            yield from _expect(context, site, mapper, "inputMethod", "jsonString", "JSON string")
        else:
            body_type = str(mapper.get("bodyType") or "")
            if body_type != "raw" or mapper.get("formFields"):
                yield context.finding(
                    site,
                    "error",
                    "dataforseo-body",
                    f"body type is {body_type or 'empty'!r}: DataForSEO needs Body type 'Raw' "
                    "with a JSON array of tasks, not form fields",
                    f"{site.path}.mapper.bodyType",
                )
                continue
            yield from _expect(
                context, site, mapper, "contentType", "application/json", "application/json"
            )
        body, key = body_of(site)
        text = body.strip()
        path = f"{site.path}.mapper.{key}"
        if text.startswith("{{"):
            yield context.finding(
                site,
                "warning",
                "dataforseo-body",
                "the body is one mapped value; make sure it is a JSON array of tasks ('[...]')",
                path,
            )
        elif not text.startswith("["):
            start = text[:1] or "nothing"
            yield context.finding(
                site,
                "error",
                "dataforseo-body",
                f"the body starts with {start!r}: DataForSEO task_post takes a JSON array of "
                'tasks, e.g. [{"keyword": "...", "location_code": 2826, "language_code": "en"}]',
                path,
            )


def _expect(
    context: LintContext, site: Site, mapper: dict[str, Any], key: str, want: str, shown: str
) -> Iterator[Finding]:
    value = str(mapper.get(key) or "")
    if value.strip().lower() != want.lower():
        yield context.finding(
            site,
            "error",
            "dataforseo-body",
            f"{key} is {value or 'empty'!r}: DataForSEO needs {shown} ({key}: {want!r})",
            f"{site.path}.mapper.{key}",
        )


# --- calls to the hub ---------------------------------------------------------------------------


def hub_calls(context: LintContext) -> Iterator[Finding]:
    for site in http_sites(context):
        if not is_hub_call(site):
            continue
        yield from _errors_are_errors(context, site)
        if method_of(site) != "post":
            yield context.finding(
                site,
                "error",
                "hub-method",
                f"method is {method_of(site)!r}: the hub's Make webhooks take POST",
                f"{site.path}.mapper.method",
            )
        if context.options.require_signature and SIGNATURE_HEADER not in headers_of(site):
            yield context.finding(
                site,
                "error",
                "hub-unsigned",
                "the hub requires signed bodies (HUB_REQUIRE_SIGNATURE): add the headers "
                "X-Hub-Timestamp and X-Hub-Signature-256 (render with --sign)",
                f"{site.path}.mapper.headers",
            )
        yield from _retries(context, site)


def _errors_are_errors(context: LintContext, site: Site) -> Iterator[Finding]:
    if site.kind == V4:
        if site.mapper.get("stopOnHttpError") is not True:
            yield context.finding(
                site,
                "error",
                "hub-errors-ignored",
                "'Return error if HTTP request fails' is off (stopOnHttpError): a 4xx/5xx from "
                "the hub would count as success and nothing would retry",
                f"{site.path}.mapper.stopOnHttpError",
            )
    elif site.parameters.get("handleErrors") is not True:
        yield context.finding(
            site,
            "error",
            "hub-errors-ignored",
            "'Evaluate all states as errors' is off (handleErrors): a 4xx/5xx from the hub would "
            "count as success and nothing would retry",
            f"{site.path}.parameters.handleErrors",
        )


def _retries(context: LintContext, site: Site) -> Iterator[Finding]:
    handler = site.module.get("onerror") or []
    breaks = [m for m in handler if isinstance(m, dict) and m.get("module") == "builtin:Break"]
    retrying = [m for m in breaks if (m.get("mapper") or {}).get("retry") in (True, "true")]
    if not retrying:
        yield context.finding(
            site,
            "warning",
            "hub-no-retry",
            "no error handler retries this call: add a Break directive with automatic retry, "
            "so a restart of the hub does not lose the event",
            f"{site.path}.onerror",
        )
    elif not context.dlq_allowed:
        yield context.finding(
            site,
            "error",
            "hub-retry-without-dlq",
            "the Break handler retries, but the scenario does not allow storing incomplete "
            f"executions (metadata.scenario.dlq is not true at "
            f"{context.blueprint.metadata_path}), so Make drops the call instead of retrying",
            context.blueprint.metadata_path + ".scenario.dlq",
        )
