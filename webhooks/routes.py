"""The Starlette routes of the inbound edge, composed in one place for the app factory.

    routes = webhook_routes(config, accept=inbox.accept, record=deliveries.append)
    app = Starlette(routes=[*routes, ...])

``accept`` persists the event and returns the job (or raises ``events.Refused``); ``record``
receives one ``events.Delivery`` per request, whatever the outcome.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from webhooks import dataforseo, make
from webhooks.base import Build, Refusal, WebhookConfig, handle
from webhooks.events import Accept, InboundEvent, RecordDelivery

__all__ = ["WebhookConfig", "webhook_routes"]


def webhook_routes(
    config: WebhookConfig, accept: Accept, record: RecordDelivery
) -> list[BaseRoute]:
    def endpoint(route: str, build: Build):
        async def receive(request: Request) -> Response:
            return await handle(
                request, route=route, build=build, accept=accept, record=record, now=config.now
            )

        return receive

    missing = endpoint("missing_token", _missing_token)
    tokenless = ["/webhooks/make", "/webhooks/dataforseo/postback", "/webhooks/dataforseo/pingback"]
    # The Make route first: Starlette tries routes in order (a regex each), and it takes
    # nearly every request. No two of these paths match the same URL, so order changes nothing
    # else ("/webhooks/make/{token}" needs a non-empty token).
    return [
        Route(
            make.PATH,
            endpoint(make.ROUTE, make.make_builder(config)),
            methods=["POST"],
            name="webhook_make",
        ),
        Route(
            dataforseo.POSTBACK_PATH,
            endpoint(dataforseo.POSTBACK_ROUTE, dataforseo.postback_builder(config)),
            methods=["POST"],
            name="webhook_dataforseo_postback",
        ),
        Route(
            dataforseo.PINGBACK_PATH,
            endpoint(dataforseo.PINGBACK_ROUTE, dataforseo.pingback_builder(config)),
            methods=["GET"],
            name="webhook_dataforseo_pingback",
        ),
        # A URL pasted without its token gets a JSON answer saying so, not a bare 404.
        *(
            Route(path + slash, missing, methods=["GET", "POST"])
            for path in tokenless
            for slash in ("", "/")
        ),
    ]


async def _missing_token(request: Request) -> InboundEvent:
    raise Refusal(
        401,
        "missing_token",
        "this URL has no token: copy the whole webhook URL, including the part after "
        f"{request.url.path.rstrip('/')}/",
    )
