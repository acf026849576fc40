"""An SMTP server for the tests and benches, built on aiosmtpd (the real protocol, real client).

    with running_smtp(users={"ada": "smtp-pass"}) as smtp:
        smtp.port, smtp.delivered()              # every message the server accepted
        smtp.inject("drop_after_data")           # the next message is stored, then the
                                                 # connection drops before the 250 reply

- AUTH PLAIN/LOGIN against ``users`` (none: no AUTH offered, anyone may send);
- STARTTLS (``tls_context``) or implicit TLS (``implicit_tls``) with a test certificate
  (:func:`self_signed`);
- faults, each used once in the order injected: ``drop_after_data`` (accepted and stored, the
  connection then drops: the client cannot know), ``data_4xx`` / ``data_5xx`` (refused after
  DATA, nothing stored), ``rcpt_5xx`` (the recipient is refused);
- ``latency``: seconds the server spends on each message before answering DATA (what a real
  server does with it), so benches can compare the hub's wall time with the server's own;
- ``on_accept(user, raw)``: called for each stored message, e.g. to file it in the sender's
  IMAP Sent folder like Gmail and Microsoft 365 do.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import logging
import ssl
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.emulators.serve import free_port

# AUTH without TLS is what the plain-text tests want; aiosmtpd warns about it per connection.
warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
logging.getLogger("mail.log").setLevel(logging.ERROR)

FAULTS = ("drop_after_data", "data_4xx", "data_5xx", "rcpt_5xx")


@dataclass(frozen=True)
class Delivered:
    user: str  # the AUTH login ("" without AUTH)
    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes

    @property
    def parsed(self) -> EmailMessage:
        return message_from_bytes(self.raw, policy=policy.default)  # type: ignore[return-value]


@dataclass
class SmtpStandIn:
    users: dict[str, str] = field(default_factory=dict)
    latency: float = 0.0
    on_accept: Callable[[str, bytes], None] | None = None
    _delivered: list[Delivered] = field(default_factory=list)
    _faults: deque[str] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    sessions: int = 0
    rcpts: int = 0  # RCPT commands seen (a kill moment in the middle of a transaction)
    data_commands: int = 0
    busy_seconds: float = 0.0  # time spent answering DATA (latency as it really came out)
    # From each MAIL FROM received to its final reply (after DATA): the whole transaction as
    # the server sees it, its own protocol work and the client's turn-arounds included.
    transaction_seconds: float = 0.0
    port: int = 0

    # --- what tests look at ---------------------------------------------------------------
    def delivered(self) -> list[Delivered]:
        with self._lock:
            return list(self._delivered)

    def recipients(self) -> list[str]:
        return [rcpt.lower() for d in self.delivered() for rcpt in d.rcpt_tos]

    def inject(self, fault: str, times: int = 1) -> None:
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; one of {FAULTS}")
        with self._lock:
            self._faults.extend([fault] * times)

    def _next_fault(self, *kinds: str) -> str | None:
        with self._lock:
            if self._faults and self._faults[0] in kinds:
                return self._faults.popleft()
        return None

    # --- aiosmtpd hooks ---------------------------------------------------------------------
    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            login = auth_data.login.decode()
            if self.users.get(login) == auth_data.password.decode():
                return AuthResult(success=True, auth_data=login)
        return AuthResult(success=False, handled=False)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        with self._lock:
            self.sessions += 1
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        envelope.mail_at = time.perf_counter()  # (aiosmtpd's envelope takes our attribute)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self._next_fault("rcpt_5xx"):
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        with self._lock:
            self.rcpts += 1
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        started = time.perf_counter()
        try:
            return await self._data(server, session, envelope)
        finally:
            ended = time.perf_counter()
            with self._lock:
                self.busy_seconds += ended - started
                self.transaction_seconds += ended - getattr(envelope, "mail_at", started)

    async def _data(self, server, session, envelope):
        if self.latency:
            await asyncio.sleep(self.latency)  # the server's own work on the message
        fault = self._next_fault("drop_after_data", "data_4xx", "data_5xx")
        if fault == "data_4xx":
            return "451 4.3.0 Temporary failure, try again later"
        if fault == "data_5xx":
            return "554 5.7.1 Message rejected as spam"
        user = session.auth_data if isinstance(session.auth_data, str) else ""
        with self._lock:
            self.data_commands += 1
        raw = bytes(envelope.original_content or envelope.content)
        record = Delivered(user, envelope.mail_from, tuple(envelope.rcpt_tos), raw)
        # Stored and filed with no await in between: a client that dies now cannot cancel
        # the handler half way (a real server's acceptance is one step too).
        with self._lock:
            self._delivered.append(record)
        if self.on_accept is not None:
            self.on_accept(user, raw)
        if fault == "drop_after_data":
            server.transport.abort()  # stored, but the client never hears the 250
            return "250 OK (never seen)"
        return "250 2.0.0 OK queued"


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1/localhost and its key, PEM files in ``directory``. Point
    ``SSL_CERT_FILE`` at the certificate so the client's default context trusts it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


@contextlib.contextmanager
def running_smtp(
    *,
    users: dict[str, str] | None = None,
    latency: float = 0.0,
    on_accept: Callable[[str, bytes], None] | None = None,
    tls_context: ssl.SSLContext | None = None,
    implicit_tls: ssl.SSLContext | None = None,
) -> Iterator[SmtpStandIn]:
    stand_in = SmtpStandIn(users=dict(users or {}), latency=latency, on_accept=on_accept)
    options: dict = {"auth_require_tls": False}
    if stand_in.users:
        options |= {"authenticator": stand_in.authenticate, "auth_required": True}
    if tls_context is not None:
        options["tls_context"] = tls_context
    if implicit_tls is not None:
        options["ssl_context"] = implicit_tls
    stand_in.port = free_port()
    controller = Controller(
        stand_in, hostname="127.0.0.1", port=stand_in.port, ready_timeout=10, **options
    )
    controller.start()  # returns once the server answers (aiosmtpd polls its own greeting)
    try:
        yield stand_in
    finally:
        controller.stop()


def main() -> None:
    """``python -m tests.emulators.smtp USERS_JSON LATENCY``: serve in a process of its own
    (a bench's server must not share the hub's interpreter lock); prints ``READY <port>``,
    serves until stdin closes, then prints the number of messages it accepted, the time it
    spent answering DATA and its transactions' whole time (MAIL FROM to the final reply)."""
    import json
    import sys

    users, latency = json.loads(sys.argv[1]), float(sys.argv[2])
    with running_smtp(users=users, latency=latency) as smtp:
        print(f"READY {smtp.port}", flush=True)
        sys.stdin.read()
        done = {
            "delivered": len(smtp.delivered()),
            "busy_seconds": smtp.busy_seconds,
            "transaction_seconds": smtp.transaction_seconds,
        }
        print(json.dumps(done), flush=True)


if __name__ == "__main__":
    main()
