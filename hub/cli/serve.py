"""``hub serve``: run the web service (one uvicorn worker; jobs run in-process unless
``--no-worker``, for an edge whose jobs ``hub worker`` processes run)."""

from __future__ import annotations

import copy
from typing import Any

import typer
import uvicorn
import uvicorn.config

from hub.app import create_app
from hub.cli.common import console, exit_with, settings_or_exit
from hub.config.identities import identity_secrets
from hub.edge_limits import uvicorn_limits
from hub.redact import AccessLogFilter, RedactingFilter, known_secrets
from hub.startup import StartupError, prepare
from hub.state.keys import adopt_api_keys

# How the demo signs its drafts when HUB_SENDER_NAME is unset (templates need a sender name).
DEMO_SENDER_NAME = "Outreach Hub demo"


def apply_demo_defaults(settings) -> list[str]:
    """What ``--demo`` fills in so its rows go all the way to a draft on embedded defaults.

    Only on the dry-run outbox: a real mailer never sends under a made-up name. Returns a line
    per value filled in, to print.
    """
    settings.load_demo = True
    filled = []
    if settings.mailer == "outbox" and not settings.sender_name.strip():
        settings.sender_name = DEMO_SENDER_NAME
        filled.append(f"HUB_SENDER_NAME is not set: the demo signs its drafts {DEMO_SENDER_NAME!r}")
    return filled


def serve(
    host: str = typer.Option(None, help="Interface to bind (default HUB_HOST, 127.0.0.1)."),
    port: int = typer.Option(None, help="Port (default HUB_PORT, 8000)."),
    demo: bool = typer.Option(False, "--demo", help="Load the bundled demo prospects if empty."),
    worker: bool = typer.Option(
        True,
        "--worker/--no-worker",
        help="Run jobs, the tick and event delivery here too (--no-worker: only accept "
        "webhooks and API calls; `hub worker` processes run the jobs; needs HUB_DATABASE_URL).",
    ),
) -> None:
    """Run the hub: webhooks, REST API, status page and the job runner."""
    overrides: dict[str, object] = {}
    if host:
        overrides["host"] = host
    if port:
        overrides["port"] = port
    settings = settings_or_exit(**overrides)
    if demo:
        for line in apply_demo_defaults(settings):
            console.print(line)
    if not worker and not settings.uses_postgres:
        console.print(
            "[red]--no-worker needs HUB_DATABASE_URL:[/red] the jobs this process queues "
            "must be shared with the `hub worker` processes that run them"
        )
        raise typer.Exit(2)
    secrets = known_secrets(settings) + identity_secrets(settings)
    try:  # keys, database, store, sign-in: each failure one line, within HUB_STARTUP_TIMEOUT
        services = prepare(settings, extra_secrets=secrets, listen=worker)
    except StartupError as exc:
        exit_with(str(exc), exc.exit_code)
    try:
        key_file = adopt_api_keys(settings)
        if key_file is not None:
            console.print(
                f"HUB_API_KEYS is not set: sign in with the key stored in {key_file}",
                soft_wrap=True,
            )
        console.print(
            f"Outreach Hub on http://{settings.host}:{settings.port}  (data: {settings.data_dir})",
            soft_wrap=True,  # one line, however long the path
        )
        uvicorn.run(
            create_app(settings, services=services, worker=worker),
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level,
            log_config=log_config(known_secrets(settings) + secrets),
            proxy_headers=True,
            **uvicorn_limits(),
        )
    finally:
        services.close()


def log_config(secrets: list[str]) -> dict[str, Any]:
    """uvicorn's logging, with secrets kept out: the access log masks capability tokens and
    secret query values; every other line (uvicorn's, and the hub's own, which otherwise went
    to Python's last-resort handler) is redacted. The hub's loggers stay at WARNING, as
    before."""
    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config["filters"] = {
        "redact": {"()": RedactingFilter, "secrets": secrets},
        "access_tokens": {"()": AccessLogFilter},
    }
    config["handlers"]["default"]["filters"] = ["redact"]
    config["handlers"]["access"]["filters"] = ["access_tokens"]
    config["formatters"]["hub"] = {
        "()": "uvicorn.logging.DefaultFormatter",
        "fmt": "%(levelprefix)s %(name)s: %(message)s",
        "use_colors": False,
    }
    config["handlers"]["hub"] = {
        "class": "logging.StreamHandler",
        "formatter": "hub",
        "stream": "ext://sys.stderr",
        "filters": ["redact"],
    }
    config["root"] = {"handlers": ["hub"], "level": "WARNING"}
    return config
