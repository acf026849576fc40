"""A small authoritative DNS server on loopback UDP for the doctor's SPF/DKIM/DMARC checks.

    with running_dns({"artist.example": ["v=spf1 include:_spf.example ~all"]}) as dns:
        dns.address                           # "127.0.0.1:<port>" for HUB_DNS_NAMESERVER

Only TXT records are served; any other name answers NXDOMAIN, another type an empty answer.
Queries are parsed and answers built with dnspython (the real wire format); each query is
counted (``dns.queries``).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset


@dataclass
class DnsStandIn:
    records: dict[str, list[str]]  # name (no trailing dot) -> TXT strings
    port: int = 0
    queries: list[tuple[str, str]] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def answer(self, wire: bytes) -> bytes:
        query = dns.message.from_wire(wire)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        kind = dns.rdatatype.to_text(question.rdtype)
        self.queries.append((name, kind))
        texts = self.records.get(name)
        if texts is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif question.rdtype == dns.rdatatype.TXT:
            quoted = ['"' + t.replace("\\", "\\\\").replace('"', '\\"') + '"' for t in texts]
            response.answer.append(
                dns.rrset.from_text(question.name, 300, dns.rdataclass.IN, "TXT", *quoted)
            )
        return response.to_wire()


@contextlib.contextmanager
def running_dns(records: dict[str, list[str]]) -> Iterator[DnsStandIn]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)  # so the serving thread notices the stop flag
    server = DnsStandIn({k.lower().rstrip("."): v for k, v in records.items()})
    server.port = sock.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                wire, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                sock.sendto(server.answer(wire), peer)
            except Exception:  # a malformed query gets no answer, like a real server's
                continue

    thread = threading.Thread(target=serve, name="dns-stand-in", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stop.set()
        thread.join(timeout=5)
        sock.close()
