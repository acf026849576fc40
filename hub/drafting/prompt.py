"""The Gemini prompt: an editable template filled with the row's facts and the sender's profile.

The template is a text file (``HUB_PROMPT_TEMPLATE_FILE``, default the shipped
``hub/data/prompt_template.txt``) with ``{placeholders}``. Only the facts named in
:data:`FACT_COLUMNS` leave the sheet — never an address, a note or a user column — and they go
in as one JSON object, so a scraped page title cannot pass for an instruction (the prompt also
says so). The template is checked when loaded: a typo stops start-up naming the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from hub.config import Settings
from hub.drafting.templates import placeholders
from hub.errors import ConfigError
from sheets.columns import Row

# The row's facts the model may use (issue 5): nothing else of the row is sent.
FACT_COLUMNS = ("page_title", "snippet", "contact_name", "contact_position", "keyword", "domain")
PROMPT_FIELDS = frozenset({"task", "facts_json", "sender_name", "sender_profile", "step"})
# A snippet or title is a few hundred characters; cap each fact so one odd cell cannot blow
# the prompt (and the token bill) up.
MAX_FACT_CHARS = 1_000

FIRST_TASK = (
    "Write the first email to this recipient: introduce the sender in one or two sentences, "
    "say briefly why their site seems a good fit (using only the facts), and ask one simple "
    "question about featuring the work."
)
FOLLOWUP_TASK = (
    "Write follow-up number {step} to an email that got no answer yet: two or three friendly "
    "sentences, no pressure, no repetition of the whole first email.{last}"
)


@dataclass(frozen=True)
class PromptTemplate:
    text: str
    source: str  # where it came from, for error messages

    @classmethod
    def load(cls, settings: Settings) -> PromptTemplate:
        if settings.prompt_template_file:
            path = Path(settings.prompt_template_file)
            try:
                text = path.read_text("utf-8")
            except OSError as exc:
                raise ConfigError(
                    f"HUB_PROMPT_TEMPLATE_FILE={path} cannot be read: {exc.strerror}"
                ) from exc
            template = cls(text=text, source=f"HUB_PROMPT_TEMPLATE_FILE={path}")
        else:
            shipped = resources.files("hub.data").joinpath("prompt_template.txt")
            template = cls(text=shipped.read_text("utf-8"), source="hub/data/prompt_template.txt")
        template.check()
        return template

    def check(self) -> None:
        try:
            used = placeholders(self.text)
        except ConfigError as exc:
            raise ConfigError(f"{self.source}: {exc}") from exc
        unknown = sorted(used - PROMPT_FIELDS)
        if unknown:
            raise ConfigError(
                f"{self.source}: unknown placeholder(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(PROMPT_FIELDS))}"
            )
        if "facts_json" not in used:
            raise ConfigError(f"{self.source}: the prompt must contain {{facts_json}}")

    def render(self, row: Row, settings: Settings, *, step: int = 0) -> str:
        return self.text.format_map(prompt_fields(row, settings, step=step))


def row_facts(row: Row) -> dict[str, str]:
    facts = {}
    for column in FACT_COLUMNS:
        value = " ".join((row.get(column, "") or "").split())
        if value:
            facts[column] = value[:MAX_FACT_CHARS]
    return facts


def prompt_fields(row: Row, settings: Settings, *, step: int = 0) -> dict[str, str]:
    sender = {
        key: value
        for key, value in (
            ("sender_name", settings.sender_name.strip()),
            ("sender_profile", settings.sender_profile.strip()),
        )
        if value
    }
    facts = {"recipient": row_facts(row), "sender": sender}
    if step <= 0:
        task = FIRST_TASK
    else:
        final_step = len(settings.followup_days) or 1
        last = " It is the last one: say you will not write again." if step >= final_step else ""
        task = FOLLOWUP_TASK.format(step=step, last=last)
    return {
        "task": task,
        "facts_json": json.dumps(facts, ensure_ascii=False, indent=2),
        "sender_name": sender.get("sender_name", ""),
        "sender_profile": sender.get("sender_profile", ""),
        "step": str(step),
    }
