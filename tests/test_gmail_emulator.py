"""The Gmail emulator speaks Gmail's wire format: the real google-api-python-client (with real
google-auth OAuth refresh) runs against it, and answers follow tests/fixtures/real/gmail_*.json."""

from __future__ import annotations

import base64
from email.message import EmailMessage

import httpx
import pytest
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from tests.emulators import gmail_messages as inbound
from tests.emulators.gmail import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, gmail_world
from tests.fixtures import load_real


class Clock:
    def __init__(self, start: float = 1_750_000_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def clocked_mail_world(settings, clock):
    with gmail_world(settings, clock=clock) as clocked_mail_world:
        yield clocked_mail_world


@pytest.fixture
def users(clocked_mail_world):
    credentials = Credentials(
        token=None,
        refresh_token=REFRESH_TOKEN,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        token_uri=clocked_mail_world.token_url,
        scopes=["https://www.googleapis.com/auth/gmail.readonly"],
    )
    service = build(
        "gmail",
        "v1",
        credentials=credentials,
        static_discovery=True,
        cache_discovery=False,
        client_options={"api_endpoint": clocked_mail_world.gmail_url},
    )
    return service.users()


def raw_of(message: EmailMessage) -> str:
    return base64.urlsafe_b64encode(message.as_bytes()).decode("ascii")


def outgoing(to="ed@gallery.example", subject="Hello", msgid="<o.1@hub.example>"):
    msg = EmailMessage()
    msg["From"] = "me@artist.example"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = msgid
    msg.set_content("Would you like to see my paintings?")
    return msg


def send(users, message, thread_id=None):
    body = {"raw": raw_of(message)}
    if thread_id:
        body["threadId"] = thread_id
    return users.messages().send(userId="me", body=body).execute()


def test_profile_has_the_fixture_shape(clocked_mail_world, users):
    profile = users.getProfile(userId="me").execute()
    assert set(profile) == set(load_real("gmail_get_profile.json"))
    assert profile["emailAddress"] == "me@artist.example"
    assert clocked_mail_world.oauth.requests["refresh_token"] == 1


def test_send_answers_in_the_fixture_shape_and_stores_the_message(clocked_mail_world, users):
    answer = send(users, outgoing())
    assert set(answer) == set(load_real("gmail_messages_send_response_user_reported.json"))
    assert answer["labelIds"] == ["SENT"]
    stored = clocked_mail_world.gmail.messages[answer["id"]]
    assert stored.parsed["Subject"] == "Hello"


def test_message_resource_has_the_recorded_fields(clocked_mail_world, users):
    answer = send(users, outgoing())
    full = users.messages().get(userId="me", id=answer["id"], format="full").execute()
    recorded = load_real("gmail_thread_messages_format_full_2014_trimmed.json")[0]
    assert set(recorded) - {"internalDate"} <= set(full)
    assert {"partId", "mimeType", "filename", "headers", "body"} <= set(full["payload"])
    assert full["internalDate"] == str(int(clocked_mail_world.gmail.clock() * 1000))
    metadata = (
        users.messages()
        .get(userId="me", id=answer["id"], format="metadata", metadataHeaders=["Subject"])
        .execute()
    )
    assert metadata["payload"]["headers"] == [{"name": "Subject", "value": "Hello"}]
    assert "parts" not in metadata["payload"]


def test_message_id_is_kept_or_replaced_by_switch(settings):
    for keep in (True, False):
        with gmail_world(settings, keep_message_id=keep) as clocked_mail_world:
            creds = Credentials(
                token=None,
                refresh_token=REFRESH_TOKEN,
                client_id=CLIENT_ID,
                client_secret=CLIENT_SECRET,
                token_uri=clocked_mail_world.token_url,
            )
            users = build(
                "gmail",
                "v1",
                credentials=creds,
                static_discovery=True,
                client_options={"api_endpoint": clocked_mail_world.gmail_url},
            ).users()
            answer = send(users, outgoing(msgid="<mine.1@hub.example>"))
            kept = clocked_mail_world.gmail.messages[answer["id"]].parsed["Message-ID"]
            assert (kept == "<mine.1@hub.example>") is keep
            assert kept.endswith("@mail.gmail.com>") is not keep


def reply_to(parent: EmailMessage, *, subject=None, msgid="<o.2@hub.example>", refs=True):
    msg = outgoing(subject=subject or "Re: " + str(parent["Subject"]), msgid=msgid)
    if refs:
        msg["In-Reply-To"] = parent["Message-ID"]
        msg["References"] = parent["Message-ID"]
    return msg


def test_thread_id_keeps_a_reply_in_the_thread_and_unknown_thread_is_404(clocked_mail_world, users):
    original = outgoing(msgid="<a.1@hub.example>")
    first = send(users, original)
    second = send(users, reply_to(original, msgid="<a.2@hub.example>"), first["threadId"])
    assert second["threadId"] == first["threadId"]
    with pytest.raises(HttpError) as caught:
        send(users, outgoing(msgid="<a.3@hub.example>"), "deadbeef00000000")
    assert caught.value.resp.status == 404


@pytest.mark.parametrize(
    ("subject", "refs", "threaded"),
    [
        ("Re: Hello", True, True),
        ("RE:  re: hello", True, True),  # prefixes and case do not count
        ("Fwd: Hello", True, True),
        ("Re: Something else", True, False),  # "3. The Subject headers must match."
        ("Re: Hello", False, False),  # "2. The References and In-Reply-To headers ..."
    ],
)
def test_a_send_joins_its_thread_id_only_by_gmails_rule(
    clocked_mail_world, users, subject, refs, threaded
):
    original = outgoing(msgid="<r.1@hub.example>")
    first = send(users, original)
    second = send(users, reply_to(original, subject=subject, refs=refs), first["threadId"])
    assert (second["threadId"] == first["threadId"]) is threaded
    if not threaded:
        assert second["threadId"] == second["id"]  # a thread of its own


def test_a_reply_without_thread_id_starts_a_new_thread(clocked_mail_world, users):
    original = outgoing(msgid="<n.1@hub.example>")
    first = send(users, original)
    second = send(users, reply_to(original))  # "1. The requested threadId must be specified"
    assert second["threadId"] != first["threadId"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("in:sent", {"s1", "s2"}),
        ("in:inbox", {"r1"}),
        ("rfc822msgid:<s1@hub.example>", {"s1"}),
        ("rfc822msgid:s1@hub.example in:sent", {"s1"}),
        ("in:sent to:ed@gallery.example", {"s1"}),
        ("from:ed@gallery.example", {"r1"}),
        ('subject:"second note"', {"s2"}),
        ("in:sent after:1750000100", {"s2"}),
        ("in:sent before:1750000100", {"s1"}),
        ("in:sent after:2025/06/15", {"s1", "s2"}),
    ],
)
def test_search_operators(clocked_mail_world, users, clock, query, expected):
    s1 = outgoing(msgid="<s1@hub.example>")
    ids = {"s1": send(users, s1)["id"]}
    clock.now += 200
    ids["s2"] = send(
        users, outgoing(to="jo@mag.example", subject="Second note", msgid="<s2@hub.example>")
    )["id"]
    ids["r1"] = clocked_mail_world.gmail.deliver(
        inbound.reply(s1, from_addr="ed@gallery.example")
    ).id
    listed = users.messages().list(userId="me", q=query).execute()
    names = {
        name for name, gid in ids.items() if gid in {m["id"] for m in listed.get("messages", [])}
    }
    assert names == expected
    assert listed["resultSizeEstimate"] == len(expected)


def test_empty_list_and_pagination(clocked_mail_world, users):
    assert users.messages().list(userId="me", q="in:inbox").execute() == {"resultSizeEstimate": 0}
    for n in range(5):
        send(users, outgoing(msgid=f"<p.{n}@hub.example>"))
    first = users.messages().list(userId="me", q="in:sent", maxResults=3).execute()
    second = (
        users.messages()
        .list(userId="me", q="in:sent", maxResults=3, pageToken=first["nextPageToken"])
        .execute()
    )
    assert len(first["messages"]) == 3 and len(second["messages"]) == 2
    assert "nextPageToken" not in second


def test_reply_is_threaded_by_references_and_thread_get_lists_both(clocked_mail_world, users):
    original = outgoing(msgid="<t.1@hub.example>")
    sent = send(users, original)
    clocked_mail_world.gmail.deliver(inbound.reply(original, from_addr="ed@gallery.example"))
    thread = (
        users.threads()
        .get(
            userId="me",
            id=sent["threadId"],
            format="metadata",
            metadataHeaders=["From", "In-Reply-To"],
        )
        .execute()
    )
    assert thread["id"] == sent["threadId"] and thread["historyId"]
    froms = [
        {h["name"]: h["value"] for h in m["payload"]["headers"]}["From"] for m in thread["messages"]
    ]
    assert froms == ["me@artist.example", "ed@gallery.example"]


def test_history_lists_messages_added_since_and_404_when_expired(clocked_mail_world, users):
    start = users.getProfile(userId="me").execute()["historyId"]
    sent = send(users, outgoing())
    history = (
        users.history()
        .list(userId="me", startHistoryId=start, historyTypes=["messageAdded"])
        .execute()
    )
    added = [a["message"]["id"] for h in history["history"] for a in h["messagesAdded"]]
    assert added == [sent["id"]]
    assert int(history["historyId"]) > int(start)
    nothing_new = users.history().list(userId="me", startHistoryId=history["historyId"]).execute()
    assert "history" not in nothing_new
    clocked_mail_world.gmail.expire_history()
    with pytest.raises(HttpError) as caught:
        users.history().list(userId="me", startHistoryId=start).execute()
    assert caught.value.resp.status == 404


def test_bounce_and_auto_reply_helpers_have_the_standard_markers(clocked_mail_world, users):
    original = outgoing()
    send(users, original)
    hard = clocked_mail_world.gmail.deliver(inbound.bounce(original, hard=True))
    soft = clocked_mail_world.gmail.deliver(inbound.bounce(original, hard=False))
    ooo = clocked_mail_world.gmail.deliver(
        inbound.auto_reply(original, from_addr="ed@gallery.example")
    )
    full = users.messages().get(userId="me", id=hard.id).execute()
    assert full["payload"]["mimeType"] == "multipart/report"
    assert [p["mimeType"] for p in full["payload"]["parts"]] == [
        "text/plain",
        "message/delivery-status",
        "text/rfc822-headers",
    ]
    assert "Status: 4.2.2" in soft.raw.decode()
    assert ooo.parsed["Auto-Submitted"] == "auto-replied" and ooo.parsed["X-Autoreply"]
    assert hard.thread_id == soft.thread_id == ooo.thread_id


def test_missing_or_bad_token_gets_the_documented_401(clocked_mail_world):
    answer = httpx.get(clocked_mail_world.gmail_url + "gmail/v1/users/me/profile")
    assert answer.status_code == 401
    assert answer.json() == load_real("gmail_errors_official_docs.json")["401_authError"]
    bad = httpx.get(
        clocked_mail_world.gmail_url + "gmail/v1/users/me/profile",
        headers={"Authorization": "Bearer nope"},
    )
    assert bad.status_code == 401
    assert clocked_mail_world.gmail.units_by_method == {}


@pytest.mark.parametrize(
    ("answer", "status", "reason"),
    [
        ("403_user_rate", 403, "userRateLimitExceeded"),  # the default: a per-user limit
        ("403_rate", 403, "rateLimitExceeded"),
        ("429", 429, "rateLimitExceeded"),
    ],
)
def test_units_per_minute_are_refused_with_the_retry_time_in_the_message(
    settings, clock, answer, status, reason
):
    with gmail_world(
        settings, clock=clock, units_per_minute=250, rate_limit_answer=answer
    ) as world:
        token = world.oauth._issue("me@artist.example", ("gmail",)).token
        headers = {"Authorization": f"Bearer {token}"}
        body = {"raw": raw_of(outgoing())}
        url = world.gmail_url + "gmail/v1/users/me/messages/send"
        assert httpx.post(url, json=body, headers=headers).status_code == 200
        clock.now += 10
        assert httpx.post(url, json=body, headers=headers).status_code == 200
        refused = httpx.post(url, json=body, headers=headers)
        assert refused.status_code == status
        error = refused.json()["error"]
        assert error["code"] == status and error["errors"][0]["reason"] == reason
        assert error["errors"][0]["domain"] == "usageLimits"
        # The first send leaves the minute's window 50 s from now: Gmail's words for it.
        assert error["message"].endswith("Retry after 2025-06-15T15:07:40.000Z")
        assert ("Retry-After" in refused.headers) is (status == 429)
        assert world.gmail.units_by_method["users.messages.send"] == 200
        assert len(world.gmail.sent()) == 2
        clock.now += 50
        assert httpx.post(url, json=body, headers=headers).status_code == 200


def test_daily_send_limit_gives_the_documented_403(settings, clock):
    with gmail_world(settings, clock=clock, daily_send_limit=1) as clocked_mail_world:
        token = clocked_mail_world.oauth._issue("me@artist.example", ("gmail",)).token
        headers = {"Authorization": f"Bearer {token}"}
        url = clocked_mail_world.gmail_url + "gmail/v1/users/me/messages/send"
        body = {"raw": raw_of(outgoing())}
        assert httpx.post(url, json=body, headers=headers).status_code == 200
        refused = httpx.post(url, json=body, headers=headers)
        assert refused.status_code == 403
        assert (
            refused.json() == load_real("gmail_errors_official_docs.json")["403_dailyLimitExceeded"]
        )
        clock.now += 86_401
        assert httpx.post(url, json=body, headers=headers).status_code == 200


def test_faults_and_request_log(clocked_mail_world, users):
    clocked_mail_world.gmail.inject("500", api_method="users.getProfile")
    with pytest.raises(HttpError) as caught:
        users.getProfile(userId="me").execute()
    assert caught.value.resp.status == 500
    clocked_mail_world.gmail.inject("500_after_store", api_method="users.messages.send")
    with pytest.raises(HttpError):
        send(users, outgoing())
    assert len(clocked_mail_world.gmail.sent()) == 1  # stored although the answer was 500
    clocked_mail_world.gmail.inject("latency", api_method="users.getProfile", seconds=0.05)
    assert users.getProfile(userId="me").execute()["emailAddress"]
    # Last: the client's keep-alive connection is dead after a drop.
    clocked_mail_world.gmail.inject("drop", api_method="users.messages.send")
    with pytest.raises(Exception) as dropped:
        send(users, outgoing(msgid="<d.1@hub.example>"))
    assert not isinstance(dropped.value, HttpError)
    assert len(clocked_mail_world.gmail.sent()) == 1  # dropped before storing
    log = [(r.api_method, r.status) for r in clocked_mail_world.gmail.requests]
    assert log == [
        ("users.getProfile", 500),
        ("users.messages.send", 500),
        ("users.getProfile", 200),
        ("users.messages.send", 0),
    ]
    assert clocked_mail_world.gmail.units_by_method == {
        "users.messages.send": 100,
        "users.getProfile": 1,
    }


def test_bad_query_is_a_400(clocked_mail_world, users):
    with pytest.raises(HttpError) as caught:
        users.messages().list(userId="me", q="frobnicate:yes").execute()
    assert caught.value.resp.status == 400
