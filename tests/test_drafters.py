"""Both drafters: Gemini (real google-genai client against the emulator) and templates."""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr

from hub.drafting import rules
from hub.drafting.base import Draft, DraftRefused
from hub.drafting.factory import build_drafter
from hub.drafting.gemini import GeminiDrafter
from hub.drafting.prompt import FACT_COLUMNS
from hub.drafting.templates import TemplateDrafter
from hub.errors import ConfigError, ProviderError
from tests.emulators.gemini import GeminiEmulator, facts_in
from tests.emulators.serve import serve_in_thread

KEY = "test-gemini-key"
ROW = {
    "hub_id": "h_1",
    "domain": "printmakersjournal.example",
    "page_title": "Printmakers Journal — news and reviews",
    "snippet": "Reviews of prints and printmaking studios.",
    "keyword": "art magazine",
    "contact_name": "Dana Reyes",
    "contact_position": "Editor",
    "contact_email": "dana@printmakersjournal.example",
    "notes": "met her at the fair, do not mention the price",
    "private_column": "internal-only",
    "outreach_status": "enriched",
}


@pytest.fixture
def gemini_settings(settings, gemini):
    settings.gemini_api_key = SecretStr(KEY)
    settings.gemini_api_url = gemini.url
    settings.sender_name = "Ada Painter"
    settings.sender_profile = "I paint large abstract canvases in Leeds."
    return settings


@pytest.fixture
def drafter(gemini_settings):
    made = GeminiDrafter.from_settings(gemini_settings, backoff_initial=0.01)
    yield made
    made.close()


# --- Gemini --------------------------------------------------------------------------------


async def test_gemini_drafts_from_row_facts_only(drafter, gemini):
    draft = await drafter.draft(ROW)
    assert draft == Draft(
        subject="A note about Printmakers Journal — news and reviews",
        body="Hi Dana,\n\nI enjoyed Printmakers Journal — news and reviews on "
        "printmakersjournal.example and thought my work might interest your readers.\n\n"
        "Best wishes,\nAda Painter\n",
    )
    (prompt,) = gemini.prompts
    sent = facts_in(prompt)
    assert {k: sent[k] for k in FACT_COLUMNS} == {k: ROW[k] for k in FACT_COLUMNS}
    assert sent["sender_profile"] == "I paint large abstract canvases in Leeds."
    for private in (ROW["contact_email"], ROW["notes"], ROW["private_column"], ROW["hub_id"]):
        assert private not in prompt
    assert "Never invent" in prompt
    config = gemini.requests[0].body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseSchema"]["required"] == ["subject", "body"]
    assert gemini.requests[0].api_version == "v1beta"


@pytest.mark.parametrize(
    ("answer", "hold_reason"),
    [
        ("blocked", "REVIEW:gemini_blocked SAFETY"),
        ("feedback_only", "REVIEW:gemini_blocked no_candidates"),
        ("safety", "REVIEW:gemini_blocked SAFETY"),
        ("bad_json", "REVIEW:bad_output not JSON"),
        ("max_tokens", "REVIEW:bad_output cut short (MAX_TOKENS)"),
        ("crlf_subject", "REVIEW:bad_subject contains a line break"),
        ("quota_daily", "HELD:gemini_quota"),
    ],
)
async def test_gemini_answer_kinds_map_to_holds(drafter, gemini, answer, hold_reason):
    gemini.script(answer)
    assert await drafter.draft(ROW) == DraftRefused(hold_reason)
    assert gemini.request_count == 1  # none of these is worth a retry


async def test_thought_parts_are_not_part_of_the_answer(drafter, gemini):
    gemini.script("ok_thinking")
    draft = await drafter.draft(ROW)
    assert isinstance(draft, Draft) and "Thinking" not in draft.body


async def test_quota_is_retried_honouring_retry_delay_then_drafts(drafter, gemini):
    gemini.script("quota", "quota", "ok")
    draft = await drafter.draft(ROW)
    assert isinstance(draft, Draft)
    assert gemini.answers() == {"quota": 2, "ok": 1}
    assert drafter.calls == 3


async def test_quota_that_never_clears_holds_the_row(drafter, gemini):
    gemini.default = "quota"
    assert await drafter.draft(ROW) == DraftRefused(rules.GEMINI_QUOTA)
    assert gemini.request_count == drafter.max_attempts


async def test_a_retry_delay_longer_than_we_wait_holds_at_once(gemini_settings):
    slow = GeminiEmulator(retry_delay="3600s", default="quota")
    with serve_in_thread(slow.app) as server:
        gemini_settings.gemini_api_url = server.url
        drafter = GeminiDrafter.from_settings(gemini_settings, max_retry_wait=30)
        assert await drafter.draft(ROW) == DraftRefused(rules.GEMINI_QUOTA)
    assert slow.request_count == 1


async def test_overloaded_model_is_retried_with_backoff(drafter, gemini):
    gemini.script("unavailable", "server_error", "ok")
    assert isinstance(await drafter.draft(ROW), Draft)
    assert gemini.request_count == 3


async def test_a_timed_out_call_is_retried_then_reported(gemini_settings, gemini):
    gemini.latency = 1.0
    gemini.script("slow", "ok", "slow", "slow")
    drafter = GeminiDrafter.from_settings(
        gemini_settings, timeout_seconds=0.2, backoff_initial=0.01, max_attempts=2
    )
    assert isinstance(await drafter.draft(ROW), Draft)
    with pytest.raises(ProviderError, match=r"network error: .*Timeout"):
        await drafter.draft(ROW)
    assert gemini.answers() == {"slow": 3, "ok": 1}


async def test_persistent_server_errors_raise_a_provider_error(drafter, gemini):
    gemini.default = "server_error"
    with pytest.raises(ProviderError) as caught:
        await drafter.draft(ROW)
    assert not isinstance(caught.value, rules.DrafterMisconfigured)
    assert caught.value.provider_status == 500
    assert gemini.request_count == drafter.max_attempts


async def test_refused_key_names_gemini_api_key_and_hides_it(gemini_settings, gemini):
    gemini_settings.gemini_api_key = SecretStr("sk-very-secret-value")
    drafter = GeminiDrafter.from_settings(gemini_settings)
    with pytest.raises(rules.DrafterMisconfigured) as caught:
        await drafter.draft(ROW)
    assert "GEMINI_API_KEY" in str(caught.value)
    assert "sk-very-secret-value" not in str(caught.value)
    assert caught.value.provider_code == "API_KEY_INVALID"
    assert gemini.request_count == 1


async def test_unknown_model_names_gemini_model(gemini_settings, gemini):
    gemini_settings.gemini_model = "gemini-9-ultra"
    drafter = GeminiDrafter.from_settings(gemini_settings)
    with pytest.raises(rules.DrafterMisconfigured) as caught:
        await drafter.draft(ROW)
    assert "GEMINI_MODEL" in str(caught.value) and "gemini-9-ultra" in str(caught.value)


async def test_followup_replies_under_the_first_subject(drafter, gemini):
    row = {**ROW, "draft_subject": "Re: Your journal and my prints"}
    draft = await drafter.draft(row, step=1)
    assert isinstance(draft, Draft)
    assert draft.subject == "Re: Your journal and my prints"
    assert "follow-up number 1" in gemini.prompts[0]


async def test_edited_prompt_file_is_used(gemini_settings, gemini, tmp_path):
    prompt_file = tmp_path / "prompt.txt"
    prompt_file.write_text("Write to them as {sender_name}. Facts: {facts_json}", "utf-8")
    gemini_settings.prompt_template_file = str(prompt_file)
    drafter = GeminiDrafter.from_settings(gemini_settings)
    assert isinstance(await drafter.draft(ROW), Draft)
    assert gemini.prompts[0].startswith("Write to them as Ada Painter. Facts: {")
    assert (
        json.loads(gemini.prompts[0].split("Facts: ", 1)[1])["recipient"]["domain"]
        == (ROW["domain"])
    )


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("Hello {contact_email} {facts_json}", "unknown placeholder(s) contact_email"),
        ("No facts at all, {sender_name}", "must contain {facts_json}"),
        ("{facts_json.__class__}", "must be a plain field name"),
    ],
)
def test_broken_prompt_file_stops_start_up_naming_the_setting(
    gemini_settings, tmp_path, text, complaint
):
    prompt_file = tmp_path / "prompt.txt"
    prompt_file.write_text(text, "utf-8")
    gemini_settings.prompt_template_file = str(prompt_file)
    with pytest.raises(ConfigError) as caught:
        build_drafter(gemini_settings)
    assert "HUB_PROMPT_TEMPLATE_FILE" in str(caught.value) and complaint in str(caught.value)


def test_factory_picks_gemini_only_with_a_key(settings):
    assert build_drafter(settings).provider_name == "templates"
    settings.gemini_api_key = SecretStr(KEY)
    assert build_drafter(settings).provider_name == "gemini"


# --- templates -----------------------------------------------------------------------------


@pytest.fixture
def templates(settings):
    settings.sender_name = "Ada Painter"
    settings.sender_profile = "I paint large abstract canvases in Leeds."
    return TemplateDrafter(settings)


async def test_template_draft_uses_row_fields_and_greets_by_first_name(templates):
    draft = await templates.draft(ROW)
    assert draft.subject == "A note about Printmakers Journal — news and reviews"
    assert draft.body.startswith("Hi Dana,\n\n")
    assert "printmakersjournal.example" in draft.body
    assert draft.body.rstrip().endswith("Ada Painter")
    assert "{" not in draft.body


async def test_template_without_contact_name_says_hello(templates):
    draft = await templates.draft({**ROW, "contact_name": ""})
    assert draft.body.startswith("Hello,\n\n")
    assert "Dear ," not in draft.body and "Hi ," not in draft.body


@pytest.mark.parametrize("field", ["page_title", "domain"])
async def test_template_refuses_a_blank_required_field(templates, field):
    row = {k: v for k, v in ROW.items() if k != field}  # a missing cell reads as blank
    assert await templates.draft(row) == DraftRefused(f"REVIEW:blank_field {field}")
    assert await templates.draft({**ROW, field: "   "}) == DraftRefused(
        f"REVIEW:blank_field {field}"
    )


async def test_template_refuses_without_sender_name_naming_the_setting(settings):
    drafter = TemplateDrafter(settings)  # HUB_SENDER_NAME not set
    assert await drafter.draft(ROW) == DraftRefused(
        "REVIEW:blank_field sender_name (set HUB_SENDER_NAME)"
    )


async def test_template_subject_is_one_line_and_blank_paragraphs_vanish(settings):
    settings.sender_name = "Ada"  # no sender_profile: its paragraph disappears
    drafter = TemplateDrafter(settings)
    draft = await drafter.draft({**ROW, "page_title": "Line one\r\nBcc: x@example.com\n" * 20})
    assert "\n" not in draft.subject and "\r" not in draft.subject
    assert len(draft.subject) < 120
    assert "\n\n\n" not in draft.body


async def test_followup_templates_for_steps_one_two_and_beyond(templates):
    row = {**ROW, "draft_subject": "A note about Printmakers Journal"}
    one, two, three = [await templates.draft(row, step=n) for n in (1, 2, 3)]
    assert one.subject == two.subject == "Re: A note about Printmakers Journal"
    assert "follow up" in one.body
    assert "One last note" in two.body
    assert three == two  # past the last template, the last one is reused


async def test_custom_templates_dir_overrides_and_declares_required_fields(settings, tmp_path):
    (tmp_path / "first.txt").write_text(
        "Required: contact_name, keyword\nSubject: About {keyword}\n\nDear {contact_name},\n\nHi.\n",
        "utf-8",
    )
    settings.templates_dir = str(tmp_path)
    settings.sender_name = "Ada"
    drafter = TemplateDrafter(settings)
    assert await drafter.draft(ROW) == Draft(
        subject="About art magazine", body="Dear Dana Reyes,\n\nHi.\n"
    )
    assert await drafter.draft({**ROW, "contact_name": ""}) == DraftRefused(
        "REVIEW:blank_field contact_name"
    )
    # follow-ups still come from the shipped templates
    assert (await drafter.draft({**ROW, "draft_subject": "S"}, step=1)).subject == "Re: S"


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("Subject: Hi {nme}\n\nBody\n", "unknown field(s) nme"),
        ("Required: phone\nSubject: Hi\n\nBody\n", "unknown field(s) phone"),
        ("Subject: Hi {domain.__class__}\n\nBody\n", "plain field name"),
        ("Required: domain\n\nBody without subject\n", "'Subject:' header line is required"),
        ("Subject: Hi\nBody right away\n", "blank line"),
    ],
)
def test_broken_template_stops_start_up(settings, tmp_path, text, complaint):
    (tmp_path / "first.txt").write_text(text, "utf-8")
    settings.templates_dir = str(tmp_path)
    with pytest.raises(ConfigError) as caught:
        build_drafter(settings)
    assert "HUB_TEMPLATES_DIR" in str(caught.value) and complaint in str(caught.value)


def test_check_draft_refuses_header_injection_and_empty_output():
    assert rules.check_draft(Draft("Hi\r\nBcc: a@b.c", "body")) == DraftRefused(
        "REVIEW:bad_subject contains a line break"
    )
    assert rules.check_draft(Draft("Hi", "  ")) == DraftRefused(
        "REVIEW:bad_output empty subject or body"
    )
    assert rules.check_draft(Draft(" Hi ", "body")) == Draft("Hi", "body\n")
