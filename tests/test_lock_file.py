"""requirements.lock (what the Dockerfile installs, with hashes) pins every dependency of
pyproject.toml at a version its specifier allows: run `make lock` after changing them."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s\\;]+)")


def pinned() -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) from the lock file."""
    found: dict[str, tuple[str, list[str]]] = {}
    current = None
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if match := PIN.match(line):
            current = canonicalize_name(match.group(1))
            found[current] = (match.group(2), [])
        elif current and (digest := re.search(r"--hash=sha256:([0-9a-f]{64})", line)):
            found[current][1].append(digest.group(1))
    return found


def test_every_dependency_is_pinned_with_hashes_within_its_specifier():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lock = pinned()
    assert lock, "requirements.lock pins nothing"
    for text in project["dependencies"]:
        wanted = Requirement(text)
        name = canonicalize_name(wanted.name)
        assert name in lock, f"{wanted.name} is not in requirements.lock: run `make lock`"
        version, hashes = lock[name]
        assert wanted.specifier.contains(version, prereleases=True), (text, version)
        assert hashes, f"{name} has no hash"
        for extra in wanted.extras:  # psycopg[binary] brings psycopg-binary
            assert canonicalize_name(f"{name}-{extra}") in lock, (text, extra)
    assert all(hashes for _, hashes in lock.values())  # pip --require-hashes needs them all


def test_the_dockerfile_installs_from_the_lock_with_hashes():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install --no-cache-dir --require-hashes -r requirements.lock" in dockerfile
    assert "pip install --no-cache-dir --no-deps ." in dockerfile  # nothing beyond the lock
