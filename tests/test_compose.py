"""compose.yaml, checked against the code it runs: its commands parse with the real ``hub`` CLI,
its variables are names the settings read, and the values it passes make valid settings."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import typer.main
import yaml

from hub.cli import app
from hub.config import Settings

COMPOSE = Path(__file__).resolve().parent.parent / "compose.yaml"
HUB_SERVICES = ("migrate", "edge", "worker")
# What an operator exports before `docker compose up` (README: "Running on several machines").
OPERATOR_ENV = {
    "POSTGRES_PASSWORD": "pw-for-test",
    "HUB_SECRET_KEYS": "signing-key-one",
    "HUB_API_KEYS": "api-key-one",
}
_INTERPOLATION = re.compile(r"\$\{(\w+)(?::([?-])([^}]*))?\}")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}`` and ``${VAR:?error}``, as `docker compose` does."""

    def one(match: re.Match) -> str:
        name, kind, rest = match.groups()
        if env.get(name):
            return env[name]
        if kind == "-":
            return rest
        raise KeyError(f"{name}: {rest}")

    return _INTERPOLATION.sub(one, value)


def settings_aliases() -> set[str]:
    names: set[str] = set()
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        names.update(getattr(alias, "choices", [alias] if alias else []))
    return {n for n in names if isinstance(n, str)}


def resolve_cli(argv: list[str]):
    """The command of the real ``hub`` CLI that ``argv`` names; ValueError for an unknown
    command or option. (Typer bundles its own click, so this walks its commands by name.)"""
    assert argv[0] == "hub", argv
    command, args = typer.main.get_command(app), list(argv[1:])
    while hasattr(command, "commands"):  # a command group: the next word picks a command
        name, *args = args
        if name not in command.commands:
            raise ValueError(f"no command {name!r} in {argv}")
        command = command.commands[name]
    options = {opt for p in command.params for opt in [*p.opts, *getattr(p, "secondary_opts", [])]}
    unknown = [arg for arg in args if arg.startswith("-") and arg.split("=")[0] not in options]
    if unknown:
        raise ValueError(f"{argv}: no option {unknown}")
    return command


def test_the_services_and_their_commands(compose):
    services = compose["services"]
    assert set(services) == {"postgres", *HUB_SERVICES}
    assert services["postgres"]["image"].startswith("postgres:")
    commands = {name: services[name]["command"] for name in HUB_SERVICES}
    assert commands == {
        "migrate": ["hub", "db", "upgrade"],
        "edge": ["hub", "serve", "--no-worker"],
        "worker": ["hub", "worker"],
    }
    for argv in commands.values():
        resolve_cli(argv)
    with pytest.raises(ValueError):  # the check above can tell a wrong option
        resolve_cli(["hub", "serve", "--no-such-option"])


def test_every_long_running_service_has_a_health_check_and_the_order_is_safe(compose):
    services = compose["services"]
    for name in ("postgres", "edge", "worker"):
        check = services[name]["healthcheck"]
        assert check["test"][0] in ("CMD", "CMD-SHELL") and check["interval"], name
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name in ("edge", "worker"):
        assert services[name]["depends_on"] == {
            "migrate": {"condition": "service_completed_successfully"}
        }
    resolve_cli(services["worker"]["healthcheck"]["test"][1:])  # a real command: hub db status
    edge = services["edge"]
    port = edge["environment"]["HUB_PORT"]
    assert edge["ports"] == [f"{port}:{port}"]
    assert f"127.0.0.1:{port}/healthz" in " ".join(edge["healthcheck"]["test"])


def test_volumes_keep_the_database_and_the_outbox(compose):
    declared = set(compose["volumes"])
    used = {
        mount.split(":")[0]: mount.split(":")[1]
        for service in compose["services"].values()
        for mount in service.get("volumes", [])
    }
    assert used == {"pgdata": "/var/lib/postgresql/data", "worker-data": "/data"}
    assert declared == set(used)
    assert compose["services"]["worker"]["environment"]["HUB_DATA_DIR"] == "/data"


def test_hub_variables_are_settings_and_make_valid_settings(compose, monkeypatch, tmp_path):
    services = compose["services"]
    postgres_env = services["postgres"]["environment"]
    known = settings_aliases()
    assert "HUB_DATABASE_URL" in known
    for name in HUB_SERVICES:
        env = {
            k: interpolate(str(v), OPERATOR_ENV) for k, v in services[name]["environment"].items()
        }
        assert set(env) <= known, set(env) - known
        url = urlsplit(env["HUB_DATABASE_URL"])
        assert url.scheme == "postgresql" and url.hostname == "postgres"
        assert url.username == postgres_env["POSTGRES_USER"]
        assert url.path == "/" + postgres_env["POSTGRES_DB"]
        assert url.password == interpolate(postgres_env["POSTGRES_PASSWORD"], OPERATOR_ENV)

        monkeypatch.chdir(tmp_path)  # no developer .env
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        settings = Settings(_env_file=None)
        settings.check()  # what `hub serve` runs first: no configuration error
        assert settings.database_url.get_secret_value() == env["HUB_DATABASE_URL"]
        assert settings.secret_keys == ["signing-key-one"]
        assert settings.api_keys == ["api-key-one"]


def test_keys_and_password_must_be_given_not_defaulted(compose):
    """Per-machine key files would differ between containers: compose refuses to start
    without the keys, naming the variable."""
    edge_env = compose["services"]["edge"]["environment"]
    for name in ("HUB_SECRET_KEYS", "HUB_API_KEYS"):
        missing = {k: v for k, v in OPERATOR_ENV.items() if k != name}
        with pytest.raises(KeyError, match=name):
            interpolate(edge_env[name], missing)
    with pytest.raises(KeyError, match="POSTGRES_PASSWORD"):
        interpolate(edge_env["HUB_DATABASE_URL"], {})


def test_docker_compose_config_accepts_it_when_installed(tmp_path):
    """The real parser, where the machine has one (`docker compose` v2 or `docker-compose`)."""
    import shutil
    import subprocess

    if shutil.which("docker-compose"):
        argv = ["docker-compose"]
    elif shutil.which("docker") and (
        subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0
    ):
        argv = ["docker", "compose"]
    else:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed")
    env = {"PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": str(tmp_path)}
    run = [*argv, "-f", str(COMPOSE), "config", "-q"]
    accepted = subprocess.run(run, env={**env, **OPERATOR_ENV}, capture_output=True, text=True)
    assert accepted.returncode == 0, accepted.stderr
    refused = subprocess.run(run, env=env, capture_output=True, text=True)
    assert refused.returncode != 0 and "POSTGRES_PASSWORD" in refused.stderr
