"""Issue 11's "done when": hostile and clumsy rows imported beside good ones never stop a stage.

The corpus (tests/hostile.py) goes in through ``hub sheet import``; then every row stage runs
as a real job, twice, on the embedded default (local store, Hunter's emulator, templates, the
outbox folder as a dry run, approval off).
"""

from __future__ import annotations

import csv

from typer.testing import CliRunner

from hub.cli import app
from tests import hostile, hostile_run
from tests.store_contract import (
    GoogleHarness,
    emulator_servers,  # noqa: F401 - a fixture shared by this module's tests
    google_sheet_env,
)

runner = CliRunner()


def _write_csv(path, lines: list[dict[str, str]]) -> None:
    columns = list(dict.fromkeys(name for line in lines for name in line))
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(lines)


def _env(settings) -> dict[str, str]:
    return {
        "HUB_DATA_DIR": str(settings.data_dir),
        "HUNTER_API_KEY": settings.hunter_api_key.get_secret_value(),
        "HUNTER_API_URL": settings.hunter_api_url,
    }


async def test_hostile_corpus_never_stops_a_stage_and_every_row_says_why(data_dir, hunter_world):
    settings = hunter_world.settings(data_dir)
    lines, kind = hostile.corpus_lines()
    source = data_dir.parent / "corpus.csv"
    _write_csv(source, lines)

    result = runner.invoke(app, ["sheet", "import", str(source)], env=_env(settings))
    out = result.output
    assert result.exit_code == 0, out
    # Every refused line is reported with its line number (line 1 is the header) and why.
    first_bad = lines.index({"domain": "[::1]", "notes": "bad domain"}) + 2
    assert f"line {first_bad}: domain: '[::1]' is an IP address" in out
    assert f"refused {len(hostile.BAD_DOMAINS)} lines" in out

    from sheets.local import LocalStore

    store = LocalStore(settings.data_dir / "prospects.sqlite3")
    before = {row["hub_id"]: row for row in store.rows()}
    store.close()
    assert {row["domain"] for row in before.values()} == set(kind)

    for _ in range(2):  # every stage job completes, twice in a row
        verdict = hostile_run.Verdict()
        hostile_run.check_jobs(await hostile_run.run_stages(settings), verdict)
        assert verdict.problems == []

    store = LocalStore(settings.data_dir / "prospects.sqlite3")
    after = {row["hub_id"]: row for row in store.rows()}
    store.close()
    verdict = hostile_run.Verdict()
    hostile_run.check_outbox(settings.outbox_dir, verdict)
    hostile_run.check_rows(before, after, verdict)
    assert verdict.problems == []

    # Every good (and clumsy) row reached the outbox exactly once; no bad address did.
    previews = sorted(p.name for p in settings.outbox_dir.glob("*.eml"))
    reached = {after[h]["domain"] for h in verdict.sent_to}
    assert reached == {d for d, k in kind.items() if k in ("good", "clumsy")}
    assert len(previews) == len(reached)
    assert verdict.sent_to[_id(after, "typed.test")] == "Editor@typed.test"
    for i, value in enumerate(hostile.BAD_EMAILS):
        row = after[_id(after, f"badmail{i}.test")]
        assert row["hold_reason"].startswith("REVIEW:bad_email contact_email: "), (value, row)
        assert row["contact_email"] == value.strip()  # the person's cell, as they typed it

    # Clumsy hub cells were read as values or reasons, and the person's cells are untouched.
    assert after[_id(after, "good0.test")]["notes"] == "kept 0"
    assert "da_est ignored: not a number" in after[_id(after, "clumsy2.test")]["score_reasons"]


def _id(rows, domain: str) -> str:
    return next(h for h, row in rows.items() if row["domain"] == domain)


def test_strict_import_refuses_the_file_and_changes_nothing(data_dir, hunter_world):
    settings = hunter_world.settings(data_dir)
    source = data_dir.parent / "strict.csv"
    _write_csv(source, [{"domain": "fine.test"}, {"domain": "127.0.0.1"}, {"domain": "a b.test"}])
    result = runner.invoke(app, ["sheet", "import", "--strict", str(source)], env=_env(settings))
    assert result.exit_code == 1
    assert "line 3: domain: '127.0.0.1' is an IP address" in result.output
    assert "line 4: domain: 'a b.test' contains SPACE" in result.output
    assert "nothing imported" in result.output
    assert not (settings.data_dir / "prospects.sqlite3").exists()


async def test_an_address_edited_after_enrichment_is_held_before_drafting_and_sending(
    data_dir, hunter_world
):
    from sheets.local import LocalStore

    store = LocalStore(data_dir / "prospects.sqlite3")
    store.ensure_schema()
    enriched, drafted = store.append(
        [
            {"domain": "later.test", "page_title": "Later", "outreach_status": "enriched"},
            {
                "domain": "drafted.test",
                "outreach_status": "drafted",
                "draft_subject": "Hello",
                "draft_body": "A note.",
            },
        ]
    ).added
    store.human_edit(enriched, "contact_email", "Ann <ann@later.test>")  # typed after enrich
    store.human_edit(drafted, "contact_email", "ann@drafted.test\u2028")  # typed after drafting
    store.close()

    settings = hunter_world.settings(data_dir)
    jobs = await hostile_run.run_stages(settings, stages=("draft", "send"))
    assert [job["status"] for job in jobs] == ["completed", "completed"]
    store = LocalStore(data_dir / "prospects.sqlite3")
    later, late_draft = store.get(enriched), store.get(drafted)
    store.close()
    assert later["outreach_status"] == "enriched" and not later.get("draft_body")
    assert later["hold_reason"].startswith("REVIEW:bad_email contact_email: ")
    assert "one address only" in later["hold_reason"]
    assert late_draft["outreach_status"] == "drafted"
    assert late_draft["hold_reason"].startswith("REVIEW:bad_email contact_email: ")
    assert "LINE SEPARATOR" in late_draft["hold_reason"]
    assert not list(settings.outbox_dir.glob("*.eml"))  # nothing built for either address


async def test_a_domain_typed_into_the_google_sheet_that_is_no_host_gets_no_email_bad_domain(
    data_dir,
    hunter_world,
    emulator_servers,  # noqa: F811
):
    grid = [["domain", "notes"], ["[::1]", "typed"], ["ex ample.com", ""], ["fine.test", ""]]
    with google_sheet_env(data_dir, grid, servers=emulator_servers) as env:
        harness = GoogleHarness(env)
        harness.store.ensure_schema()
        settings = env.settings(**hunter_world.values(data_dir))
        ids = {row["domain"]: row["hub_id"] for row in harness.store.rows()}
        jobs = await hostile_run.run_stages(settings, store=harness.store, stages=("enrich",))
        assert jobs[0]["status"] == "completed" and jobs[0]["result"]["bad_domain"] == 2
        rows = {row["hub_id"]: row for row in harness.store.rows()}
        for typed in ("[::1]", "ex ample.com"):
            row = rows[ids[typed]]
            assert (row["outreach_status"], row["hold_reason"]) == (
                "no_email",
                "NO_EMAIL:bad_domain",
            )
            assert row["last_error"].startswith(f"domain: {typed!r}") and row["domain"] == typed
        assert rows[ids["fine.test"]]["outreach_status"] == "enriched"
        assert rows[ids["[::1]"]]["notes"] == "typed"

        harness.human_edit(ids["ex ample.com"], "domain", "example-gallery.test")  # fixed
        await hostile_run.run_stages(settings, store=harness.store, stages=("enrich",))
        fixed = harness.store.get(ids["ex ample.com"])
    assert fixed["outreach_status"] == "enriched" and fixed.get("hold_reason", "") == ""
    assert fixed["contact_email"].endswith("@example-gallery.test")


async def test_an_unreadable_follow_up_date_holds_the_sent_row_and_says_why(data_dir, hunter_world):
    from sheets.local import LocalStore

    store = LocalStore(data_dir / "prospects.sqlite3")
    store.ensure_schema()
    hub_id = store.append(
        [{"domain": "sent.test", "outreach_status": "sent", "next_followup_at": "tomorrow"}]
    ).added[0]
    store.close()
    settings = hunter_world.settings(data_dir)
    for _ in range(2):  # the second run finds the hold already there and writes nothing
        (job,) = await hostile_run.run_stages(settings, stages=("followup",))
        assert job["status"] == "completed"
    store = LocalStore(data_dir / "prospects.sqlite3")
    row = store.get(hub_id)
    store.close()
    assert row["hold_reason"].startswith("REVIEW:bad_date next_followup_at: 'tomorrow' is not a")
    assert row["next_followup_at"] == "tomorrow" and row["outreach_status"] == "sent"
    assert "bad_date" not in job["result"]  # nothing new to hold on the second run
