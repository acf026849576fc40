"""The outgoing message: identity, threading and RFC 8058 consent headers, injection guard."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser

import pytest

from hub.sending import message as msg
from hub.sending.ledger import Ledger
from webhooks.tokens import UNSUBSCRIBE_SALT, verify_timed


@pytest.fixture
def sender_settings(settings):
    return settings.model_copy(
        update={
            "secret_keys": ["old-key", "new-key"],
            "public_url": "https://hub.artist.example",
            "gmail_sender": "me@artist.example",
            "sender_name": "Ada Artist",
            "sender_address": "Studio 4, 1 Canal Street, Manchester M1 3HE, UK",
        }
    )


def _wire(message) -> bytes:
    return message.as_bytes(policy=message.policy.clone(linesep="\r\n"))


def _build(settings, **content):
    fields = {"to": "editor@gallery.example", "subject": "Your spring show", "body": "Hello!"}
    fields.update(content)
    link = msg.unsubscribe_url(settings, "h_0123456789abcdef")
    return msg.build_message(
        settings,
        msg.Content(**fields),
        message_id=msg.new_message_id(settings),
        unsubscribe_link=link,
    ), link


def test_message_carries_one_click_unsubscribe_and_postal_address(sender_settings):
    built, link = _build(sender_settings, to_name="Grace Editor")
    parsed = BytesParser(policy=policy.default).parsebytes(_wire(built))

    # The URL must survive as-is (no RFC 2047 encoded-words): clients read it literally.
    assert parsed["List-Unsubscribe"] == f"<{link}>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert link.startswith("https://hub.artist.example/u/")
    body = parsed.get_content()
    assert "Studio 4, 1 Canal Street" in body
    assert f"Unsubscribe: {link}" in body
    assert parsed["To"].addresses[0].addr_spec == "editor@gallery.example"
    assert parsed["From"].addresses[0].display_name == "Ada Artist"
    assert parsed["Message-ID"].endswith("@artist.example>")


def test_unsubscribe_token_names_the_row_only(sender_settings):
    link = msg.unsubscribe_url(sender_settings, "h_0123456789abcdef")
    token = link.rsplit("/", 1)[1]
    data = verify_timed(token, ["new-key"], UNSUBSCRIBE_SALT, max_age=3600)
    assert data == {"h": "h_0123456789abcdef"}


def test_without_hub_secret_keys_links_use_the_embedded_key(settings):
    from hub.state.keys import secret_keys_for

    link = msg.unsubscribe_url(settings, "h_1")
    token = link.rsplit("/", 1)[1]
    assert verify_timed(token, secret_keys_for(settings), UNSUBSCRIBE_SALT, 60) == {"h": "h_1"}


@pytest.mark.parametrize(
    ("field", "content"),
    [
        ("subject", {"subject": "Hello\r\nBcc: victim@example.com"}),
        ("subject", {"subject": "Hello\nthere"}),
        ("subject", {"subject": "nul\0byte"}),
        ("contact_email", {"to": "a@b.example\nBcc: c@d.example"}),
        ("contact_name", {"to_name": "Grace\rX-Injected: 1"}),
    ],
)
def test_line_breaks_in_header_values_are_refused(sender_settings, field, content):
    with pytest.raises(msg.UnsafeHeader) as caught:
        _build(sender_settings, **content)
    assert caught.value.field == field


def test_follow_up_threads_under_the_previous_messages(sender_settings):
    link = msg.unsubscribe_url(sender_settings, "h_1")
    threading = msg.Threading(
        "thread-1", in_reply_to="<second@artist.example>", references="<first@artist.example>"
    )
    built = msg.build_message(
        sender_settings,
        msg.Content("editor@gallery.example", msg.reply_subject("Your spring show"), "Any news?"),
        message_id="<third@artist.example>",
        unsubscribe_link=link,
        threading=threading,
    )
    assert built["Subject"] == "Re: Your spring show"
    assert built["In-Reply-To"] == "<second@artist.example>"
    assert built["References"] == "<first@artist.example> <second@artist.example>"
    assert msg.reply_subject("Re: Your spring show") == "Re: Your spring show"


def test_ledger_intent_survives_a_new_connection(settings):
    first = Ledger.from_settings(settings)
    intent = first.plan(
        hub_id="h_1",
        step=0,
        message_id="<m1@x>",
        recipient="A@Gallery.example",
        subject="Hi",
        owner="1:a",
    )
    assert intent is not None
    first.close()
    again = Ledger.from_settings(settings)
    found = again.intent("h_1", 0)
    assert found.message_id == "<m1@x>" and found.recipient_domain == "gallery.example"
    again.close()
