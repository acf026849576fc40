"""The two mailers: the outbox folder (dry run) and Gmail through the real client library."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from hub.mail.factory import build_mailer
from hub.mail.outbox import OutboxMailer


def make_message(to="ed@gallery.example", subject="Hello", msgid="<abc.1@hub.example>"):
    msg = EmailMessage()
    msg["From"] = "Artist <me@artist.example>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = msgid
    msg["Date"] = "Mon, 02 Jun 2025 10:00:00 +0000"
    msg.set_content("Hi there,\nwould you like to see my work?\n")
    return msg


def test_default_mailer_is_the_outbox(settings):
    mailer = build_mailer(settings)
    assert isinstance(mailer, OutboxMailer)
    assert mailer.dry_run is True
    assert mailer.folder == settings.outbox_dir


def test_outbox_writes_the_message_bytes_under_a_deterministic_name(settings):
    mailer = build_mailer(settings)
    sent = mailer.send(make_message(), preview_name="h_0001-initial")
    path = settings.outbox_dir / "h_0001-initial.eml"
    assert sent.provider_id == "h_0001-initial.eml"
    assert sent.rfc822_message_id == "<abc.1@hub.example>"
    raw = path.read_bytes()
    assert b"\r\n" in raw  # RFC 5322 line ends
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    assert parsed["To"] == "ed@gallery.example"
    assert "would you like to see my work?" in parsed.get_content()


def test_outbox_preview_is_idempotent_per_row_and_step(settings):
    mailer = build_mailer(settings)
    mailer.send(make_message(subject="First"), preview_name="h_0001-initial")
    mailer.send(make_message(subject="Second"), preview_name="h_0001-initial")
    mailer.send(make_message(subject="Later"), preview_name="h_0001-followup1")
    files = sorted(p.name for p in settings.outbox_dir.glob("*.eml"))
    assert files == ["h_0001-followup1.eml", "h_0001-initial.eml"]
    subjects = {e.file: e.subject for e in mailer.entries()}
    assert subjects["h_0001-initial.eml"] == "Second"


def test_outbox_name_cannot_escape_the_folder(settings):
    mailer = build_mailer(settings)
    sent = mailer.send(make_message(), preview_name="../../etc/passwd")
    assert "/" not in sent.provider_id
    assert (settings.outbox_dir / sent.provider_id).exists()


def test_outbox_find_sent_by_message_id_then_by_recipient_and_subject(settings):
    mailer = build_mailer(settings)
    mailer.send(make_message(msgid="<x.1@hub.example>"), preview_name="h_1-initial")
    by_id = mailer.find_sent(
        rfc822_message_id="<x.1@hub.example>", to="", subject="", since=datetime.now(UTC)
    )
    assert by_id is not None and by_id.provider_id == "h_1-initial.eml"
    since = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
    by_recipient = mailer.find_sent(
        rfc822_message_id="<other@x>", to="ed@gallery.example", subject="Hello", since=since
    )
    assert by_recipient is not None
    too_late = mailer.find_sent(
        rfc822_message_id="<other@x>",
        to="ed@gallery.example",
        subject="Hello",
        since=since + timedelta(hours=2),
    )
    assert too_late is None
    assert mailer.thread_messages("t1") == []
    assert mailer.inbound_since(None).messages == []


# --- Gmail, through google-api-python-client against the emulators ---------------------------

import pytest  # noqa: E402

from hub.mail.base import MailerError  # noqa: E402
from hub.mail.gmail import GmailMailer  # noqa: E402
from tests.emulators import gmail_messages as inbound  # noqa: E402
from tests.emulators.fake_clock import FakeClock  # noqa: E402
from tests.emulators.gmail import gmail_world  # noqa: E402
from tests.emulators.serve import wait_until  # noqa: E402


@pytest.fixture
def waits():
    return []


@pytest.fixture
def mailer(mail_world, waits):
    # Backoff waits are recorded instead of slept: tests assert them, never time them.
    made = GmailMailer.from_settings(mail_world.settings)
    made._sleep = waits.append
    made.limiter._sleep = waits.append
    yield made
    made.close()


def test_gmail_mailer_only_with_hub_mailer_gmail(mail_world):
    assert isinstance(build_mailer(mail_world.settings), GmailMailer)
    assert mail_world.gmail.count() == 0  # building the client calls nothing


def test_send_refreshes_the_token_and_sends_raw_rfc5322(mail_world, mailer):
    message = make_message(msgid="<first.1@hub.example>")
    sent = mailer.send(message)
    assert mail_world.oauth.requests["refresh_token"] == 1
    stored = mail_world.gmail.messages[sent.provider_id]
    assert stored.label_ids == ["SENT"]
    assert stored.parsed["Message-ID"] == "<first.1@hub.example>"
    assert stored.parsed["To"] == "ed@gallery.example"
    assert sent.thread_id == stored.thread_id
    assert sent.rfc822_message_id == "<first.1@hub.example>"


def test_send_in_thread_uses_thread_id(mail_world, mailer):
    first = mailer.send(make_message(msgid="<t.1@hub.example>"))
    follow = make_message(subject="Re: Hello", msgid="<t.2@hub.example>")
    follow["In-Reply-To"] = "<t.1@hub.example>"
    second = mailer.send(follow, thread_id=first.thread_id)
    assert second.thread_id == first.thread_id
    assert second.provider_id != first.provider_id


def test_send_reports_the_message_id_gmail_kept_when_it_replaces_ours(settings, waits):
    with gmail_world(settings, keep_message_id=False) as mail_world:
        mailer = GmailMailer.from_settings(mail_world.settings)
        sent = mailer.send(make_message(msgid="<ours.1@hub.example>"))
        kept = mail_world.gmail.messages[sent.provider_id].parsed["Message-ID"]
        assert kept != "<ours.1@hub.example>"
        assert sent.rfc822_message_id == kept
        # Reconciliation still finds it: by recipient + time window + subject.
        found = mailer.find_sent(
            rfc822_message_id="<ours.1@hub.example>",
            to="ed@gallery.example",
            subject="Hello",
            since=datetime.now(UTC) - timedelta(minutes=5),
        )
        assert found is not None and found.provider_id == sent.provider_id
        assert found.rfc822_message_id == kept


def test_find_sent_by_message_id_first(mail_world, mailer):
    sent = mailer.send(make_message(msgid="<find.1@hub.example>"))
    mail_world.gmail.reset_log()
    found = mailer.find_sent(
        rfc822_message_id="<find.1@hub.example>",
        to="ed@gallery.example",
        subject="Hello",
        since=datetime.now(UTC),
    )
    assert found == type(found)(sent.provider_id, sent.thread_id, "<find.1@hub.example>")
    queries = [r.query for r in mail_world.gmail.requests]
    assert len(queries) == 1 and "rfc822msgid" in queries[0]


def test_find_sent_misses_other_subjects_and_old_messages(mail_world, mailer):
    mailer.send(make_message(msgid="<m.1@hub.example>"))
    assert (
        mailer.find_sent(
            rfc822_message_id="<nope@hub.example>",
            to="ed@gallery.example",
            subject="Another subject",
            since=datetime.now(UTC) - timedelta(minutes=5),
        )
        is None
    )
    assert (
        mailer.find_sent(
            rfc822_message_id="<nope@hub.example>",
            to="ed@gallery.example",
            subject="Hello",
            since=datetime.now(UTC) + timedelta(hours=1),
        )
        is None
    )


def test_500_after_store_is_ambiguous_and_reconcilable(mail_world, mailer):
    mail_world.gmail.inject("500_after_store", api_method="users.messages.send")
    with pytest.raises(MailerError) as caught:
        mailer.send(make_message(msgid="<amb.1@hub.example>"))
    assert caught.value.ambiguous is True
    assert mail_world.gmail.count("users.messages.send") == 1  # never re-sent by the mailer
    assert len(mail_world.gmail.sent()) == 1  # ... yet Gmail has it
    found = mailer.find_sent(
        rfc822_message_id="<amb.1@hub.example>", to="", subject="", since=datetime.now(UTC)
    )
    assert found is not None


def test_dropped_connection_on_send_is_ambiguous(mail_world, mailer):
    mail_world.gmail.inject("drop_after_store", api_method="users.messages.send")
    with pytest.raises(MailerError) as caught:
        mailer.send(make_message())
    assert caught.value.ambiguous is True
    assert mail_world.gmail.count("users.messages.send") == 1


def test_send_retries_a_rate_limit_honouring_retry_after(mail_world, mailer, waits):
    mail_world.gmail.inject("429", api_method="users.messages.send", seconds=7)
    sent = mailer.send(make_message())
    assert sent.provider_id in mail_world.gmail.messages
    assert mail_world.gmail.count("users.messages.send") == 2
    assert len(mail_world.gmail.sent()) == 1
    assert waits and waits[0] >= 7


def test_quota_errors_are_reported_as_quota(mail_world, mailer):
    mail_world.gmail.inject("429", api_method="users.messages.send", seconds=600, times=5)
    with pytest.raises(MailerError) as rate:
        mailer.send(make_message())
    assert rate.value.quota and not rate.value.ambiguous and rate.value.retry_after == 600
    mail_world.gmail.faults.clear()
    mail_world.gmail.inject("403_daily")
    with pytest.raises(MailerError) as daily:
        mailer.send(make_message())
    assert daily.value.quota and daily.value.retry_after is None
    assert "dailyLimitExceeded" in str(daily.value)
    assert mail_world.gmail.sent() == []


@pytest.mark.parametrize("answer", ["403_user_rate", "403_rate"])
def test_send_retries_a_403_rate_limit_after_the_time_in_its_message(settings, answer):
    # Gmail's documented 403 carries no Retry-After header: the wait is only in the message,
    # "User-rate limit exceeded.  Retry after <RFC 3339>". Both sides read one fixed clock.
    clock = FakeClock(start=1_750_000_000.0)
    waits: list[float] = []
    with gmail_world(settings, clock=clock) as world:
        mailer = GmailMailer.from_settings(world.settings, clock=clock, sleep=waits.append)
        world.gmail.inject(answer, api_method="users.messages.send", seconds=7.5)
        sent = mailer.send(make_message())
        mailer.close()
    refused = [r for r in world.gmail.requests if r.status == 403]
    assert len(refused) == 1 and refused[0].api_method == "users.messages.send"
    assert sent.provider_id in world.gmail.messages and len(world.gmail.sent()) == 1
    assert world.gmail.count("users.messages.send") == 2
    assert waits == [7.5]  # the message's time, not the 60 s fallback nor a short backoff


def test_a_403_rate_limit_past_the_longest_wait_is_quota_with_its_wait(settings):
    clock = FakeClock(start=1_750_000_000.0)
    with gmail_world(settings, clock=clock) as world:
        mailer = GmailMailer.from_settings(world.settings, clock=clock, sleep=clock.sleep)
        world.gmail.inject("403_user_rate", api_method="users.messages.send", seconds=3_600)
        with pytest.raises(MailerError) as caught:
            mailer.send(make_message())
        mailer.close()
    error = caught.value
    assert error.quota and not error.ambiguous and error.retry_after == 3_600
    assert "userRateLimitExceeded" in str(error) and "Retry after" in str(error)
    assert world.gmail.count("users.messages.send") == 1  # never re-sent within the run
    assert world.gmail.sent() == []


def test_reads_retry_a_403_rate_limit_from_the_message_too(settings):
    clock = FakeClock(start=1_750_000_000.0)
    waits: list[float] = []
    with gmail_world(settings, clock=clock) as world:
        mailer = GmailMailer.from_settings(world.settings, clock=clock, sleep=waits.append)
        world.gmail.inject("403_user_rate", api_method="users.getProfile", seconds=12)
        assert mailer.profile()["emailAddress"] == "me@artist.example"
        mailer.close()
    assert world.gmail.count("users.getProfile") == 2 and waits == [12.0]


def test_reads_retry_server_errors_then_succeed(mail_world, mailer, waits):
    mail_world.gmail.inject("500", api_method="users.getProfile", times=2)
    profile = mailer.profile()
    assert profile["emailAddress"] == "me@artist.example"
    assert mail_world.gmail.count("users.getProfile") == 3
    assert len(waits) == 2


def test_revoked_refresh_token_names_the_setting(mail_world, mailer):
    mail_world.oauth.revoke(mail_world.settings.gmail_refresh_token.get_secret_value())
    with pytest.raises(MailerError) as caught:
        mailer.send(make_message())
    assert "GMAIL_REFRESH_TOKEN" in str(caught.value)
    assert mail_world.settings.gmail_refresh_token.get_secret_value() not in str(caught.value)
    assert caught.value.ambiguous is False
    assert mail_world.gmail.count() == 0


def test_expired_access_token_is_refreshed_transparently(mail_world, mailer):
    mailer.profile()
    mail_world.oauth.expire_access_tokens()
    assert mailer.profile()["emailAddress"] == "me@artist.example"
    assert mail_world.oauth.requests["refresh_token"] == 2


def test_thread_messages_returns_metadata_oldest_first(mail_world, mailer):
    original = make_message(msgid="<th.1@hub.example>")
    sent = mailer.send(original)
    mail_world.gmail.deliver(inbound.reply(original, from_addr="ed@gallery.example"))
    messages = mailer.thread_messages(sent.thread_id)
    assert [m.headers["from"] for m in messages] == [
        "Artist <me@artist.example>",
        "ed@gallery.example",
    ]
    assert messages[1].headers["in-reply-to"] == "<th.1@hub.example>"
    assert messages[1].snippet.startswith("Thanks for reaching out! We'd love")


def test_inbound_since_uses_history_and_returns_only_new_received_mail(mail_world, mailer):
    original = make_message(msgid="<in.1@hub.example>")
    first = mailer.inbound_since(None)  # start watching now
    assert first.messages == [] and first.cursor
    mailer.send(original)
    mail_world.gmail.deliver(inbound.reply(original, from_addr="ed@gallery.example"))
    batch = mailer.inbound_since(first.cursor)
    assert [m.headers["from"] for m in batch.messages] == ["ed@gallery.example"]
    assert "Thanks for reaching out" in batch.messages[0].body_text
    again = mailer.inbound_since(batch.cursor)
    assert again.messages == []


def test_inbound_since_falls_back_to_search_when_history_expired(mail_world, mailer):
    original = make_message(msgid="<exp.1@hub.example>")
    start = mailer.inbound_since(None)
    mail_world.gmail.deliver(inbound.reply(original, from_addr="ed@gallery.example"))
    mail_world.gmail.expire_history()
    batch = mailer.inbound_since(start.cursor)
    assert [m.headers["from"] for m in batch.messages] == ["ed@gallery.example"]
    statuses = [(r.api_method, r.status) for r in mail_world.gmail.requests]
    assert ("users.history.list", 404) in statuses
    assert any(
        m == "users.messages.list" and "in%3Ainbox" in q
        for m, q in ((r.api_method, r.query) for r in mail_world.gmail.requests)
    )


def test_client_side_limiter_spends_gmail_units(settings, waits):
    with gmail_world(settings) as mail_world:
        mailer = GmailMailer.from_settings(mail_world.settings)
        clock = [0.0]

        def advance(seconds: float) -> None:  # the limiter's clock moves only when it waits
            waits.append(seconds)
            clock[0] += seconds

        mailer.limiter = type(mailer.limiter)(250, clock=lambda: clock[0], sleep=advance)
        for _ in range(3):
            mailer.send(make_message())  # 3 x (100 send + 5 get) = 315 units > 250
        assert sum(waits) > 0
        assert mail_world.gmail.units_by_method["users.messages.send"] == 300


def test_bounce_body_carries_the_delivery_status(mail_world, mailer):
    original = make_message(msgid="<b.1@hub.example>")
    start = mailer.inbound_since(None)
    mailer.send(original)
    mail_world.gmail.deliver(inbound.bounce(original, hard=True))
    batch = mailer.inbound_since(start.cursor)
    assert batch.messages[0].content_type == "multipart/report"
    assert "Status: 5.1.1" in batch.messages[0].body_text


# --- hub outbox -------------------------------------------------------------------------------


def test_hub_outbox_lists_the_dry_run_messages(settings, monkeypatch):
    from typer.testing import CliRunner

    from hub.cli import app

    monkeypatch.setenv("HUB_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()
    empty = runner.invoke(app, ["outbox"])
    assert empty.exit_code == 0 and "empty" in empty.output
    mailer = build_mailer(settings)
    mailer.send(make_message(subject="First note"), preview_name="h_a-initial")
    mailer.send(make_message(to="jo@mag.example", subject="Other"), preview_name="h_b-initial")
    listed = runner.invoke(app, ["outbox"])
    assert listed.exit_code == 0, listed.output
    for text in (
        "h_a-initial.eml",
        "h_b-initial.eml",
        "First note",
        "jo@mag.example",
        "2025-06-02",
    ):
        assert text in listed.output
    shown = runner.invoke(app, ["outbox", "--show", "h_a-initial.eml"])
    assert shown.exit_code == 0 and "would you like to see my work?" in shown.output
    missing = runner.invoke(app, ["outbox", "--show", "../secrets"])
    assert missing.exit_code == 1


def test_send_timeout_is_ambiguous_even_when_gmail_keeps_the_message(mail_world, waits):
    mailer = GmailMailer.from_settings(mail_world.settings)
    mailer.profile()  # token refreshed; the send below is the slow one
    slow = GmailMailer(
        api_url=mail_world.gmail_url,
        token_url=mail_world.token_url,
        client_id=mail_world.settings.gmail_client_id,
        client_secret=mail_world.settings.gmail_client_secret.get_secret_value(),
        refresh_token=mail_world.settings.gmail_refresh_token.get_secret_value(),
        sender=mail_world.settings.gmail_sender,
        timeout=0.3,
        sleep=waits.append,
    )
    mail_world.gmail.inject("latency", api_method="users.messages.send", seconds=1.0)
    with pytest.raises(MailerError) as caught:
        slow.send(make_message(msgid="<slow.1@hub.example>"))
    assert caught.value.ambiguous is True
    # The emulator finishes the send after our timeout: reconciliation finds it.
    found = wait_until(
        lambda: mailer.find_sent(
            rfc822_message_id="<slow.1@hub.example>", to="", subject="", since=datetime.now(UTC)
        ),
        timeout=5,
        interval=0.05,
        what="the slow send to land",
    )
    assert found.rfc822_message_id == "<slow.1@hub.example>"
    assert mail_world.gmail.count("users.messages.send") == 1
    slow.close()
    mailer.close()


# --- the client-side unit limiter: a sliding 60-second window, on an injected clock ----------

from hub.mail.gmail_quota import UnitLimiter  # noqa: E402


def _busiest_window(stamps: list[tuple[float, int]], window: float = 60.0) -> int:
    """The most units any half-open window (t - window, t] holds, as Gmail counts them."""
    return max(sum(u for s, u in stamps if t - window < s <= t) for t, _ in stamps)


def test_unit_limiter_never_puts_more_than_the_quota_in_any_window():
    clock = FakeClock(start=0.0)
    limiter = UnitLimiter(15_000, clock=clock, sleep=clock.sleep)
    stamps: list[tuple[float, int]] = []
    # A long run mixing Gmail's prices: send 100 + get 5, a list now and then.
    for i in range(700):
        for units in (100, 5) if i % 7 else (100, 5, 5, 2):
            limiter.acquire(units)
            stamps.append((clock(), units))
    spent = sum(u for _, u in stamps)
    assert _busiest_window(stamps) <= 15_000  # the old full bucket put up to 30,000 in one
    # And no slower than the window allows: U units need floor((U - 1) / 15,000) windows.
    assert clock() == pytest.approx((spent - 1) // 15_000 * 60.0)
    assert stamps[0][0] == 0.0 and sum(u for s, u in stamps if s == 0.0) > 14_800  # no ramp


def test_unit_limiter_counts_a_call_until_it_is_answered():
    clock = FakeClock(start=0.0)
    limiter = UnitLimiter(250, clock=clock, sleep=clock.sleep)
    with limiter.spend(200):
        clock.advance(100.0)  # a slow call: Gmail may have stamped it at any moment up to now
    limiter.acquire(100)  # 200 + 100 > 250: waits a full window after the ANSWER
    assert clock() == pytest.approx(160.0)
    assert limiter.units_in_window == 100


def test_unit_limiter_waits_for_calls_in_flight_to_finish():
    clock = FakeClock(start=0.0)
    polls: list[float] = []

    def sleep(seconds: float) -> None:
        polls.append(seconds)
        clock.sleep(seconds)
        if len(polls) == 3:  # the slow call is answered while we poll
            slow_call.__exit__(None, None, None)

    limiter = UnitLimiter(250, clock=clock, sleep=sleep, poll=0.05)
    slow_call = limiter.spend(200)
    slow_call.__enter__()
    limiter.acquire(100)
    # Three short polls while the call was in flight, then one window after its answer.
    assert polls[:3] == [0.05] * 3
    assert clock() == pytest.approx(3 * 0.05 + 60.0)


def test_a_long_send_run_on_a_shared_clock_gets_no_rate_limit(settings):
    """Real mailer, real client library, the emulator's own window: never refused (Gmail's
    403 userRateLimitExceeded), at full pace."""
    clock = FakeClock(start=1_000_000.0)
    with gmail_world(settings, clock=clock, units_per_minute=1_000) as world:
        mailer = GmailMailer.from_settings(world.settings)
        mailer._sleep = clock.sleep  # a refusal's retry time would be slept on the same clock
        mailer.limiter = UnitLimiter(1_000, clock=clock, sleep=clock.sleep)
        started = clock()
        for i in range(25):  # 25 x (100 send + 5 get) = 2,625 units: three windows
            mailer.send(make_message(to=f"ed{i}@gallery.example", msgid=f"<l.{i}@hub.example>"))
        mailer.close()
    assert [r for r in world.gmail.requests if r.status in (403, 429)] == []
    assert world.gmail.count("users.messages.send") == 25
    spent = sum(world.gmail.units_by_method.values())
    assert spent == 2_625
    assert clock() - started == pytest.approx((spent - 1) // 1_000 * 60.0, abs=0.5)
