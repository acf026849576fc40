"""The shipped blueprints, and turning one into a file ready to import into Make.com.

Rendering fills the ``__HUB_...__`` placeholders (``scenarios.markers``) with webhook URLs whose
capability tokens are signed *now* with the hub's newest secret key, sets the Make zone, and
with ``sign=True`` makes every call to the hub sign its body (:mod:`scenarios.signing`). The
result is checked: valid JSON and no placeholder left, or :class:`RenderError`.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from scenarios import markers
from scenarios.signing import add_body_signing
from webhooks.dataforseo import make_callback_job
from webhooks.tokens import DATAFORSEO_SALT, MAKE_ACTIONS, make_action_token, sign

DEFAULT_ZONE = "eu1.make.com"
# Label of the Make grant in DataForSEO callback tokens: the token names the job id
# "make-dfs:<label>", under which the hub accepts the tasks the scenario posted
# (hub.discovery.from_make opens a discover job for each).
DEFAULT_DATAFORSEO_JOB = "make"
NOTIFY_EMAIL = "__HUB_NOTIFY_EMAIL__"
_ZONE = re.compile(r"[a-z0-9]+(\.[a-z0-9-]+)*\.(make\.com|make\.celonis\.com)")
_EMAIL = re.compile(r"[^@\s\"<>]+@[^@\s\"<>]+\.[^@\s\"<>]+")


class RenderError(ValueError):
    """The blueprint cannot be rendered as asked; the message says what to give or fix."""


@dataclass(frozen=True)
class ShippedBlueprint:
    name: str
    title: str
    summary: str
    description: str

    def load(self) -> dict[str, Any]:
        return json.loads(_folder().joinpath(f"{self.name}.json").read_text(encoding="utf-8"))


def _folder():
    return resources.files("scenarios").joinpath("blueprints")


def catalogue() -> list[ShippedBlueprint]:
    """Every blueprint shipped in ``scenarios/blueprints``, by name."""
    shipped = []
    for entry in sorted(_folder().iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".json"):
            continue
        name = entry.name.removesuffix(".json")
        doc = _folder().joinpath(f"{name}.md")
        text = doc.read_text(encoding="utf-8") if doc.is_file() else ""
        title, summary = _title_and_summary(text, name)
        shipped.append(ShippedBlueprint(name, title, summary, text))
    return shipped


def shipped(name: str) -> ShippedBlueprint:
    for blueprint in catalogue():
        if blueprint.name == name:
            return blueprint
    known = ", ".join(b.name for b in catalogue())
    raise RenderError(f"no shipped blueprint named {name!r}; choose one of: {known}")


def _title_and_summary(markdown: str, fallback: str) -> tuple[str, str]:
    title, paragraph = fallback, []
    for line in markdown.splitlines():
        if line.startswith("# ") and title == fallback:
            title = line[2:].strip()
        elif line.startswith("#"):
            if paragraph:
                break
        elif line.strip():
            paragraph.append(line.strip())
        elif paragraph:
            break
    return title, " ".join(paragraph)


@dataclass(frozen=True)
class RenderOptions:
    hub_url: str
    secret_keys: Sequence[str]
    zone: str = DEFAULT_ZONE
    sign: bool = False
    notify_email: str = ""
    dataforseo_job: str = DEFAULT_DATAFORSEO_JOB


def render(document: dict[str, Any], options: RenderOptions) -> dict[str, Any]:
    """A copy of ``document`` with every placeholder filled; the input is not changed."""
    hub_url = check_hub_url(options.hub_url)
    keys = [k for k in options.secret_keys if k]
    if not keys:
        raise RenderError("no secret key: set HUB_SECRET_KEYS or start the hub once")
    if not _ZONE.fullmatch(options.zone):
        raise RenderError(f"zone {options.zone!r} is not a Make zone like eu1.make.com")
    values = _placeholder_values(hub_url, keys, options)
    rendered = _replace(copy.deepcopy(document), values)
    metadata = rendered.setdefault("metadata", {})
    metadata["zone"] = options.zone
    if options.sign:
        add_body_signing(rendered, keys[-1])
    text = json.dumps(rendered, ensure_ascii=False)
    left = sorted(set(markers.find_placeholders(text)))
    if left:
        raise RenderError(f"placeholders left after rendering: {', '.join(left)}")
    return json.loads(text)


def render_shipped(name: str, options: RenderOptions) -> dict[str, Any]:
    return render(shipped(name).load(), options)


def check_hub_url(url: str) -> str:
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise RenderError(
            f"--hub-url must be an http(s) URL such as https://hub.example.com, got {url!r}"
        )
    if parts.query or parts.fragment:
        raise RenderError("--hub-url must not carry a query or fragment")
    return url


def _placeholder_values(hub_url: str, keys: list[str], options: RenderOptions) -> dict[str, str]:
    values = {
        markers.action_marker(action): f"{hub_url}/webhooks/make/{make_action_token(action, keys)}"
        for action in MAKE_ACTIONS
    }
    # Same URLs as webhooks.dataforseo.dataforseo_callback_urls; $id and $tag stay literal:
    # DataForSEO replaces them with the task id and the task's tag.
    try:
        job = make_callback_job(options.dataforseo_job)
    except ValueError as exc:
        raise RenderError(f"--dataforseo-job: {exc}") from exc
    token = sign({"j": job}, keys, DATAFORSEO_SALT)
    values[markers.DATAFORSEO_POSTBACK_URL] = (
        f"{hub_url}/webhooks/dataforseo/postback/{token}?id=$id&tag=$tag"
    )
    values[markers.DATAFORSEO_PINGBACK_URL] = (
        f"{hub_url}/webhooks/dataforseo/pingback/{token}?id=$id&tag=$tag"
    )
    if options.notify_email:
        if not _EMAIL.fullmatch(options.notify_email.strip()):
            raise RenderError(f"--notify-email {options.notify_email!r} is not an e-mail address")
        values[NOTIFY_EMAIL] = options.notify_email.strip()
    return values


def _replace(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, str):
        for marker in set(markers.find_placeholders(value)):
            if marker not in values:
                raise RenderError(_missing(marker))
            value = value.replace(marker, values[marker])
        return value
    if isinstance(value, dict):
        return {key: _replace(item, values) for key, item in value.items()}
    if isinstance(value, list):
        return [_replace(item, values) for item in value]
    return value


def _missing(marker: str) -> str:
    if marker == NOTIFY_EMAIL:
        return "this blueprint e-mails you: give --notify-email (or set HUB_SENDER_ADDRESS)"
    return f"unknown placeholder {marker}: the blueprint was made for another hub version"
