"""The one place secrets are taken out of what the hub prints, logs, stores or answers.

    redact_url("postgresql://hub:Db/Pw#55?21@db:5432/hub")  # 'postgresql://hub:**********@db:5432/hub'
    redact("GET https://x.test/?api_key=abc failed", secrets)  # every URL, key=value, known secret

:func:`redact_url` takes one whole URL or DSN (a setting's value); :func:`redact` takes free
text (an error message, a traceback, a log line) and redacts every URL in it, every
``key=value`` that looks secret, every bearer token and every secret the process knows
(:func:`known_secrets`). Neither ever raises: a password may hold ``@ / # ?``, spaces or an
unmatched ``[``, and Python's ``urlsplit`` raises on some of those (``Invalid IPv6 URL``) and
splits others at the wrong place, which printed parts of passwords. So userinfo is found here by
the *last* ``@`` of the URL, and a value that cannot be taken apart is masked whole. When a URL
has both a password and an ``@`` later on (in a query), more than the password is masked: that
is the safe side.

:class:`RedactingFilter` runs :func:`redact` on every record a logging handler emits (message,
arguments, traceback); :class:`AccessLogFilter` masks capability tokens in request paths
(``/webhooks/make/<token>``, DataForSEO callbacks, unsubscribe links) and secret query values
(``key=``, ``api_key=``, ``token=``) in uvicorn's access log, cheaply: it runs once a request.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote

MASK = "**********"
# Shorter values are not looked for in free text: they would mask ordinary words. Keys that
# short are refused at start-up anyway (hub.config.weak_key_problems).
MIN_SECRET_CHARS = 6

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")
# A URL inside free text: up to whitespace or a quote/bracket that closes a quotation.
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>`]+")
# Query (or form) parameters whose value is a credential.
_SECRET_PARAM = re.compile(
    r"(?i)([?&;](?:[\w.\-]*(?:key|token|secret|password|passwd|pwd|signature|credential)"
    r"|sig|code|auth)=)[^&;#\s]*"
)
# key=value / key: value pairs in free text that look secret, and Authorization schemes.
_SECRETISH = re.compile(
    r"(?i)\b([\w\-]*(?:api[_-]?key|access_token|refresh_token|client_secret|token|secret|"
    r"password|passwd|signature|authorization)|key)(\s*[=:]\s*)"
    r"(?!\*{10}|(?:bearer|basic)\s)('[^']*'|\"[^\"]*\"|[^\s&\"',;)]+)"
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+(?!\*{10})[^\s,;\"')]+")
_CONNINFO_PASSWORD = re.compile(r"(?i)(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)")


def redact_url(url: object) -> str:
    """``url`` (a URL or a PostgreSQL DSN, whole) with its password and secret query values
    masked; masked whole when it cannot be taken apart."""
    try:
        return _redact_url(str(url))
    except Exception:  # never the reason a message fails to print
        return MASK


def _redact_url(text: str) -> str:
    scheme = _SCHEME.match(text)
    if scheme is None:
        return _redact_conninfo(text)
    head, rest = text[: scheme.end()], text[scheme.end() :]
    at = rest.rfind("@")
    if at >= 0 and _has_userinfo(rest, at):
        user, colon, _ = rest[:at].partition(":")
        userinfo = f"{user}:{MASK}" if colon else rest[:at]
        rest = rest[at + 1 :]
    else:
        userinfo = None
    if _malformed_host(rest):
        return f"{head}{MASK}"
    rest = _SECRET_PARAM.sub(lambda m: m.group(1) + MASK, rest)
    return head + (f"{userinfo}@" if userinfo is not None else "") + rest


def _has_userinfo(rest: str, at: int) -> bool:
    """Whether the ``@`` at ``at`` ends a userinfo: the standard authority (up to the first
    ``/ ? #``) holds an ``@``, or what comes before it holds a ``:`` (a password, possibly with
    ``/ ? #`` in it, which the standard parse would cut)."""
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    return "@" in authority or ":" in rest[:at]


def _malformed_host(rest: str) -> bool:
    host = re.split(r"[/?#]", rest, maxsplit=1)[0]
    return host.count("[") != host.count("]") or any(c in host for c in " \t\r\n")


def _redact_conninfo(text: str) -> str:
    """A libpq ``key=value`` connection string: its password masked. Anything else is not
    something this function can take apart: masked whole."""
    if "=" not in text:
        return MASK
    return _CONNINFO_PASSWORD.sub(lambda m: m.group(1) + MASK, text)


def url_password(url: str) -> str:
    """The password in a URL/DSN as :func:`redact_url` finds it ("" without one), for
    :func:`known_secrets`."""
    scheme = _SCHEME.match(url)
    if scheme is None:
        found = _CONNINFO_PASSWORD.search(url)
        return found.group(2).strip("'") if found else ""
    rest = url[scheme.end() :]
    at = rest.rfind("@")
    if at < 0 or not _has_userinfo(rest, at):
        return ""
    return rest[:at].partition(":")[2]


def redact(text: object, secrets: Iterable[str] = ()) -> str:
    """Free text with every URL redacted, secret-looking ``key=value`` pairs and bearer tokens
    masked, and each of ``secrets`` (values the process knows to be secret) replaced."""
    try:
        out = str(text)
        for secret in sorted({s for s in secrets if s and len(s) >= MIN_SECRET_CHARS}, key=len)[
            ::-1
        ]:  # longest first: a secret containing another is masked whole
            out = out.replace(secret, MASK)
        out = _redact_urls_in(out)
        out = _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", out)
        return _SECRETISH.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", out)
    except Exception:
        return MASK


def _redact_urls_in(text: str) -> str:
    """Every URL in ``text`` redacted. A URL whose password holds a space or a quote is cut
    there by any pattern; so when what may be a userinfo holds a ``:`` and the same line has a
    later ``@``, the URL is taken to run to the word holding that ``@`` (masking too much,
    never too little)."""
    parts: list[str] = []
    done = 0
    for found in _URL_IN_TEXT.finditer(text):
        if found.start() < done:
            continue  # inside a URL already extended over it
        end = found.end()
        rest = found.group(0)[_SCHEME.match(found.group(0)).end() :]  # type: ignore[union-attr]
        if ":" in rest.partition("@")[0]:  # user:password, or host:port
            line_end = text.find("\n", end)
            last_at = text.rfind("@", end, len(text) if line_end < 0 else line_end)
            if last_at >= 0 and "://" not in text[end:last_at]:
                space = re.search(r"\s", text[last_at:])
                end = last_at + space.start() if space else len(text)
        parts += [text[done : found.start()], redact_url(text[found.start() : end])]
        done = end
    return "".join(parts) + text[done:]


def describe_error(exc: BaseException, secrets: Iterable[str] = ()) -> str:
    """``Type: message`` of an exception, redacted (the message alone may quote a URL)."""
    text = str(exc)
    kind = type(exc).__name__
    return redact(f"{kind}: {text}" if text else kind, secrets)


def known_secrets(settings: Any) -> list[str]:
    """Every secret value in ``settings`` (``hub.config.Settings``, duck-typed): the
    ``SecretStr`` fields, the API and signing keys, and the database password in its raw and
    decoded forms. Callers add what settings only name (identity passwords live in variables
    the identities file names)."""
    found: list[str] = []
    if settings is None:
        return found
    for name in type(settings).model_fields:
        value = getattr(settings, name, None)
        if hasattr(value, "get_secret_value"):
            found.append(str(value.get_secret_value()))
    found += [str(k) for k in getattr(settings, "api_keys", ()) or ()]
    found += [str(k) for k in getattr(settings, "secret_keys", ()) or ()]
    database_url = getattr(settings, "database_url", None)
    if database_url is not None and hasattr(database_url, "get_secret_value"):
        password = url_password(database_url.get_secret_value())
        found += [password, unquote(password)]
    return [s for s in dict.fromkeys(found) if s]


# --- logging -------------------------------------------------------------------------------------
class RedactingFilter(logging.Filter):
    """Redacts every record a handler emits: the formatted message and the traceback.

    Put it on handlers (a logger's filters do not see records of its children). ``secrets``
    is a list the owner may extend later (the identities file is read after logging starts).
    """

    def __init__(self, name: str = "", secrets: Iterable[str] | None = None):
        super().__init__(name)
        self.secrets = list(secrets or ())

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: say so rather than drop the record
            message = f"{record.msg!r} (unformattable arguments)"
        libpq = record.name.startswith("psycopg") or _from_psycopg(record.exc_info)
        record.msg, record.args = self._redact(message, libpq), ()
        if record.exc_info and not record.exc_text:
            text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            record.exc_text = self._redact(text, libpq)
        elif record.exc_text:
            record.exc_text = self._redact(record.exc_text, libpq)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self.secrets)
        return True

    def _redact(self, text: str, libpq: bool) -> str:
        # libpq quotes the part of a connection URI it could not parse: with a password
        # holding @ / # ?, that part is a piece of the password (`... parameter: "21@db/hub"`).
        return redact(_QUOTED.sub(f'"{MASK}"', text) if libpq else text, self.secrets)


_QUOTED = re.compile(r'"[^"\n]*"')


def _from_psycopg(exc_info: Any) -> bool:
    exc = exc_info[1] if isinstance(exc_info, tuple) and len(exc_info) > 1 else None
    seen = 0
    while exc is not None and seen < 10:  # the chain too: `raise ... from exc`
        if type(exc).__module__.startswith("psycopg"):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


# Path segments that are capabilities: whoever has the URL may call the action.
_TOKEN_PATH = re.compile(
    r"(/webhooks/make/|/webhooks/dataforseo/(?:postback|pingback)/|/u/)[^/?#\s]+"
)


def mask_request_target(target: str) -> str:
    """A request path (with query) as it may be logged: capability tokens and secret query
    values masked. Returns ``target`` itself when there is nothing to mask (the usual case)."""
    if "/webhooks/" in target or "/u/" in target:
        target = _TOKEN_PATH.sub(lambda m: m.group(1) + MASK, target)
    if "=" in target:
        target = _SECRET_PARAM.sub(lambda m: m.group(1) + MASK, target)
    return target


class AccessLogFilter(logging.Filter):
    """uvicorn's access log line is ``'%s - "%s %s HTTP/%s" %d'`` with the path third."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            masked = mask_request_target(args[2])
            if masked is not args[2]:
                record.args = (args[0], args[1], masked, args[3], args[4])
        return True
