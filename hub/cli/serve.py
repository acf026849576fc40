"""``hub serve``: run the web service (one uvicorn worker; jobs run in-process)."""

from __future__ import annotations

import typer

from hub.cli.common import console, settings_or_exit
from hub.state.keys import adopt_api_keys


def serve(
    host: str = typer.Option(None, help="Interface to bind (default HUB_HOST, 127.0.0.1)."),
    port: int = typer.Option(None, help="Port (default HUB_PORT, 8000)."),
    demo: bool = typer.Option(False, "--demo", help="Load the bundled demo prospects if empty."),
) -> None:
    """Run the hub: webhooks, REST API, status page and the job runner."""
    import uvicorn

    from hub.app import create_app

    overrides: dict[str, object] = {}
    if host:
        overrides["host"] = host
    if port:
        overrides["port"] = port
    if demo:
        overrides["load_demo"] = True
    settings = settings_or_exit(**overrides)
    key_file = adopt_api_keys(settings)
    if key_file is not None:
        console.print(f"HUB_API_KEYS is not set: sign in with the key stored in {key_file}")
    console.print(
        f"Outreach Hub on http://{settings.host}:{settings.port}  (data: {settings.data_dir})"
    )
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        proxy_headers=True,
    )
