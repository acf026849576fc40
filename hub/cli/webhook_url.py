"""``hub webhook-url ACTION``: the URL to paste into a Make HTTP module for one action."""

from __future__ import annotations

import typer

from hub.cli.common import err_console, settings_or_exit


def webhook_url(
    action: str = typer.Argument(
        ..., help="discover, import_rows, enrich, score, draft, send, ..."
    ),
    hub_url: str = typer.Option(
        None, "--hub-url", help="Where Make reaches the hub (default HUB_PUBLIC_URL)."
    ),
    signing_key: bool = typer.Option(
        False, "--signing-key", help="Also print the key a scenario signs bodies with."
    ),
) -> None:
    """Print the capability URL for ACTION (signed with the newest secret key)."""
    from hub.state.keys import secret_keys_for
    from webhooks.make import make_webhook_url
    from webhooks.tokens import MAKE_ACTIONS, body_signing_key

    if action not in MAKE_ACTIONS:
        err_console.print(
            f"[red]unknown action {action!r}[/red]; expected one of {', '.join(MAKE_ACTIONS)}"
        )
        raise typer.Exit(2)
    settings = settings_or_exit()
    keys = secret_keys_for(settings)
    # typer.echo, not rich: a long URL must not be wrapped when copied from the terminal
    typer.echo(make_webhook_url(hub_url or settings.base_url(), action, keys))
    if signing_key:
        typer.echo(f"body signing key: {body_signing_key(keys[-1])}")
