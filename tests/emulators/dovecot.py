"""A real IMAP server for the tests: Debian's dovecot, configured in a temp dir on a free port.

    with running_dovecot({"ada@artist.example": "imap-pass"}) as imap:
        imap.host, imap.port                     # plain IMAP on 127.0.0.1 (no TLS)
        imap.append("ada@artist.example", "INBOX", raw_bytes)

Each user has a Maildir with ``INBOX``, ``Sent`` (SPECIAL-USE ``\\Sent``), ``Drafts`` and
``Trash``; passwords come from a passwd-file. Dovecot runs in the foreground (``dovecot -F``)
as a child process of the test and is stopped (SIGTERM, then SIGKILL) when the context is left.
Readiness is polled (the greeting on the port), never slept for. When the tests run as root the
mail processes run as the ``dovecot`` system user (dovecot refuses to serve mail as root), so
the temp dir is handed to that user; otherwise everything runs as the current user.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.emulators.serve import free_port, wait_until

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"

CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
instance_name = hub-tests-{port}
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = {login_user}
default_internal_user = {internal_user}
first_valid_uid = {uid}
last_valid_uid = {uid}
mail_location = maildir:{root}/mail/%u/Maildir
mail_privileged_group =
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/mail/%u
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    special_use = \\Sent
    auto = subscribe
  }}
  mailbox Drafts {{
    special_use = \\Drafts
    auto = subscribe
  }}
  mailbox Trash {{
    special_use = \\Trash
    auto = subscribe
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
"""


def available() -> bool:
    return Path(DOVECOT).exists()


@dataclass
class Dovecot:
    host: str
    port: int
    root: Path
    users: dict[str, str]

    def client(self, user: str):
        """A logged-in imapclient connection (the caller logs out)."""
        from imapclient import IMAPClient

        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=10)
        client.login(user, self.users[user])
        return client

    def append(self, user: str, folder: str, raw: bytes, *, flags: tuple = ()) -> None:
        client = self.client(user)
        try:
            client.append(folder, raw, flags=flags)
        finally:
            client.logout()

    def messages(self, user: str, folder: str) -> list[bytes]:
        """The full bytes of every message in ``folder``, oldest first."""
        client = self.client(user)
        try:
            client.select_folder(folder, readonly=True)
            uids = client.search(["ALL"])
            fetched = client.fetch(uids, ["RFC822"]) if uids else {}
            return [fetched[uid][b"RFC822"] for uid in sorted(fetched)]
        finally:
            client.logout()


def _accounts() -> tuple[int, int, str, str]:
    """uid, gid and the login/internal users dovecot's processes run as."""
    if os.geteuid() == 0:
        entry = pwd.getpwnam("dovecot")
        login = "dovenull" if _user_exists("dovenull") else "dovecot"
        return entry.pw_uid, entry.pw_gid, login, "dovecot"
    me = pwd.getpwuid(os.geteuid()).pw_name
    return os.geteuid(), os.getegid(), me, me


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            return sock.recv(64).startswith(b"* OK")
    except OSError:
        return False


@contextlib.contextmanager
def running_dovecot(users: dict[str, str]) -> Iterator[Dovecot]:
    root = Path(tempfile.mkdtemp(prefix="hub-dovecot-"))
    uid, gid, login_user, internal_user = _accounts()
    port = free_port()
    (root / "passwd").write_text("".join(f"{user}:{{PLAIN}}{pw}\n" for user, pw in users.items()))
    for user in users:
        (root / "mail" / user).mkdir(parents=True)
    config = root / "dovecot.conf"
    config.write_text(
        CONFIG.format(
            root=root,
            port=port,
            uid=uid,
            gid=gid,
            login_user=login_user,
            internal_user=internal_user,
        )
    )
    os.chmod(root, 0o755)
    for path in (root / "mail", *(root / "mail").iterdir()):
        os.chown(path, uid, gid)
    log = (root / "stdout.log").open("wb")
    proc = subprocess.Popen(
        [DOVECOT, "-F", "-c", str(config)], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        wait_until(lambda: _answers(port) or proc.poll() is not None, timeout=20, what="dovecot")
        if proc.poll() is not None:
            raise RuntimeError(f"dovecot did not start: {_tail(root)}")
        yield Dovecot("127.0.0.1", port, root, dict(users))
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        log.close()
        shutil.rmtree(root, ignore_errors=True)


def _tail(root: Path) -> str:
    text = ""
    for name in ("stdout.log", "dovecot.log"):
        path = root / name
        if path.exists():
            text += path.read_text(errors="replace")[-2000:]
    return text
