"""The embedded drafter: subject and body templates filled from the row, no network.

A template file is a few header lines, a blank line, then the body::

    Required: page_title, domain, sender_name
    Subject: A note about {page_title}

    {greeting}
    ...

``Required`` names the fields that must not be blank on a row: such a row is refused with
``REVIEW:blank_field <field>`` rather than drafted as "Dear ,". ``{greeting}`` is the graceful
variant for rows without a contact name ("Hi Dana," or "Hello,"). Step 0 uses ``first.txt``;
step n uses ``followup_<n>.txt`` or, past the last one, the highest-numbered follow-up.
Templates are checked when loaded, so a typo in a placeholder stops start-up with a message
naming the file, instead of failing row by row.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from hub.config import Settings
from hub.drafting.base import Draft, Drafter, DraftRefused
from hub.errors import ConfigError
from sheets.columns import Row

# Row columns a template may use; each is read with .get(col, "") (missing cell = blank).
ROW_FIELDS = (
    "contact_name",
    "contact_position",
    "page_title",
    "page_url",
    "domain",
    "keyword",
    "snippet",
    "location",
)
# Settings a template may use, and the variable that fills each (named in the hold reason).
SENDER_FIELDS = {
    "sender_name": "HUB_SENDER_NAME",
    "sender_profile": "HUB_SENDER_PROFILE",
    "sender_address": "HUB_SENDER_ADDRESS",
}
# Derived from the row: the greeting, the first name, and the first message's subject
# (what a follow-up replies to).
DERIVED_FIELDS = ("greeting", "contact_first_name", "first_subject")
KNOWN_FIELDS = frozenset((*ROW_FIELDS, *SENDER_FIELDS, *DERIVED_FIELDS))

# A subject is one line; long scraped page titles are cut so the subject stays readable.
MAX_SUBJECT_FIELD_CHARS = 90
_WHITESPACE = re.compile(r"\s+")
_EXTRA_BLANK_LINES = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")


@dataclass(frozen=True)
class MessageTemplate:
    name: str
    subject: str
    body: str
    required: tuple[str, ...]

    @classmethod
    def parse(cls, name: str, text: str) -> MessageTemplate:
        head, sep, body = text.replace("\r\n", "\n").partition("\n\n")
        if not sep:
            raise ConfigError(
                f"template {name}: header lines and body must be separated by a blank line"
            )
        subject = ""
        required: tuple[str, ...] = ()
        for line in head.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            key, colon, value = line.partition(":")
            key = key.strip().lower()
            if not colon or key not in ("subject", "required"):
                raise ConfigError(
                    f"template {name}: unknown header line {line.strip()[:60]!r} "
                    "(expected 'Subject:' or 'Required:')"
                )
            if key == "subject":
                subject = value.strip()
            else:
                required = tuple(part.strip() for part in value.split(",") if part.strip())
        template = cls(name=name, subject=subject, body=body.strip("\n"), required=required)
        template._check()
        return template

    def _check(self) -> None:
        if not self.subject:
            raise ConfigError(f"template {self.name}: a 'Subject:' header line is required")
        used = placeholders(self.subject) | placeholders(self.body)
        unknown = sorted((used | set(self.required)) - KNOWN_FIELDS)
        if unknown:
            raise ConfigError(
                f"template {self.name}: unknown field(s) {', '.join(unknown)}; "
                f"known fields: {', '.join(sorted(KNOWN_FIELDS))}"
            )

    def render(self, fields: dict[str, str]) -> Draft | DraftRefused:
        for name in self.required:
            if not fields.get(name, "").strip():
                hint = f" (set {SENDER_FIELDS[name]})" if name in SENDER_FIELDS else ""
                return DraftRefused(f"REVIEW:blank_field {name}{hint}")
        one_line = {
            key: _clip_line(_WHITESPACE.sub(" ", value).strip()) for key, value in fields.items()
        }
        subject = self.subject.format_map(one_line).strip()
        body = self.body.format_map({key: value.strip() for key, value in fields.items()})
        body = _EXTRA_BLANK_LINES.sub("\n\n", body).strip() + "\n"
        return Draft(subject=subject, body=body)


def placeholders(text: str) -> set[str]:
    """Field names used in ``text``; attribute/index access and format specs are refused."""
    names: set[str] = set()
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:  # a lone "{" or "}"
        raise ConfigError(
            f"template text is not valid: {exc} (write {{{{ for a literal brace)"
        ) from exc
    for _literal, field, spec, conversion in parsed:
        if field is None:
            continue
        if not field.isidentifier() or spec or conversion:
            raise ConfigError(f"template placeholder {{{field}}} must be a plain field name")
        names.add(field)
    return names


def _clip_line(text: str) -> str:
    if len(text) <= MAX_SUBJECT_FIELD_CHARS:
        return text
    return text[: MAX_SUBJECT_FIELD_CHARS - 1].rstrip() + "…"


def template_fields(row: Row, settings: Settings) -> dict[str, str]:
    """Every field a template may use, as text (blank when the cell is empty)."""
    fields = {name: (row.get(name, "") or "").strip() for name in ROW_FIELDS}
    fields["sender_name"] = settings.sender_name.strip()
    fields["sender_profile"] = settings.sender_profile.strip()
    fields["sender_address"] = settings.sender_address.strip()
    name = fields["contact_name"]
    first = name.split()[0] if name else ""
    fields["contact_first_name"] = first
    fields["greeting"] = f"Hi {first}," if first else "Hello,"
    fields["first_subject"] = first_subject(row)
    return fields


def first_subject(row: Row) -> str:
    """The first message's subject without any "Re:" (follow-ups add exactly one)."""
    subject = (row.get("draft_subject", "") or "").strip()
    while subject[:3].lower() == "re:":
        subject = subject[3:].strip()
    return subject


def load_templates(settings: Settings) -> dict[str, MessageTemplate]:
    """The shipped templates, each overridden by a same-named file in ``HUB_TEMPLATES_DIR``."""
    found: dict[str, MessageTemplate] = {}
    shipped = resources.files("hub.data.templates")
    for entry in shipped.iterdir():
        if entry.name.endswith(".txt"):
            found[entry.name] = MessageTemplate.parse(entry.name, entry.read_text("utf-8"))
    if settings.templates_dir:
        folder = Path(settings.templates_dir)
        if not folder.is_dir():
            raise ConfigError(f"HUB_TEMPLATES_DIR={folder} is not a folder")
        for path in sorted(folder.glob("*.txt")):
            try:
                found[path.name] = MessageTemplate.parse(path.name, path.read_text("utf-8"))
            except ConfigError as exc:
                raise ConfigError(f"HUB_TEMPLATES_DIR: {exc}") from exc
    if "first.txt" not in found:
        raise ConfigError("no first.txt message template found")
    return found


def template_for_step(templates: dict[str, MessageTemplate], step: int) -> MessageTemplate:
    if step <= 0:
        return templates["first.txt"]
    followups = sorted(
        (int(m.group(1)), t)
        for name, t in templates.items()
        if (m := re.fullmatch(r"followup_(\d+)\.txt", name))
    )
    if not followups:
        raise ConfigError("no followup_<n>.txt message template found")
    for number, template in followups:
        if number == step:
            return template
    return followups[-1][1]


class TemplateDrafter(Drafter):
    provider_name = "templates"

    def __init__(self, settings: Settings, templates: dict[str, MessageTemplate] | None = None):
        self.settings = settings
        self.templates = templates if templates is not None else load_templates(settings)
        template_for_step(self.templates, 1)  # a missing follow-up fails at start-up, not later

    async def draft(self, row: Row, *, step: int = 0) -> Draft | DraftRefused:
        template = template_for_step(self.templates, step)
        return template.render(template_fields(row, self.settings))
