"""``hub scenarios list|render|lint`` through the real typer app."""

from __future__ import annotations

import json
import os
import re
import stat

import pytest
from typer.testing import CliRunner

from hub.cli import app
from scenarios.render import catalogue
from tests.fixtures import MAKE
from webhooks.tokens import verify_make_token

KEYS = "old-key-0123456789abcdef,new-key-fedcba9876543210"
INVALID = MAKE / "manasoid__blueprint-nlp-ai-hubspot.json"
VALID = sorted(p for p in MAKE.glob("*.json") if p != INVALID)


@pytest.fixture
def cli(data_dir, monkeypatch):
    """A runner whose settings come only from the environment given here."""
    monkeypatch.chdir(data_dir.parent)  # no developer .env
    for name in list(os.environ):
        if name.startswith(("HUB_", "GMAIL_", "DATAFORSEO_", "HUNTER_", "GEMINI_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HUB_DATA_DIR", str(data_dir))
    monkeypatch.setenv("HUB_SECRET_KEYS", KEYS)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, ["scenarios", *args], catch_exceptions=False)


def test_list_names_every_shipped_blueprint(cli):
    result = cli("list")
    assert result.exit_code == 0
    for blueprint in catalogue():
        assert blueprint.name in result.output


def test_render_to_stdout_is_valid_json_with_working_tokens(cli):
    result = cli("render", "weekly-discovery", "--hub-url", "https://hub.example.com")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    url = document["flow"][0]["mapper"]["url"]
    token = re.fullmatch(r"https://hub\.example\.com/webhooks/make/(\S+)", url)[1]
    assert verify_make_token(token, KEYS.split(",")) == "discover"


def test_render_defaults_to_the_public_url(cli, monkeypatch):
    monkeypatch.setenv("HUB_PUBLIC_URL", "https://public.example.com/")
    result = cli("render", "daily-tick")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["flow"][0]["mapper"]["url"].startswith(
        "https://public.example.com/webhooks/make/"
    )


def test_render_signed_to_a_private_file_with_the_zone(cli, tmp_path):
    out = tmp_path / "tick.json"
    result = cli(
        "render", "daily-tick", "--hub-url", "https://h.example.com", "--out", str(out),
        "--zone", "us1.make.com", "--sign",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    assert document["metadata"]["zone"] == "us1.make.com"
    headers = {h["name"] for h in document["flow"][-1]["mapper"]["headers"]}
    assert headers == {"X-Hub-Timestamp", "X-Hub-Signature-256"}
    assert stat.S_IMODE(out.stat().st_mode) == 0o600  # it holds the body-signing key
    assert cli("lint", "--require-signature", str(out)).exit_code == 0


def test_render_uses_the_embedded_key_file_without_hub_secret_keys(cli, monkeypatch, data_dir):
    monkeypatch.delenv("HUB_SECRET_KEYS")
    (data_dir / "secret_key").write_text("embedded-key-abcdefghijklmnop\n")
    result = cli("render", "daily-tick", "--hub-url", "https://h.example.com")
    assert result.exit_code == 0
    token = json.loads(result.stdout)["flow"][0]["mapper"]["url"].rsplit("/", 1)[1]
    assert verify_make_token(token, ["embedded-key-abcdefghijklmnop"]) == "tick"


def test_render_notification_email_defaults_to_the_sender(cli, monkeypatch):
    assert cli("render", "hub-events-notify", "--hub-url", "https://h.example.com").exit_code == 2
    monkeypatch.setenv("HUB_SENDER_ADDRESS", "owner@example.com")
    result = cli("render", "hub-events-notify", "--hub-url", "https://h.example.com")
    assert result.exit_code == 0
    assert '"owner@example.com"' in result.stdout


@pytest.mark.parametrize(
    "args, hint",
    [
        (["render", "no-such-blueprint", "--hub-url", "https://h.example.com"], "choose one of"),
        (["render", "daily-tick"], "--hub-url"),
        (["render", "daily-tick", "--hub-url", "localhost:8000"], "http(s) URL"),
    ],
)
def test_render_mistakes_exit_2_with_a_hint(cli, args, hint):
    result = cli(*args)
    assert result.exit_code == 2
    assert hint in result.output.replace("\n", " ")


def test_lint_real_blueprints_exits_1_only_for_the_invalid_one(cli):
    assert cli("lint", *map(str, VALID)).exit_code == 0
    result = cli("lint", *map(str, VALID), str(INVALID))
    assert result.exit_code == 1
    assert "invalid" in result.output and "invalid-json" in result.output


def test_lint_json_output(cli):
    result = cli("lint", "--json", str(INVALID), str(VALID[0]))
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["errors"] == 1
    by_path = {entry["path"]: entry for entry in report["files"]}
    assert by_path[str(INVALID)]["invalid"] is True
    assert by_path[str(INVALID)]["findings"][0]["code"] == "invalid-json"
    assert by_path[str(VALID[0])]["errors"] == 0


def test_lint_requires_signatures_when_the_hub_does(cli, tmp_path, monkeypatch):
    out = tmp_path / "tick.json"
    cli("render", "daily-tick", "--hub-url", "https://h.example.com", "--out", str(out))
    assert cli("lint", str(out)).exit_code == 0
    monkeypatch.setenv("HUB_REQUIRE_SIGNATURE", "true")
    result = cli("lint", "--json", str(out))
    assert result.exit_code == 1
    finding = json.loads(result.stdout)["files"][0]["findings"][0]
    assert (finding["code"], finding["module_id"]) == ("hub-unsigned", 1)
    assert cli("lint", "--no-require-signature", str(out)).exit_code == 0
