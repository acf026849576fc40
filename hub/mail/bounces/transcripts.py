"""What a bounce says in words: the SMTP dialogue it quotes (``<<< 550 5.1.1 ...``,
``host mx.example said: 550 ...``), RFC 3463 and SMTP reply codes, and the sentences mail
servers use, in several languages. Only the report's own text is read: the copy of our original
message that many servers append is cut off first, since its words are ours."""

from __future__ import annotations

import re

# Where a bounce starts quoting the message we sent (Exim, qmail, Gmail, Sendmail, GMX, ...).
_ORIGINAL_STARTS = re.compile(
    r"^[ \t>]*(?:-{2,}[^\n]*(?:copy of the message|original message|message headers|"
    r"returned message|unsent message|undelivered message|header of the original|"
    r"message text follows|forwarded message)[^\n]*|"
    r"(?:-{2,}\s*)?below this line is a copy of the message\.?|original message follows\.?|"
    r"-{2,}\s*the header of the original message is following\.?\s*-*)$",
    re.I | re.M,
)
_ENHANCED = re.compile(r"(?<![\d.])([45])\.(\d{1,3})\.(\d{1,3})(?![\d.]*\d)")
# An SMTP reply code where a server's answer is quoted: at a line start, after "<<<",
# "said:", "reason:", "smtp;", "error" or "host ... [ip]:".
_REPLY_CODE = re.compile(
    r"(?:^[ \t]*|<<<[ \t]*|said:[ \t]*|reason:[ \t]*|smtp;[ \t]*|error:?[ \t]+|\]:[ \t]*|"
    r"\([ \t]*|returned[ \t]*'|[ \t]#)([45][0-5]\d)(?=[ \t\-]|$)",
    re.I | re.M,
)
_TRANSCRIPT = re.compile(
    r"^[ \t]*<<<[ \t]*[245]\d\d|^[ \t]*>>>[ \t]*(?:RCPT|MAIL|DATA)|\bsaid:[ \t]*[45]\d\d|"
    r"\bhost[ \t]+\S+[ \t]+\[[\d.:a-f]+\]|\bremote host said\b|SMTP error from remote|"
    r"\b[45][0-5]\d[ \t-]+#?[45]\.\d{1,3}\.\d{1,3}\b|\(#[45]\.\d\.\d\)|"
    r"^[ \t]*Diagnostic-Code:|in reply to (?:RCPT|MAIL|DATA|end of DATA)|RESOLVER\.[A-Z]{2,}|"
    r"#[45]\.\d{1,3}\.\d{1,3}\b|(?<![\w.])[45]\.\d{1,3}\.\d{1,3}[ \t]+[A-Za-z<]",
    re.I | re.M,
)
FAILURE_WORDS = re.compile(
    "|".join(
        (
            # English
            r"could ?n[o']t be delivered|cannot be delivered|can't be delivered|"
            r"(?:was|were|has|have) not (?:been )?delivered|not be delivered|undeliverable|"
            r"undelivered|delivery (?:has |to the following recipients? )?failed|"
            r"delivery to the following recipients?|failed permanently|permanent (?:fatal )?"
            r"error|permanent failure|unable to deliver|could not deliver|delivery failure|"
            r"returned mail|returning message to sender|non-?delivery|user unknown|"
            r"unknown user|no such (?:user|mailbox|recipient)|mailbox (?:is )?unavailable|"
            r"mailbox not found|recipient address rejected|does ?n[o']t exist|invalid "
            r"recipient|(?:has been|was) delayed|will be retried|wasn't able to deliver|"
            r"this is the mail system at host|had permanent fatal errors|transcript of "
            r"session follows|did not reach|mailbox (?:is )?full|over quota|quota exceeded|"
            r"message rejected|rejected your message|delivery status notification|"
            # Exchange / Outlook, Lotus Notes, Yahoo, spam filters
            r"did not reach (?:some or all of )?the (?:intended|following) recipients?|"
            r"could not be reached|couldn't be found|delivery has failed to these|"
            r"(?:was|has been|were) (?:rejected|blocked|refused)|(?:message|mail|e-?mail) "
            r"(?:was )?(?:rejected|blocked|refused)|rejected (?:as|because|due to|for)|"
            r"refused to accept|(?:detected|classified|identified) as spam|"
            r"still undelivered|not listed in|unable to relay",
            # German, French, Spanish, Italian, Portuguese, Dutch, Polish
            r"nicht zugestellt|unzustellbar|zustellung fehlgeschlagen|empfänger unbekannt|"
            r"pas pu être (?:remis|distribué)|non remis|impossible de remettre|"
            r"adresse inconnue|échec de (?:la )?(?:remise|distribution)|"
            r"no (?:se )?(?:pudo|puede) (?:ser )?entregar|usuario desconocido|"
            r"impossibile recapitare|non è stato possibile recapitare|utente sconosciuto|"
            r"não foi possível entregar|não pôde ser entregue|usuário desconhecido|"
            r"niet (?:worden )?(?:bezorgd|afgeleverd)|onbestelbaar|"
            r"nie (?:może|można) (?:zostać )?dostarcz|niedostarczon",
            # Russian, Japanese, Chinese
            r"не может быть доставлено|не доставлено|не удалось доставить|"
            r"送信できませんでした|配信できませんでした|届きませんでした|宛先不明|"
            r"无法投递|投递失败|無法投遞|退信",
        )
    ),
    re.I,
)
TEMPORARY_WORDS = re.compile(
    r"\bdelayed\b|will be retried|will (?:continue to )?(?:retry|try)|still trying|"
    r"temporar(?:y|ily)|try again later|warning message only|not yet been delivered|"
    r"\bdeferred\b|\bpostponed\b|still undelivered|keep trying|mailbox (?:is )?full|over quota|quota exceeded|exceeded (?:the |its )?"
    r"(?:storage|quota)|insufficient (?:system )?storage|verzögert|retardé|retrasad",
    re.I,
)
PERMANENT_WORDS = re.compile(
    r"user unknown|unknown user|no such (?:user|mailbox|recipient|address)|does ?n[o']t exist|"
    r"invalid (?:recipient|address|mailbox)|address not found|unknown address|"
    r"account (?:is |has been )?(?:disabled|deactivated|closed|suspended)|"
    r"mailbox (?:is )?(?:unavailable|not found|disabled)|recipient address rejected|"
    r"not listed in|failed permanently|permanent (?:fatal )?(?:error|failure)|"
    r"host unknown|domain not found|unrouteable|no mailbox|user not found|"
    r"relay(?:ing)? (?:access )?denied|access denied|not permitted|blocked|blacklist|"
    r"rejected|spam|empfänger unbekannt|adresse inconnue|usuario desconocido|"
    r"utente sconosciuto|usuário desconhecido|宛先不明|見つかりませんでした",
    re.I,
)


def report_text(text: str) -> str:
    """The bounce's own words: everything before the copy of our original message."""
    found = _ORIGINAL_STARTS.search(text or "")
    return text[: found.start()] if found else (text or "")


def enhanced_codes(text: str) -> list[str]:
    return [".".join(m) for m in _ENHANCED.findall(text or "")]


def reply_codes(text: str) -> list[str]:
    return _REPLY_CODE.findall(text or "")


def quotes_transcript(text: str) -> bool:
    return bool(_TRANSCRIPT.search(text or ""))


def says_failure(text: str) -> bool:
    return bool(FAILURE_WORDS.search(text or ""))


def diagnostic_line(text: str) -> str:
    """The first line quoting a server's answer (the SMTP reply with its code), if any."""
    for line in (text or "").splitlines():
        if _REPLY_CODE.search(line) or _ENHANCED.search(line):
            cleaned = " ".join(line.replace("<<<", " ").split())
            if len(cleaned) > 6:
                return cleaned
    return ""
