"""A raw message read over IMAP shows its headers as the Gmail API does: encoded-words decoded."""

from __future__ import annotations

from datetime import UTC, datetime

from hub.mail.classify import classify
from hub.mail.rfc822 import header_text, to_message

RAW = (
    b"From: =?utf-8?q?Ren=C3=A9e_Dupont?= <renee@gallery.example>\r\n"
    b"To: ada@artist.example\r\n"
    b"Subject: =?utf-8?q?R=C3=A9ponse_automatique=3A_Votre_galerie?=\r\n"
    b"Message-ID: <ooo-1@gallery.example>\r\n"
    b"Date: Fri, 04 Dec 2026 10:00:00 +0000\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"Je suis absente.\r\n"
)


def test_encoded_words_are_decoded_like_the_gmail_api_shows_them():
    message = to_message(RAW, provider_id="1")
    assert message.headers["subject"] == "Réponse automatique: Votre galerie"
    assert message.headers["from"] == "Renée Dupont <renee@gallery.example>"


def test_an_encoded_out_of_office_subject_is_an_auto_reply_over_imap():
    message = to_message(RAW, provider_id="1")
    verdict = classify(message, own_addresses=["ada@artist.example"], now=datetime.now(UTC))
    assert verdict.kind == "auto_reply"


def test_a_broken_encoded_word_stays_as_it_came():
    broken = "=?x-unknown-charset?q?caf=E9?="
    assert header_text(broken) == broken
    assert header_text("plain text") == "plain text"
