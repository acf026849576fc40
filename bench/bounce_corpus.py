"""Bounce and complaint recognition on the real-message corpus (tests/fixtures/mail/),
side by side with Mailman's flufl.bounce on the same messages.

    .venv/bin/python bench/bounce_corpus.py [--split train|heldout|fresh-a|fresh-b] [--show-misses]

Each message goes through the Gmail ``format=full`` conversion the hub uses, then
``hub.mail.classify.classify``. flufl.bounce reads the raw message (its own way in); a message
counts as recognised by it when it names at least one failed address. Figures: recognition per
family, hard/soft agreement with the source's own label (Mailman's table, or the message's
RFC 3464 Status/Action), bounces taken for a human reply, complaints, negatives, crashes.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from dataclasses import replace
from email import message_from_bytes, policy
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Row, machine_note, run_as_script

from hub.mail.bounces.mailman import ask_mailman
from hub.mail.classify import classify
from tests.mail_corpus import ARRIVED, OWN_ADDRESS, as_gmail, load_corpus

BENCH = "bounce corpus"
BOUNCE_KINDS = ("bounce_hard", "bounce_soft")
# fresh-a / fresh-b: messages gathered after the rules were written, split by SHA-1 of the path
# and measured blind (tests/fixtures/mail/SOURCES.md, "The unseen fresh set").
SPLITS = ("train", "heldout", "fresh-a", "fresh-b")


def _ours(raw: bytes, *, with_mailman: bool = True) -> tuple[str, str, bool]:
    """(kind, recipient, crashed). Without Mailman: the hub's own rules alone (no MIME tree,
    so flufl.bounce has nothing to read)."""
    try:
        message = as_gmail(raw)
        if not with_mailman:
            message = replace(message, mime=None)
        found = classify(message, own_addresses=[OWN_ADDRESS], now=ARRIVED)
    except Exception:  # a crash is one of the figures
        return "", "", True
    return found.kind, found.recipient, False


def _mailman(raw: bytes) -> tuple[str, frozenset[str], bool]:
    verdict = ask_mailman(message_from_bytes(raw, policy=policy.compat32))
    found = verdict.permanent | verdict.temporary
    if verdict.permanent:
        return "bounce_hard", found, verdict.crashed
    if verdict.temporary:
        return "bounce_soft", found, verdict.crashed
    return "", found, verdict.crashed


def negative_kept(expected: str, kind: str) -> bool:
    """A message that is no bounce and no complaint kept its meaning. A challenge-response
    ("verify you are human") may read as an auto-reply or, when sent as a DSN with a 4.x.x
    status (Boxbe), as a soft bounce: neither ends the conversation or counts as a reply."""
    if expected == "not_bounce":
        return kind not in (*BOUNCE_KINDS, "complaint")
    if expected == "challenge":
        return kind in ("auto_reply", "bounce_soft")
    return kind == expected


def _pct(part: int, whole: int) -> str:
    return f"{part / whole:.1%} ({part}/{whole})" if whole else "n/a"


def main(argv: list[str] | None = None) -> list[Row]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=SPLITS, default=None)
    parser.add_argument("--show-misses", action="store_true")
    args = parser.parse_args(argv)
    corpus = load_corpus(args.split)
    print(f"{len(corpus)} messages ({args.split or 'all'}); {machine_note()}")

    by_family: dict[str, Counter] = defaultdict(Counter)
    by_split: dict[str, Counter] = defaultdict(Counter)
    totals: Counter = Counter()
    misses: list[str] = []
    for item in corpus:
        raw = item.raw
        ours, recipient, our_crash = _ours(raw)
        alone, _, _ = _ours(raw, with_mailman=False)
        theirs, their_addresses, their_crash = _mailman(raw)
        totals["crash_ours"] += our_crash
        totals["crash_mailman"] += their_crash
        split = by_split[item.split]
        if item.expected == "bounce":
            split["bounces"] += 1
            split["ours"] += ours in BOUNCE_KINDS
            split["mailman"] += theirs in BOUNCE_KINDS
            split["as_reply"] += ours in ("reply", "unsubscribe")
        elif item.expected == "complaint":
            split["complaints"] += 1
            split["complaint_ours"] += ours == "complaint"
        else:
            split["negatives"] += 1
            split["negative_ok"] += bool(negative_kept(item.expected, ours))
        if item.expected == "bounce":
            family = by_family[item.family]
            family["n"] += 1
            family["ours"] += ours in BOUNCE_KINDS
            family["mailman"] += theirs in BOUNCE_KINDS
            totals["bounces"] += 1
            totals["ours"] += ours in BOUNCE_KINDS
            totals["mailman"] += theirs in BOUNCE_KINDS
            totals["alone"] += alone in BOUNCE_KINDS
            totals["combined"] += ours in BOUNCE_KINDS or theirs in BOUNCE_KINDS
            if their_addresses:
                totals["named"] += 1
                totals["same_recipient"] += recipient in their_addresses
            totals["as_reply"] += ours in ("reply", "unsubscribe")
            if item.severity:
                want = "bounce_hard" if item.severity == "hard" else "bounce_soft"
                totals["graded"] += 1
                totals["grade_ours"] += ours == want
                totals["grade_mailman"] += theirs == want
            if ours not in BOUNCE_KINDS:
                misses.append(f"  missed bounce  {item.path} -> {ours or 'crash'}")
            elif item.severity and ours != want:
                misses.append(
                    f"  hard/soft      {item.path} -> {ours}, source says {item.severity}"
                )
        elif item.expected == "complaint":
            totals["complaints"] += 1
            totals["complaint_ours"] += ours == "complaint"
            if ours != "complaint":
                misses.append(f"  complaint      {item.path} -> {ours}")
        else:
            expected = negative_kept(item.expected, ours)
            totals["negatives"] += 1
            totals["negative_ok"] += bool(expected)
            totals["negative_mailman_bounce"] += theirs in BOUNCE_KINDS
            if not expected:
                misses.append(f"  negative       {item.path} ({item.expected}) -> {ours}")

    print(f"\n{'family':16} {'n':>4} {'hub':>8} {'flufl.bounce':>13}")
    for name in sorted(by_family, key=lambda f: -by_family[f]["n"]):
        f = by_family[name]
        print(f"{name:16} {f['n']:>4} {f['ours'] / f['n']:>8.1%} {f['mailman'] / f['n']:>13.1%}")
    print(
        f"\n{'split':8} {'bounces hub':>16} {'flufl.bounce':>16} {'as reply':>9} "
        f"{'complaints':>11} {'negatives kept':>15}"
    )
    for name in sorted(by_split):
        s = by_split[name]
        print(
            f"{name:8} {_pct(s['ours'], s['bounces']):>16} {_pct(s['mailman'], s['bounces']):>16} "
            f"{s['as_reply']:>9} {_pct(s['complaint_ours'], s['complaints']):>11} "
            f"{_pct(s['negative_ok'], s['negatives']):>15}"
        )
    if args.show_misses and misses:
        print("\n" + "\n".join(misses))
    n = totals["bounces"]
    recognised = totals["ours"] / n if n else 0.0
    print(
        f"\nbounces recognised: hub {_pct(totals['ours'], n)} (its rules alone "
        f"{_pct(totals['alone'], n)}), flufl.bounce {_pct(totals['mailman'], n)}, either "
        f"{_pct(totals['combined'], n)}"
    )
    print(
        f"failed recipient: the hub names one of flufl.bounce's addresses in "
        f"{_pct(totals['same_recipient'], totals['named'])} of the bounces where it names any"
    )
    print(
        f"hard/soft agreement with the source's label: hub "
        f"{_pct(totals['grade_ours'], totals['graded'])}, flufl.bounce "
        f"{_pct(totals['grade_mailman'], totals['graded'])}"
    )
    print(
        f"bounces taken for a human reply: {totals['as_reply']}; complaints recognised: "
        f"{_pct(totals['complaint_ours'], totals['complaints'])}; negatives kept: "
        f"{_pct(totals['negative_ok'], totals['negatives'])} (flufl.bounce calls "
        f"{totals['negative_mailman_bounce']} of them bounces)"
    )
    print(f"crashes: hub {totals['crash_ours']}, flufl.bounce {totals['crash_mailman']}")
    print(
        f"hub / flufl.bounce recognition: {recognised:.1%} vs "
        f"{totals['mailman'] / n if n else 0:.1%}   (goal >= 99%, no bounce as a reply)"
    )
    ok = recognised >= 0.99 and totals["as_reply"] == 0
    return [
        Row(BENCH, "bounces recognised (hub)", _pct(totals["ours"], n), ">= 99%", ok),
        Row(BENCH, "bounces recognised (hub rules alone)", _pct(totals["alone"], n)),
        Row(BENCH, "bounces recognised (flufl.bounce)", _pct(totals["mailman"], n)),
        Row(BENCH, "failed recipient = one flufl.bounce names",
            _pct(totals["same_recipient"], totals["named"])),
        Row(BENCH, "hard/soft agreement (hub)",
            _pct(totals["grade_ours"], totals["graded"])),
        Row(BENCH, "hard/soft agreement (flufl.bounce)",
            _pct(totals["grade_mailman"], totals["graded"])),
        Row(BENCH, "bounces taken for a reply", str(totals["as_reply"]), "0",
            totals["as_reply"] == 0),
        Row(BENCH, "complaints recognised", _pct(totals["complaint_ours"], totals["complaints"]),
            "100%", totals["complaint_ours"] == totals["complaints"]),
        Row(BENCH, "negatives kept (auto-replies, replies)",
            _pct(totals["negative_ok"], totals["negatives"]), "100%",
            totals["negative_ok"] == totals["negatives"]),
        Row(BENCH, "crashes hub / flufl.bounce",
            f"{totals['crash_ours']} / {totals['crash_mailman']}", "0 (hub)",
            totals["crash_ours"] == 0),
    ]  # fmt: skip


if __name__ == "__main__":
    run_as_script(main)
