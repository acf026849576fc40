"""What a bounce tells: hard or soft, which recipient failed, and why.

Hard or soft follows the strongest evidence present (the issue's order): the RFC 3463 status of
the DSN (``Status: 5.1.1``; ``Action: failed``/``delayed`` when the status is missing), then an
RFC 3463 code or an SMTP reply code (``5xx``/``4xx``) quoted in the report, then Mailman's
permanent/temporary split, then the wording. A failure notice that says nothing more is hard:
it reports a message that was not delivered and will not be retried.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from email.utils import getaddresses

from hub.mail.base import MailboxMessage
from hub.mail.bounces import dsn, transcripts
from hub.mail.bounces.detect import DAEMON_LOCAL_PARTS
from hub.mail.bounces.mailman import MailmanVerdict

DETAIL_CHARS = 300
_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
# Where bounces name the recipient that failed (qmail/Postfix "<a@b>:", Gmail's indented
# address under "failed permanently:", Exim's under "address(es) failed:", "RCPT TO:<a@b>").
_NAMED_RECIPIENT = re.compile(
    r"^[ \t]*<([^\s<>]+@[^\s<>]+)>:?[ \t]*$|^[ \t]*<([^\s<>]+@[^\s<>]+)>:|"
    r"RCPT TO:[ \t]*<([^\s<>]+@[^\s<>]+)>|"
    r"(?:recipients?|address(?:\(es\))?)[^\n]{0,40}(?:failed|delayed)[^\n]*:\s*\n\s*"
    r"<?([^\s<>]+@[^\s<>]+?)>?\s*$",
    re.I | re.M,
)
# Wording, strongest first: (pattern, permanent?).
_WORDING = (
    (re.compile(r"permanent (?:fatal )?(?:error|failure)|failed permanently|will not be "
                r"retried|given up|gave up", re.I), True),
    (transcripts.TEMPORARY_WORDS, False),
    (transcripts.PERMANENT_WORDS, True),
)  # fmt: skip


@dataclass(frozen=True)
class BounceFacts:
    permanent: bool
    status_code: str = ""  # RFC 3463 (5.1.1) or, failing that, the SMTP reply code (550)
    detail: str = ""
    recipient: str = ""
    evidence: str = ""  # dsn, code, mailman, wording or default: what decided hard/soft


def _severity(
    blocks: list[dsn.RecipientStatus], report: str, mailman: MailmanVerdict
) -> tuple[bool, str, str]:
    statuses = [b.status for b in blocks if b.status]
    if statuses:
        permanent = any(s.startswith("5") for s in statuses)
        wanted = "5" if permanent else "4"
        # "5.0.0" says only "failed": a more specific code of the same class reads better.
        specific = [c for b in blocks for c in transcripts.enhanced_codes(b.diagnostic)]
        code = next((c for c in statuses + specific if c[0] == wanted and c[2:] != "0.0"), "")
        return permanent, code or next(s for s in statuses if s[0] == wanted), "dsn"
    actions = {b.action for b in blocks}
    if "failed" in actions or "delayed" in actions:
        return "failed" in actions, "", "dsn"
    for codes in (transcripts.enhanced_codes(report), transcripts.reply_codes(report)):
        if codes:
            return codes[0].startswith("5"), codes[0], "code"
    if mailman.found:
        return bool(mailman.permanent), "", "mailman"
    for pattern, permanent in _WORDING:
        if pattern.search(report):
            return permanent, "", "wording"
    return True, "", "default"


def _not_recipients(message: MailboxMessage, own_addresses: Iterable[str]) -> set[str]:
    values = [message.headers.get(h, "") for h in ("from", "to", "reply-to", "sender")]
    skip = {a.lower() for _, a in getaddresses([v for v in values if v]) if a}
    return skip | {a.strip().lower() for a in own_addresses if a}


def _usable(address: str, skip: set[str]) -> bool:
    address = address.strip().strip(".").lower()
    return (
        bool(address)
        and address not in skip
        and (address.split("@", 1)[0] not in DAEMON_LOCAL_PARTS)
    )


def _recipient(
    message: MailboxMessage,
    blocks: list[dsn.RecipientStatus],
    report: str,
    mailman: MailmanVerdict,
    skip: set[str],
) -> str:
    candidates = [b.recipient for b in blocks]
    failed_header = message.headers.get("x-failed-recipients", "")
    candidates += [a for _, a in getaddresses([failed_header]) if a]
    candidates += sorted(mailman.permanent) + sorted(mailman.temporary)
    for match in _NAMED_RECIPIENT.finditer(report):
        candidates += [g for g in match.groups() if g]
    candidates += _ADDRESS.findall(report)
    for candidate in candidates:
        if "@" in candidate and _usable(candidate, skip):
            return candidate.strip().strip(".").lower()
    return ""


def _detail(blocks: list[dsn.RecipientStatus], report: str) -> str:
    diagnostic = next((b.diagnostic for b in blocks if b.diagnostic), "")
    text = diagnostic or transcripts.diagnostic_line(report) or report
    return " ".join(text.split())[:DETAIL_CHARS]


def analyse(
    message: MailboxMessage,
    *,
    own_addresses: Iterable[str] = (),
    mailman: MailmanVerdict | None = None,
) -> BounceFacts:
    text = message.body_text or message.snippet
    report = transcripts.report_text(text)
    blocks = dsn.failures(text)
    verdict = mailman or MailmanVerdict()
    permanent, code, evidence = _severity(blocks, report, verdict)
    skip = _not_recipients(message, own_addresses)
    return BounceFacts(
        permanent=permanent,
        status_code=code,
        detail=_detail(blocks, report),
        recipient=_recipient(message, blocks, report, verdict, skip),
        evidence=evidence,
    )
