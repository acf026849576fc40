"""Recognition on real messages (tests/fixtures/mail/, see SOURCES.md): every bounce family is
a bounce, through the Gmail conversion the hub uses and through the raw RFC 822 path an IMAP
reader uses; complaints are complaints; auto-replies and people stay what they are."""

from __future__ import annotations

import re
from collections import defaultdict
from email import message_from_bytes, policy

import pytest

from hub.mail.bounces.mailman import ask_mailman
from hub.mail.classify import Classification, classify
from tests.mail_corpus import (
    ARRIVED,
    CORPUS_DIR,
    OWN_ADDRESS,
    CorpusMessage,
    as_gmail,
    as_imap,
    load_corpus,
)

BOUNCES = ("bounce_hard", "bounce_soft")
CORPUS = load_corpus()


def kind(item: CorpusMessage, reader=as_gmail) -> Classification:
    return classify(reader(item.raw), own_addresses=[OWN_ADDRESS], now=ARRIVED)


@pytest.fixture(scope="module")
def seen() -> dict[str, Classification]:
    return {item.path: kind(item) for item in CORPUS}


def of(expected: str, split: str | None = None) -> list[CorpusMessage]:
    return [i for i in CORPUS if i.expected == expected and (split is None or i.split == split)]


def test_the_corpus_holds_300_real_bounces_from_the_named_sources():
    bounces = of("bounce")
    assert len(bounces) >= 300
    sources = (CORPUS_DIR / "SOURCES.md").read_text()
    for source in {item.source for item in CORPUS}:
        assert f"`{source}/`" in sources, f"{source} has no entry in SOURCES.md"
    families = {item.family for item in bounces}
    for family in ("postfix", "exim", "sendmail", "qmail", "exchange", "gmail", "yahoo"):
        assert family in families
    for family in ("outlook.com", "amazon-ses", "aol", "rfc3464", "jp-carrier", "domino"):
        assert family in families
    assert of("complaint") and of("auto_reply") and len(of("reply")) >= 50


FAMILIES = sorted({item.family for item in of("bounce")})


@pytest.mark.parametrize("family", FAMILIES)
def test_every_bounce_of_a_family_is_recognised(family, seen):
    missed = [
        (i.path, seen[i.path].kind)
        for i in of("bounce")
        if i.family == family and seen[i.path].kind not in BOUNCES
    ]
    assert missed == []


def test_held_out_bounces_are_recognised_and_none_is_a_reply(seen):
    held_out = of("bounce", "heldout")
    recognised = [i for i in held_out if seen[i.path].kind in BOUNCES]
    assert len(held_out) >= 60
    assert len(recognised) / len(held_out) >= 0.99
    assert [i.path for i in of("bounce") if seen[i.path].kind in ("reply", "unsubscribe")] == []


@pytest.mark.parametrize("split", ["fresh-a", "fresh-b"])
def test_unseen_fresh_messages_meet_the_issues_goals(split, seen):
    """fresh-a and fresh-b were gathered after the rules were final, split by hash and measured
    blind (SOURCES.md, "The unseen fresh set"): the issue's "Done when" on real DSNs the rules
    had never seen. Every fresh bounce was recognised; the 99% floor is the issue's goal."""
    bounces = of("bounce", split)
    assert len(bounces) >= 40
    recognised = [i for i in bounces if seen[i.path].kind in BOUNCES]
    assert len(recognised) / len(bounces) >= 0.99
    assert [i.path for i in bounces if seen[i.path].kind in ("reply", "unsubscribe")] == []
    complaints = of("complaint", split)
    assert len(complaints) >= 3
    assert {i.path: seen[i.path].kind for i in complaints} == {
        i.path: "complaint" for i in complaints
    }
    for item in of("auto_reply", split):
        assert seen[item.path].kind == "auto_reply", item.path


def test_the_fresh_set_is_new_to_the_corpus():
    """Nothing in fresh-a/fresh-b is a copy of a message the rules were written or checked on."""
    fresh = [i for i in CORPUS if i.split.startswith("fresh-")]
    older = [i for i in CORPUS if not i.split.startswith("fresh-")]
    assert len(fresh) >= 100

    def body(item: CorpusMessage) -> bytes:
        return item.raw.replace(b"\r\n", b"\n").strip()

    assert {body(i) for i in fresh}.isdisjoint({body(i) for i in older})


def test_hard_or_soft_agrees_with_what_the_source_says(seen):
    graded = [i for i in of("bounce") if i.severity]
    agree = [i for i in graded if seen[i.path].kind == f"bounce_{i.severity}"]
    assert len(graded) >= 250
    # The few left are queue expiries: a 4.x.x status (soft by RFC 3463) that Mailman's table
    # calls permanent because the message was given up.
    assert len(agree) / len(graded) >= 0.98


def test_soft_bounces_are_soft_ones():
    soft = [i for i in of("bounce") if i.severity == "soft"]
    assert len(soft) >= 10
    kinds = {i.path: kind(i).kind for i in soft}
    assert sum(k == "bounce_soft" for k in kinds.values()) >= len(soft) - 1, kinds


def test_the_failed_recipient_agrees_with_mailmans_detectors(seen):
    checked, agree = 0, 0
    for item in of("bounce"):
        verdict = ask_mailman(message_from_bytes(item.raw, policy=policy.compat32))
        if not verdict.found:
            continue
        checked += 1
        agree += seen[item.path].recipient in verdict.permanent | verdict.temporary
    assert checked >= 250
    assert agree / checked >= 0.97


def test_bounces_say_why_with_the_servers_own_words(seen):
    dsn = seen["sisimai/email-sendmail-01.eml"]
    assert dsn.kind == "bounce_hard"
    assert dsn.status_code == "5.1.1"
    assert dsn.recipient == "userunknown@bouncehammer.jp"
    assert "User Unknown" in dsn.detail
    qmail = seen["sisimai/email-qmail-01.eml"]  # no DSN: the qmail transcript says it all
    assert qmail.kind == "bounce_hard"
    assert qmail.recipient == "kijitora@example.ne.jp"
    assert qmail.status_code.startswith("5")
    delayed = seen["sisimai/email-google-09.eml"]  # Gmail "Delivery ... has been delayed"
    assert delayed.kind == "bounce_soft"
    assert delayed.recipient == "kijitora@9jo.example.jp"


@pytest.mark.parametrize(
    "path",
    [
        "flufl_bounce/bounce_01.eml",  # From: "Jetmail System" <>
        "flufl_bounce/simple_24.eml",  # From: Postmaster <>
        "bounceparser/warning-5.eml",  # From: <>
        "sisimai/email-ezweb-03.eml",  # Japanese carrier, multipart/mixed, no report type
        "sisimai/email-domino-01.eml",  # plain text, no DSN at all
        "sisimai/email-apachejames-01.eml",  # "Re:" subject, a reply's In-Reply-To
    ],
)
def test_families_without_a_delivery_status_report_are_bounces(path, seen):
    assert seen[path].kind in BOUNCES


def test_bounces_hand_back_our_original_message_id(seen):
    quoted = {
        # message/rfc822 part
        "sisimai/email-gsuite-01.eml": "00222222-2222-2222-2222-FF00FFFF0000@example.jp",
        # the copy an Exim bounce appends to its text
        "sisimai/email-exim-02.eml": "E1X58pB-0004bW-2s@marutamachi.example.org",
        # GMX/1&1 "The header of the original message is following"
        "sisimai/email-einsundeins-02.eml": "eeeeeeee.neko.000000000nyaaan-00@smtp.example.jp",
    }
    for path, message_id in quoted.items():
        assert message_id in seen[path].original_message_ids, path


def test_every_arf_complaint_becomes_a_complaint_with_its_feedback_type(seen):
    complaints = of("complaint")
    assert len(complaints) >= 4
    for item in complaints:
        found = seen[item.path]
        assert found.kind == "complaint", item.path
        assert found.feedback_type == "abuse"
    hotmail = seen["sisimai/arf-13.eml"]  # JMRP notice, not ARF: the complainant is named
    assert hotmail.recipient == "recipient@hotmail.com"
    abusix = seen["sisimai/arf-05.eml"]  # ARF Original-Rcpt-To
    assert abusix.recipient == "fake.rcpt@example.com"


def test_a_dmarc_failure_report_is_not_a_complaint(seen):
    report = seen["sisimai/arf-07.eml"]
    assert report.kind == "report"
    assert report.feedback_type == "auth-failure"


def test_auto_replies_stay_auto_replies(seen):
    for item in of("auto_reply"):
        assert seen[item.path].kind == "auto_reply", item.path
    for item in of("challenge"):  # challenge-response: never a reply, never a hard bounce
        assert seen[item.path].kind in ("auto_reply", "bounce_soft"), item.path


def test_people_stay_people(seen):
    people = of("reply") + of("not_bounce")
    assert len(people) >= 50
    wrong = [(i.path, seen[i.path].kind) for i in people if seen[i.path].kind in BOUNCES]
    assert wrong == []
    assert [i.path for i in of("reply") if seen[i.path].kind != "reply"] == []


def test_the_raw_rfc822_path_reads_every_message_as_the_gmail_path_does(seen):
    differ = defaultdict(list)
    for item in CORPUS:
        raw_kind = kind(item, as_imap)
        if raw_kind.kind != seen[item.path].kind:
            differ[item.path].append((seen[item.path].kind, raw_kind.kind))
    assert dict(differ) == {}


def test_the_classifier_takes_raw_bytes_too():
    raw = (CORPUS_DIR / "sisimai/email-exim-30.eml").read_bytes()
    found = classify(raw, own_addresses=[OWN_ADDRESS], now=ARRIVED)
    assert found.kind == "bounce_hard"
    assert found.recipient == "kijitora@exmaple.ch"
    assert re.match(r"5\.7\.1", found.status_code)
