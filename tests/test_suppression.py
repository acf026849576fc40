"""The suppression list: own table, the rows' terminal statuses, the configured list."""

from __future__ import annotations

from hub.sending.suppression import Suppression


def test_added_addresses_are_suppressed_case_insensitively_and_survive_restart(settings):
    first = Suppression(settings)
    first.add(" Grace@Gallery.Example ", "unsubscribed")
    first.add("grace@gallery.example", "bounced")  # the first reason is kept
    first.close()
    again = Suppression(settings)
    assert again.reason_for("GRACE@gallery.example") == "unsubscribed"
    assert again.reason_for("other@gallery.example") is None
    assert again.reason_for("") is None


def test_rows_with_terminal_statuses_suppress_their_address(settings, local_store):
    local_store.append(
        [
            {"domain": "a.example", "contact_email": "x@a.example", "outreach_status": "bounced"},
            {"domain": "b.example", "contact_email": "y@b.example", "outreach_status": "replied"},
            {
                "domain": "c.example",
                "contact_email": "z@c.example",
                "outreach_status": "do_not_contact",
            },
            {
                "domain": "d.example",
                "contact_email": "w@d.example",
                "outreach_status": "unsubscribed",
            },
            {"domain": "e.example", "contact_email": "v@e.example", "outreach_status": "drafted"},
        ]
    )
    suppression = Suppression(settings, local_store)
    assert suppression.reason_for("X@a.example") == "bounced"
    assert suppression.reason_for("y@b.example") == "replied"
    assert suppression.reason_for("z@c.example") == "do_not_contact"
    assert suppression.reason_for("w@d.example") == "unsubscribed"
    assert suppression.reason_for("v@e.example") is None

    # A person marks the drafted row do_not_contact: seen after the next refresh.
    hub_id = local_store.select(lambda r: r["domain"] == "e.example")[0]["hub_id"]
    local_store.update({hub_id: {"outreach_status": "do_not_contact"}})
    suppression.refresh()
    assert suppression.reason_for("v@e.example") == "do_not_contact"


def test_configured_list_covers_addresses_domains_and_subdomains(settings):
    configured = settings.model_copy(
        update={"suppression_list": ["boss@corp.example", "@rival.example", "spamtrap.example"]}
    )
    suppression = Suppression(configured)
    assert suppression.reason_for("Boss@corp.example") == "suppression_list"
    assert suppression.reason_for("intern@corp.example") is None
    assert suppression.reason_for("anyone@rival.example") == "suppression_list"
    assert suppression.reason_for("a@mail.spamtrap.example") == "suppression_list"
    assert suppression.reason_for("a@notspamtrap.example") is None


def test_suppression_list_setting_is_read_from_the_environment(monkeypatch, data_dir):
    from hub.config import Settings

    monkeypatch.setenv("HUB_SUPPRESSION_LIST", "a@b.example, c.example")
    configured = Settings(_env_file=None, data_dir=data_dir)
    suppression = Suppression(configured)
    assert suppression.reason_for("x@c.example") == "suppression_list"
    assert suppression.reason_for("a@b.example") == "suppression_list"


def test_the_rows_of_the_store_suppress_their_addresses(settings, local_store):
    local_store.append(
        [{"domain": "a.example", "contact_email": "x@a.example", "outreach_status": "bounced"}]
    )
    assert Suppression(settings).reason_for("x@a.example") is None  # rows not consulted
    suppression = Suppression(settings, local_store)
    assert suppression.reason_for("x@a.example") == "bounced"
    suppression.close()
