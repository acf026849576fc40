"""The draft stage, draft_changes and compose_one over the local store, with both drafters."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from hub.app import build_services
from hub.drafting import rules
from hub.drafting.gemini import GeminiDrafter
from hub.drafting.templates import TemplateDrafter
from hub.errors import BadRequest, Conflict, NotFound
from hub.services import Services
from hub.stages.base import JobCancelled, StageContext
from hub.stages.draft import CHUNK_ROWS, compose_one, draft_changes
from hub.stages.registry import STAGES

KEY = "test-gemini-key"


def prospect(n: int, **cells: str) -> dict[str, str]:
    row = {
        "domain": f"site{n}.example",
        "page_title": f"Gallery number {n}",
        "snippet": "Contemporary painting and print.",
        "contact_email": f"editor@site{n}.example",
        "contact_name": "Dana Reyes",
        "outreach_status": "enriched",
    }
    row.update(cells)
    return row


@pytest.fixture
def sender(settings):
    settings.sender_name = "Ada Painter"
    settings.sender_profile = "I paint large abstract canvases."
    return settings


@pytest.fixture
def template_services(sender, local_store):
    return Services(settings=sender, store=local_store, drafter=TemplateDrafter(sender))


@pytest.fixture
def gemini_services(sender, local_store, gemini):
    sender.gemini_api_key = SecretStr(KEY)
    sender.gemini_api_url = gemini.url
    drafter = GeminiDrafter.from_settings(sender, backoff_initial=0.01)
    yield Services(settings=sender, store=local_store, drafter=drafter)
    drafter.close()


def add(store, *rows: dict[str, str]) -> list[str]:
    return store.append(list(rows)).added


async def run_stage(
    services, progress: list | None = None, cancel_after: int | None = None, **params
):
    calls = {"n": 0}

    def is_cancelled() -> bool:
        calls["n"] += 1
        return cancel_after is not None and calls["n"] > cancel_after

    ctx = StageContext(
        job_id="job-1",
        job_type="draft",
        params=params,
        services=services,
        report_progress=(lambda done, total: progress.append((done, total)))
        if progress is not None
        else (lambda done, total: None),
        is_cancelled=is_cancelled,
    )
    return await STAGES["draft"](ctx)


# --- the stage -----------------------------------------------------------------------------


async def test_stage_drafts_eligible_rows_and_leaves_the_rest(template_services, local_store):
    drafted, pending, no_address, skipped = add(
        local_store,
        prospect(1),
        prospect(2, outreach_status="pending"),
        prospect(3, contact_email=""),
        prospect(4, outreach_status="skip"),
    )
    result = await run_stage(template_services)
    assert result.summary["drafted"] == 1 and result.summary["eligible"] == 1
    row = local_store.get(drafted)
    assert row["outreach_status"] == "drafted"
    assert row["draft_subject"] == "A note about Gallery number 1"
    assert row["draft_body"].startswith("Hi Dana,")
    for untouched in (pending, no_address, skipped):
        assert not local_store.get(untouched).get("draft_subject")
    assert local_store.get(skipped)["outreach_status"] == "skip"


async def test_second_run_changes_nothing(gemini_services, local_store, gemini):
    add(local_store, prospect(1), prospect(2))
    await run_stage(gemini_services)
    before = local_store.rows()
    calls = gemini.request_count
    result = await run_stage(gemini_services)
    assert result.summary["eligible"] == 0
    assert local_store.rows() == before
    assert gemini.request_count == calls == 2


async def test_person_written_draft_moves_to_drafted_without_asking_gemini(
    gemini_services, local_store, gemini
):
    (hub_id,) = add(
        local_store, prospect(1, draft_subject="My own subject", draft_body="My own words.")
    )
    await run_stage(gemini_services)
    row = local_store.get(hub_id)
    assert (row["draft_subject"], row["draft_body"]) == ("My own subject", "My own words.")
    assert row["outreach_status"] == "drafted"
    assert gemini.request_count == 0


async def test_half_written_draft_keeps_the_persons_cell(template_services, local_store):
    (hub_id,) = add(local_store, prospect(1, draft_subject="Hand-made subject"))
    await run_stage(template_services)
    row = local_store.get(hub_id)
    assert row["draft_subject"] == "Hand-made subject"
    assert row["draft_body"].startswith("Hi Dana,")
    assert row["outreach_status"] == "drafted"


async def test_person_editing_while_drafting_wins(template_services, local_store):
    (hub_id,) = add(local_store, prospect(1))
    changes = await draft_changes(template_services, local_store.rows())
    assert local_store.get(hub_id).get("draft_subject", "") == ""  # nothing written yet
    # the person types a subject between our read and our write
    _force_cell(local_store, hub_id, "draft_subject", "Typed by a person")
    report = local_store.update(changes)
    row = local_store.get(hub_id)
    assert row["draft_subject"] == "Typed by a person"
    assert row["draft_body"].startswith("Hi Dana,")
    assert "draft_subject" in report.protected[hub_id]


def _force_cell(store, hub_id: str, column: str, value: str) -> None:
    """Stands in for a person typing into the sheet: the local store has no other writer, and
    its ownership rules let an empty draft cell be filled once."""
    report = store.update({hub_id: {column: value}})
    assert report.written == [hub_id]


async def test_gemini_outcomes_per_row_in_one_run(gemini_services, local_store, gemini):
    ok, blocked, safety, bad_json, crlf = add(
        local_store,
        prospect(1),
        prospect(2, snippet="gemini-emulator:blocked"),
        prospect(3, snippet="gemini-emulator:safety"),
        prospect(4, snippet="gemini-emulator:bad_json"),
        prospect(5, snippet="gemini-emulator:crlf_subject"),
    )
    result = await run_stage(gemini_services)
    assert result.summary["drafted"] == 1 and result.summary["held"] == 4
    holds = {
        h: local_store.get(h).get("hold_reason", "") for h in (blocked, safety, bad_json, crlf)
    }
    assert holds == {
        blocked: "REVIEW:gemini_blocked SAFETY",
        safety: "REVIEW:gemini_blocked SAFETY",
        bad_json: "REVIEW:bad_output not JSON",
        crlf: "REVIEW:bad_subject contains a line break",
    }
    for held in holds:
        row = local_store.get(held)
        assert row["outreach_status"] == "enriched" and not row.get("draft_subject")
    assert local_store.get(ok)["outreach_status"] == "drafted"

    # held for review: the next run leaves them to a person ...
    calls = gemini.request_count
    assert (await run_stage(gemini_services)).summary["eligible"] == 0
    assert gemini.request_count == calls
    # ... unless a person names one explicitly (the emulator now answers ok for it)
    local_store.update({safety: {"snippet": "Fixed by a person."}})
    result = await run_stage(gemini_services, prospect_ids=[safety])
    assert result.summary["drafted"] == 1
    row = local_store.get(safety)
    assert row["outreach_status"] == "drafted" and row.get("hold_reason", "") == ""


async def test_quota_holds_the_rest_without_calling_and_clears_later(
    gemini_services, local_store, gemini
):
    ids = add(local_store, *(prospect(n) for n in range(8)))
    gemini.default = "quota"
    result = await run_stage(gemini_services)
    assert result.summary["held"] == 8
    assert {local_store.get(h)["hold_reason"] for h in ids} == {rules.GEMINI_QUOTA}
    # at most the in-flight rows tried (each with its retries); the rest were never sent
    attempts = gemini_services.drafter.max_attempts
    assert gemini.request_count <= attempts * 4 < 8 * attempts

    gemini.default = "ok"
    result = await run_stage(gemini_services)
    assert result.summary["drafted"] == 8
    for hub_id in ids:
        row = local_store.get(hub_id)
        assert row["outreach_status"] == "drafted" and row.get("hold_reason", "") == ""


async def test_refused_key_fails_the_job_and_changes_nothing(gemini_services, local_store, gemini):
    add(local_store, prospect(1), prospect(2))
    before = local_store.rows()
    gemini.api_keys = {"another-key"}
    with pytest.raises(rules.DrafterMisconfigured, match="GEMINI_API_KEY"):
        await run_stage(gemini_services)
    assert local_store.rows() == before


async def test_unknown_model_fails_the_job_naming_gemini_model(gemini_services, local_store):
    add(local_store, prospect(1))
    gemini_services.drafter.model = "gemini-0-nano"
    with pytest.raises(rules.DrafterMisconfigured, match="GEMINI_MODEL"):
        await run_stage(gemini_services)


async def test_transient_error_is_recorded_then_cleared(gemini_services, local_store, gemini):
    (hub_id,) = add(local_store, prospect(1, last_error="enrich: hunter timed out"))
    # another stage's error stays until ours replaces it
    gemini.default = "server_error"
    await run_stage(gemini_services)
    row = local_store.get(hub_id)
    assert row["outreach_status"] == "enriched"
    assert row["last_error"].startswith("draft: gemini: 500")
    gemini.default = "ok"
    await run_stage(gemini_services)
    row = local_store.get(hub_id)
    assert row["outreach_status"] == "drafted" and row.get("last_error", "") == ""


async def test_blank_field_hold_is_retried_once_the_cell_is_filled(template_services, local_store):
    (hub_id,) = add(local_store, prospect(1, page_title=""))
    await run_stage(template_services)
    assert local_store.get(hub_id)["hold_reason"] == "REVIEW:blank_field page_title"
    local_store.update({hub_id: {"page_title": "Now filled in"}})
    await run_stage(template_services)
    row = local_store.get(hub_id)
    assert row["outreach_status"] == "drafted" and row.get("hold_reason", "") == ""
    assert row["draft_subject"] == "A note about Now filled in"


async def test_chunks_report_progress_and_max_prospects(template_services, local_store):
    add(local_store, *(prospect(n) for n in range(2 * CHUNK_ROWS + 5)))
    progress: list[tuple[int, int]] = []
    result = await run_stage(template_services, progress, max_prospects=2 * CHUNK_ROWS + 3)
    total = 2 * CHUNK_ROWS + 3
    assert result.summary["drafted"] == total
    assert progress == [(0, total), (CHUNK_ROWS, total), (2 * CHUNK_ROWS, total), (total, total)]
    assert local_store.count_by_status() == {"drafted": total, "enriched": 2}


async def test_prospect_ids_as_text_and_bad_params(template_services, local_store):
    first, second, third = add(local_store, prospect(1), prospect(2), prospect(3))
    result = await run_stage(template_services, prospect_ids=f"{first}, {third}")
    assert result.summary["drafted"] == 2
    assert local_store.get(second)["outreach_status"] == "enriched"
    for bad in ("ten", 0, -3, True):
        with pytest.raises(BadRequest, match="max_prospects"):
            await run_stage(template_services, max_prospects=bad)
    with pytest.raises(BadRequest, match="prospect_ids"):
        await run_stage(template_services, prospect_ids={"id": first})


async def test_cancel_stops_between_chunks(template_services, local_store):
    add(local_store, *(prospect(n) for n in range(CHUNK_ROWS + 5)))
    with pytest.raises(JobCancelled):
        await run_stage(template_services, cancel_after=1)
    assert local_store.count_by_status() == {"drafted": CHUNK_ROWS, "enriched": 5}


# --- draft_changes for the send and follow-up stages ----------------------------------------


async def test_draft_changes_writes_nothing_and_keeps_row_order(template_services, local_store):
    ids = add(local_store, prospect(1), prospect(2, page_title=""), prospect(3))
    before = local_store.rows()
    changes = await draft_changes(template_services, before)
    assert local_store.rows() == before
    assert list(changes) == ids
    assert changes[ids[0]]["outreach_status"] == "drafted"
    assert changes[ids[1]] == {"hold_reason": "REVIEW:blank_field page_title"}


async def test_draft_changes_never_moves_a_row_back_to_drafted(template_services, local_store):
    sent, skipped, no_address = add(
        local_store,
        prospect(1, outreach_status="sent"),
        prospect(2, outreach_status="do_not_contact", draft_subject="S", draft_body="B"),
        prospect(3, outreach_status="no_email", contact_email=""),
    )
    changes = await draft_changes(template_services, local_store.rows())
    assert "outreach_status" not in changes[sent] and changes[sent]["draft_subject"]
    assert changes[skipped] == {}
    assert "outreach_status" not in changes[no_address]


async def test_followup_step_changes_no_status(template_services, local_store):
    (hub_id,) = add(
        local_store,
        prospect(1, outreach_status="sent", draft_subject="A note about X", draft_body="First."),
    )
    changes = await draft_changes(template_services, local_store.rows(), step=1)
    assert changes[hub_id]["draft_subject"] == "Re: A note about X"
    assert "outreach_status" not in changes[hub_id]
    # merged into a sheet write by mistake, it still cannot replace the first message
    local_store.update(changes)
    assert local_store.get(hub_id)["draft_body"] == "First."


# --- compose_one -------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["templates", "gemini"])
async def test_compose_one_drafts_and_writes(
    which, template_services, gemini_services, local_store
):
    services = template_services if which == "templates" else gemini_services
    (hub_id,) = add(local_store, prospect(1))
    result = await compose_one(services, hub_id)
    assert result["outcome"] == "drafted" and result["drafter"] == which
    assert result["draft_subject"] == "A note about Gallery number 1"
    assert result["outreach_status"] == "drafted"
    assert local_store.get(hub_id)["draft_body"] == result["draft_body"]


async def test_compose_one_unknown_id_is_not_found(template_services):
    with pytest.raises(NotFound):
        await compose_one(template_services, "h_missing")


async def test_compose_one_refuses_over_a_persons_draft(template_services, local_store):
    (hub_id,) = add(local_store, prospect(1, draft_subject="Mine", draft_body="Mine too"))
    with pytest.raises(Conflict, match="never overwrites a person's edits"):
        await compose_one(template_services, hub_id)
    assert local_store.get(hub_id)["draft_body"] == "Mine too"


async def test_compose_one_refuses_a_sent_row(template_services, local_store):
    (hub_id,) = add(local_store, prospect(1, outreach_status="sent"))
    with pytest.raises(Conflict, match="sent"):
        await compose_one(template_services, hub_id)


async def test_compose_one_releases_a_review_hold(gemini_services, local_store, gemini):
    (hub_id,) = add(local_store, prospect(1, hold_reason="REVIEW:gemini_blocked SAFETY"))
    result = await compose_one(gemini_services, hub_id)
    assert result["outcome"] == "drafted" and result["hold_reason"] == ""
    gemini.script("blocked")
    (other,) = add(local_store, prospect(2))
    held = await compose_one(gemini_services, other)
    assert held["outcome"] == "held" and held["hold_reason"] == "REVIEW:gemini_blocked SAFETY"
    assert held["outreach_status"] == "enriched"


async def test_compose_one_without_an_address_keeps_the_status(template_services, local_store):
    (hub_id,) = add(local_store, prospect(1, outreach_status="no_email", contact_email=""))
    result = await compose_one(template_services, hub_id)
    assert result["outcome"] == "drafted" and result["draft_subject"]
    assert result["outreach_status"] == "no_email"


async def test_build_services_wires_the_template_drafter(sender, local_store):
    services = build_services(sender, store=local_store)
    (hub_id,) = add(local_store, prospect(1))
    assert services.providers()["drafting"] == "templates"
    assert (await compose_one(services, hub_id))["outcome"] == "drafted"
