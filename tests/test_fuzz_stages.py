"""Property-based: generated rows (any Unicode, controls, bidi marks, NUL, CR/LF, very long
cells, formulas, template syntax, odd numbers and dates) run through every row stage on both
stores. Invariants: every job completes; every row reaches the outbox or says why; no preview
goes to anything but one valid mailbox, and none carries an injected header; no person's cell
is changed.

The number of examples comes from the hypothesis profile (tests/conftest.py): "bounded" in
``make test``, "long" from ``bench/fuzz.py``.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from sheets.cells import BadCell, clean_text, domain_from_cell, normalize_email
from tests import hostile, hostile_run
from tests.store_contract import emulator_servers  # noqa: F401 - a fixture shared by the module

_serial = itertools.count()
# The profile's example count (tests/conftest.py); the pure parse tests are cheap, so more.
EXAMPLES = hypothesis_settings().max_examples
cheap = hypothesis_settings(max_examples=EXAMPLES * 20)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


def _fresh_dir(workdir):
    path = workdir / f"run{next(_serial)}" / "hub-data"
    path.mkdir(parents=True)
    return path


@given(rows=hostile.batches)
def test_every_stage_on_the_local_store_keeps_the_invariants(hunter_world, workdir, rows):
    verdict, _ = hostile_run.run_local(hunter_world, _fresh_dir(workdir), rows)
    assert verdict.problems == []


@given(rows=hostile.batches)
def test_every_stage_on_the_google_sheet_keeps_the_invariants(
    hunter_world,
    workdir,
    emulator_servers,  # noqa: F811
    rows,
):
    verdict, _ = hostile_run.run_google(hunter_world, emulator_servers, _fresh_dir(workdir), rows)
    assert verdict.problems == []


# --- the parse layer on its own: never anything but a value or BadCell ----------------------
@cheap
@given(value=st.one_of(hostile.hostile_text, hostile.addresses, st.emails()))
def test_normalize_email_gives_one_clean_mailbox_or_a_reason(value):
    try:
        address = normalize_email(value)
    except BadCell as exc:
        assert exc.column == "contact_email" and str(exc).startswith("contact_email: ")
        assert exc.why and clean_text(exc.why, 10_000) == exc.why  # printable, one line
        return
    assert address.isascii() and address.count("@") == 1
    assert normalize_email(address) == address  # normalised: a fixed point
    assert not any(c in address for c in " <>,;\r\n\0")


@cheap
@given(value=st.one_of(hostile.domains, hostile.hostile_text))
def test_domain_cells_give_an_idna_host_or_a_reason(value):
    try:
        host = domain_from_cell(value)
    except BadCell as exc:
        assert exc.column == "domain" and exc.why
        return
    labels = host.split(".")
    assert host.isascii() and host == host.lower() and len(labels) >= 2 and all(labels)
    assert not labels[-1].isdigit()
    assert domain_from_cell(host) == host
