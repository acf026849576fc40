"""Is this message a bounce? Decided on what the report is, not on any one MTA's layout.

Any one strong sign is enough: a sender that is a mail system (``MAILER-DAEMON``, ``postmaster``,
also as a display name over an empty address, ``From: MAILER-DAEMON <>``), RFC 3464 structure
(``multipart/report; report-type=delivery-status``, or delivery-status fields without the report
type), ``X-Failed-Recipients`` (Exim, Gmail), Exchange's ``X-MS-Exchange-Message-Is-Ndr``, or a subject that mail systems use, in several
languages. Weaker signs (an empty Return-Path, a quoted SMTP transcript, the words of a failure
notice, RFC 3834 ``Auto-Submitted``) count only two together, so a person who writes "your last
mail could not be delivered" stays a person.
"""

from __future__ import annotations

import re
from email.header import decode_header, make_header
from email.utils import parseaddr

from hub.mail.base import MailboxMessage
from hub.mail.bounces import dsn, transcripts
from hub.mail.bounces.mailman import MailmanVerdict

DAEMON_LOCAL_PARTS = frozenset(
    {"mailer-daemon", "mailer_daemon", "mailerdaemon", "mail-daemon", "maildaemon",
     "postmaster", "post_master", "mail.daemon", "mdaemon"}
)  # fmt: skip
_DAEMON_NAME = re.compile(
    r"mailer[-_ ]?daemon|\bpostmaster\b|mail delivery (?:sub)?system|mail administrator|"
    r"mail delivery service|delivery status notification|delivery subsystem|"
    r"^\s*system administrator\s*$|mail transport system|internet mail delivery",
    re.I,
)
BOUNCE_SUBJECTS = re.compile(
    "|".join(
        (
            r"undeliver|undelivered mail|delivery status notification|mail delivery failed|"
            r"delivery fail|returned mail|failure notice|mail system error|non-?deliver|"
            r"message not delivered|could not be delivered|couldn't be delivered|"
            r"not delivered|delivery (?:has )?failed|delivery problem|delivery notification|"
            r"delivery report|warning: could not send|delayed mail|delivery delayed|"
            r"mail could not|bounced? mail|\bndn\b|returned to sender|rejected:|"
            r"message delivery failure|nondeliverable|mail delivery status|failed delivery|"
            r"delivery warning|delivery (?:status )?notification|"
            r"(?:message|mail|e-?mail) (?:was )?(?:rejected|blocked|refused)",
            r"unzustellbar|nicht zustellbar|zustellung fehlgeschlagen|fehlgeschlagene "
            r"zustellung|rückläufer|non remis|échec de (?:la )?remise|impossible de remettre|"
            r"notification d'état de (?:la )?remise|no se puede entregar|no entregado|"
            r"devolución de correo|error de entrega|notificación de estado de (?:la )?entrega|"
            r"impossibile recapitare|mancato recapito|non recapitabile|notifica (?:sullo )?stato "
            r"di consegna|não entregue|falha na entrega|não foi possível entregar|"
            r"notificação de status de entrega|onbestelbaar|niet bezorgd|kan niet worden "
            r"bezorgd|niedostarczalna|nie można dostarczyć|kan inte levereras|olevererbart|"
            r"kunne ikke leveres|ikke leveret|toimittamaton|teslim edilemedi|nedoručiteln|"
            r"kézbesíthetetlen|недоставленное|не доставлено|не удалось доставить|"
            r"配信不能|送信エラー|配送エラー|未達|退信|投递失败|无法投递|系統退信|無法投遞",
        )
    ),
    re.I,
)


def decoded(value: str) -> str:
    """A header value with RFC 2047 words decoded (``=?iso-2022-jp?B?...?=``)."""
    try:
        return str(make_header(decode_header(value or "")))
    except (LookupError, UnicodeDecodeError, ValueError, TypeError):
        return value or ""


_NULL_ADDRESS = re.compile(r"<\s*>")
_LOCAL_PART = re.compile(r"[a-z0-9._-]+")


def from_mail_system(message: MailboxMessage) -> bool:
    header = message.headers.get("from", "")
    # "MAILER-DAEMON <>", "Jetmail System <>": a display name over the null address that only
    # mail systems use (RFC 5321 §4.5.5); parseaddr reads it as no address at all.
    if _NULL_ADDRESS.search(header):
        return True
    name, address = parseaddr(header)
    local = _LOCAL_PART.match(address.split("@", 1)[0].strip().lower())
    if local and local.group(0) in DAEMON_LOCAL_PARTS:  # also "Postmaster\@x@y" mangled ones
        return True
    # On-premises Exchange sends its NDRs as MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@.
    if local and local.group(0).startswith("microsoftexchange"):
        return True
    return bool(_DAEMON_NAME.search(decoded(name) or ("" if address else header)))


def has_delivery_status(message: MailboxMessage) -> bool:
    content_type = message.headers.get("content-type", "").lower()
    if message.content_type.lower() == "multipart/report" and (
        "delivery-status" in content_type or "report-type" not in content_type
    ):
        return True
    # message/delivery-status inside multipart/mixed, or its fields pasted as text.
    return bool(dsn.failures(message.body_text))


_REPLY_PREFIX = re.compile(r"^\s*(?:re|aw|sv|vs|antw|odp|rif|r|fw|fwd|wg|tr)\s*:", re.I)


def has_bounce_subject(message: MailboxMessage) -> bool:
    subject = decoded(message.headers.get("subject", ""))
    # "Re: order not delivered" is a person answering; mail systems do not prefix "Re:".
    return not _REPLY_PREFIX.match(subject) and bool(BOUNCE_SUBJECTS.search(subject))


def weak_signs(message: MailboxMessage) -> int:
    report = transcripts.report_text(message.body_text or message.snippet)
    headers = message.headers
    # RFC 5321 §4.5.5: a bounce goes out with an empty envelope sender (Return-Path: <>), but
    # so should an RFC 3834 auto-reply: a weak sign only. An absent header is not "<>".
    null_sender = "return-path" in headers and headers["return-path"].strip() in ("<>", "")
    return sum(
        (
            null_sender,
            transcripts.quotes_transcript(report),
            transcripts.says_failure(report),
            headers.get("auto-submitted", "no").strip().lower() not in ("", "no"),
        )
    )


def is_bounce(message: MailboxMessage, *, mailman: MailmanVerdict | None = None) -> bool:
    if from_mail_system(message) or has_delivery_status(message):
        return True
    if message.headers.get("x-failed-recipients", "").strip():
        return True
    if "x-ms-exchange-message-is-ndr" in message.headers:  # Exchange / Office 365 NDRs
        return True
    if has_bounce_subject(message):
        return True
    if weak_signs(message) >= 2:
        return True
    # Mailman's detectors name a failed address in a layout we have no rule for: trust them
    # when the report also quotes a server or speaks of a failure.
    if mailman is not None and mailman.found:
        report = transcripts.report_text(message.body_text or message.snippet)
        return transcripts.quotes_transcript(report) or transcripts.says_failure(report)
    return False
