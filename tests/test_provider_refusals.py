"""A provider refusing our credentials fails the send job with the reason; no row is marked
``failed``, and the rows go out once the credentials are fixed (README: "a provider refusing
the key fails the job").

The real path: the job runner, the send stage, the durable ledger, smtplib against the aiosmtpd
stand-in and dovecot, or the Gmail client against the Gmail and OAuth emulators.
"""

from __future__ import annotations

import os
import time

import pytest

from hub.app import build_services
from hub.config import Settings
from hub.errors import ProviderError
from hub.jobs.runner import JobRunner
from hub.mail.base import MailerError
from hub.stages.followup import run_followups
from hub.stages.send import run_send
from sheets.local import LocalStore
from tests.emulators.dovecot import available
from tests.helpers_send_crash import REFRESH_TOKEN, add_rows, gmail_world, sent_recipients
from tests.smtp_world import smtp_world

pytestmark = pytest.mark.timeout(120)
ROWS = 6


async def _job(values: dict, data_dir, job_type: str = "send") -> dict:
    settings = Settings(_env_file=None, data_dir=data_dir, **values)
    services = build_services(settings)
    try:
        return await JobRunner(services, poll_interval=0.01).run_inline(job_type, {})
    finally:
        services.close()


def _add(values: dict, data_dir) -> list[str]:
    store = LocalStore(data_dir / "prospects.sqlite3")
    try:
        store.ensure_schema()
        return add_rows(store, ROWS)
    finally:
        store.close()


def _rows(data_dir) -> dict[str, dict]:
    store = LocalStore(data_dir / "prospects.sqlite3")
    try:
        return {row["hub_id"]: row for row in store.rows()}
    finally:
        store.close()


def _as_they_were(data_dir, ids: list[str]) -> None:
    rows = _rows(data_dir)
    for hub_id in ids:
        row = rows[hub_id]
        assert row["outreach_status"] == "drafted", row  # not failed, not sending
        assert row.get("hold_reason", "") == "" and row.get("message_id", "") == ""


@pytest.mark.skipif(not available(), reason="needs dovecot (scripts/system-deps test)")
async def test_a_refused_smtp_login_fails_the_job_and_leaves_the_rows(data_dir, tmp_path):
    with smtp_world(["ada"], tmp_path) as world:
        values = world.settings | {"require_approval": False}
        ids = _add(values, data_dir)
        right = os.environ["HUB_TEST_ADA_SMTP"]
        os.environ["HUB_TEST_ADA_SMTP"] = "not-the-password"
        try:
            job = await _job(values, data_dir)
        finally:
            os.environ["HUB_TEST_ADA_SMTP"] = right
        assert job["status"] == "failed", job
        assert "refused the login (535)" in job["error"] and "not-the-password" not in job["error"]
        assert "no row was marked failed" in job["error"]
        assert world.smtp.delivered() == []
        _as_they_were(data_dir, ids)

        again = await _job(values, data_dir)  # the password is fixed: every row goes
        assert again["status"] == "completed" and again["result"]["sent"] == ROWS
        assert len(world.smtp.delivered()) == ROWS


async def test_a_revoked_gmail_refresh_token_fails_the_job_and_leaves_the_rows(data_dir):
    with gmail_world() as world:
        ids = _add(world.settings, data_dir)
        world.oauth.revoke(REFRESH_TOKEN)  # invalid_grant: the user removed access

        job = await _job(world.settings, data_dir)

        assert job["status"] == "failed" and "GMAIL_REFRESH_TOKEN" in job["error"], job
        assert world.gmail.sent() == []
        _as_they_were(data_dir, ids)
        world.oauth.revoked_refresh_tokens.clear()  # authorised again
        again = await _job(world.settings, data_dir)
        assert again["result"]["sent"] == ROWS and len(sent_recipients(world.gmail)) == ROWS


async def test_a_gmail_401_that_a_fresh_token_does_not_cure_fails_the_job(data_dir):
    with gmail_world() as world:
        ids = _add(world.settings, data_dir)
        world.gmail.check_bearer = lambda token: False  # every access token refused: 401

        job = await _job(world.settings, data_dir)

        assert job["status"] == "failed" and "HTTP 401" in job["error"], job
        assert world.gmail.sent() == []
        _as_they_were(data_dir, ids)


async def test_a_revoked_token_stops_follow_ups_and_leaves_the_rows(data_dir):
    with gmail_world() as world:
        settings = Settings(_env_file=None, data_dir=data_dir, **world.settings)
        services = build_services(settings)
        try:
            services.store.ensure_schema()
            [hub_id] = add_rows(services.store, 1)
            await run_send(services)
            before = services.store.get(hub_id)
            world.oauth.revoke(REFRESH_TOKEN)
            world.oauth.expire_access_tokens()  # the next call must refresh, and cannot
            later = lambda: time.time() + 3 * 86400 + 60  # noqa: E731 - the follow-up is due

            with pytest.raises((MailerError, ProviderError), match="GMAIL_REFRESH_TOKEN"):
                await run_followups(services, clock=later)
            assert services.store.get(hub_id) == before and len(world.gmail.sent()) == 1

            world.oauth.revoked_refresh_tokens.clear()
            await run_followups(services, clock=later)
            assert services.store.get(hub_id)["followups_sent"] == "1"
        finally:
            services.close()
