"""Each configured provider answering with the credentials given, through its cheapest call,
and which roles run on embedded defaults.

- Hunter: ``GET /v2/account`` (free) -> searches left this period;
- DataForSEO: ``GET /v3/appendix/user_data`` (free) -> the account balance;
- Gemini: ``models.get`` (no tokens spent) -> the model exists for this key and can
  ``generateContent``;
- Gmail: ``users.getProfile`` (1 quota unit) -> the refresh token works, for which address.

Every call has a short timeout and at most one retry; the caller adds a deadline per check.
Messages name settings and status codes, never a credential.
"""

from __future__ import annotations

import httpx
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from hub.config import Settings
from hub.doctor.report import Finding, error, ok, warn
from hub.errors import ProviderError, QuotaExhausted

AREA = "providers"
USER_DATA = "/v3/appendix/user_data"


# --- which implementation serves each role ---------------------------------------------------
def embedded_defaults(settings: Settings) -> list[Finding]:
    roles = (
        ("store", settings.uses_google_sheet, "Google Sheet", _local_store(settings),
         "HUB_SHEET_ID and a service account"),
        ("discovery", settings.uses_dataforseo, "DataForSEO", "import only (CSV or webhook)",
         "DATAFORSEO_LOGIN and DATAFORSEO_PASSWORD"),
        ("enrichment", settings.uses_hunter, "Hunter", "site crawler", "HUNTER_API_KEY"),
        ("drafting", settings.uses_gemini, "Gemini", "templates", "GEMINI_API_KEY"),
        ("sending", settings.mailer != "outbox", settings.mailer.upper().replace("GMAIL", "Gmail"),
         "outbox folder (dry run: nothing is sent)", "HUB_MAILER=gmail or smtp"),
    )  # fmt: skip
    real = [f"{role}: {name}" for role, used, name, _, _ in roles if used]
    embedded = [(f"{role}: {default}", how) for role, used, _, default, how in roles if not used]
    if not embedded:
        return [ok(AREA, "every role uses its real provider (" + "; ".join(real) + ")")]
    return [
        ok(
            AREA,
            "on embedded defaults: " + "; ".join(text for text, _ in embedded),
            "to use the real provider set " + "; ".join(how for _, how in embedded),
        )
    ]


def _local_store(settings: Settings) -> str:
    """What the store is without a Google Sheet: in PostgreSQL when the hub shares a database
    (hub.app.build_store), else the SQLite file."""
    return "local store in PostgreSQL" if settings.uses_postgres else "local SQLite store"


# --- Hunter -----------------------------------------------------------------------------------
async def check_hunter(settings: Settings, timeout: float) -> list[Finding]:
    from hub.providers.hunter import HunterClient

    client = HunterClient(
        settings.hunter_api_key.get_secret_value(),
        settings.hunter_api_url,
        timeout=timeout,
        max_attempts=2,
    )
    try:
        data = await client.account()
    except QuotaExhausted as exc:
        return [error(AREA, f"Hunter answered {exc.provider_status}: the plan's searches are "
                            "used up", "upgrade the Hunter plan or wait for its monthly reset; "
                            "enrichment holds rows meanwhile (HELD:hunter_quota)")]  # fmt: skip
    except ProviderError as exc:
        status = exc.provider_status
        if status == 401:
            return [error(AREA, "Hunter answered 401: the API key was refused",
                          "check HUNTER_API_KEY")]  # fmt: skip
        return [error(AREA, f"Hunter answered {status}: {_said(exc)}",
                      "check HUNTER_API_KEY and HUB_HUNTER_API_URL")]  # fmt: skip
    except httpx.HTTPError as exc:
        return [_unreachable("Hunter", settings.hunter_api_url, exc, "HUB_HUNTER_API_URL")]
    finally:
        await client.aclose()
    searches = ((data.get("requests") or {}).get("searches")) or {}
    used, available = int(searches.get("used") or 0), int(searches.get("available") or 0)
    left = max(available - used, 0)
    plan = f" (plan {data['plan_name']})" if data.get("plan_name") else ""
    if not left:
        return [warn(AREA, f"Hunter answers, but no searches are left this period{plan}",
                     "upgrade the Hunter plan or wait for its monthly reset")]  # fmt: skip
    return [ok(AREA, f"Hunter answers with HUNTER_API_KEY: {left} of {available} searches "
                     f"left{plan}")]  # fmt: skip


# --- DataForSEO -------------------------------------------------------------------------------
async def check_dataforseo(settings: Settings, timeout: float) -> list[Finding]:
    from hub.providers.dataforseo import check_envelope

    auth = httpx.BasicAuth(
        settings.dataforseo_login, settings.dataforseo_password.get_secret_value()
    )
    base = settings.dataforseo_api_url.rstrip("/")
    try:
        async with httpx.AsyncClient(base_url=base, auth=auth, timeout=timeout) as http:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception(lambda e: isinstance(e, httpx.TransportError)),
                wait=wait_random_exponential(multiplier=0.5, max=2),
                stop=stop_after_attempt(2),
                reraise=True,
            ):
                with attempt:
                    body = check_envelope(await http.get(USER_DATA))
    except QuotaExhausted as exc:
        return [error(AREA, f"DataForSEO answered {_said(exc)}", "top up the DataForSEO balance")]
    except ProviderError as exc:
        fix = "check DATAFORSEO_LOGIN, DATAFORSEO_PASSWORD and HUB_DATAFORSEO_API_URL"
        if exc.provider_code == "40100":
            fix = "check DATAFORSEO_LOGIN and DATAFORSEO_PASSWORD (the API password from the "
            fix += "dashboard's API access page, not the sign-in one)"
        return [error(AREA, f"DataForSEO answered {_said(exc)}", fix)]
    except httpx.HTTPError as exc:
        return [_unreachable("DataForSEO", base, exc, "HUB_DATAFORSEO_API_URL")]
    try:
        money = body["tasks"][0]["result"][0]["money"]
        balance = float(money["balance"])
    except (KeyError, IndexError, TypeError, ValueError):
        return [warn(AREA, "DataForSEO answers, but without the account balance",
                     "check HUB_DATAFORSEO_API_URL points at api.dataforseo.com")]  # fmt: skip
    if balance <= 0:
        return [error(AREA, f"DataForSEO answers, but the balance is {balance:.2f} USD: task_post "
                            "will be refused (40200)", "top up the DataForSEO balance")]  # fmt: skip
    return [ok(AREA, f"DataForSEO answers with DATAFORSEO_LOGIN: balance {balance:.2f} USD")]


# --- Gemini -------------------------------------------------------------------------------------
def _google_reason(exc) -> str:
    body = exc.details if isinstance(exc.details, dict) else {}
    for detail in (body.get("error") or body).get("details") or []:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("ErrorInfo"):
            return str(detail.get("reason") or "")
    return ""


async def check_gemini(settings: Settings, timeout: float) -> list[Finding]:
    from google import genai
    from google.genai import errors as genai_errors
    from google.genai import types

    from hub.drafting.gemini import TRANSPORT_ERRORS

    model = settings.gemini_model
    client = genai.Client(
        api_key=settings.gemini_api_key.get_secret_value(),
        http_options=types.HttpOptions(
            base_url=settings.gemini_api_url,
            api_version="v1beta",
            timeout=int(timeout * 1000),  # milliseconds
            retry_options=types.HttpRetryOptions(attempts=2, initial_delay=0.5, max_delay=2.0),
        ),
    )
    try:
        found = await client.aio.models.get(model=model)
    except genai_errors.APIError as exc:
        # Never exc.details in a message: Google's DebugInfo may echo the key.
        reason = _google_reason(exc) or exc.status or ""
        if reason == "API_KEY_INVALID" or exc.code in (401, 403):
            return [error(AREA, f"Gemini answered {exc.code} {reason}: the API key was refused",
                          "check GEMINI_API_KEY")]  # fmt: skip
        if exc.code == 404:
            return [error(AREA, f"Gemini answered 404: no model {model!r} for this key",
                          "set GEMINI_MODEL to a model the key can use, e.g. gemini-2.5-flash")]  # fmt: skip
        return [error(AREA, f"Gemini answered {exc.code} {reason}",
                      "check GEMINI_API_KEY, GEMINI_MODEL and HUB_GEMINI_API_URL")]  # fmt: skip
    except TRANSPORT_ERRORS as exc:  # google-genai's transport: httpx, or its fork httpx2
        return [_unreachable("Gemini", settings.gemini_api_url, exc, "HUB_GEMINI_API_URL")]
    finally:
        await client.aio.aclose()
        client.close()
    actions = found.supported_actions or []
    if actions and "generateContent" not in actions:
        return [error(AREA, f"Gemini model {model!r} cannot generateContent",
                      "set GEMINI_MODEL to a text model, e.g. gemini-2.5-flash")]  # fmt: skip
    return [ok(AREA, f"Gemini answers with GEMINI_API_KEY: model {model!r} is available")]


# --- Gmail ------------------------------------------------------------------------------------
def check_gmail(settings: Settings, timeout: float) -> list[Finding]:
    """Synchronous (google-api-python-client): run it in a thread."""
    from hub.mail.base import MailerError
    from hub.mail.gmail import GmailMailer

    mailer = GmailMailer.from_settings(settings, timeout=timeout, max_attempts=2, max_wait=2.0)
    try:
        profile = mailer.profile()
    except MailerError as exc:
        text = str(exc)
        if "refresh token" in text:
            return [error(AREA, "Gmail refused the OAuth refresh token (expired or revoked)",
                          "authorise the app again and put the new token in "
                          "GMAIL_REFRESH_TOKEN (check GMAIL_CLIENT_ID and GMAIL_CLIENT_SECRET "
                          "too)")]  # fmt: skip
        if exc.ambiguous or "cannot connect" in text:  # no answer: timeout, refused, dropped
            return [error(AREA, f"Gmail did not answer: {text}",
                          "check the network, HUB_GMAIL_API_URL and HUB_GOOGLE_TOKEN_URL")]  # fmt: skip
        return [error(AREA, f"Gmail answered: {text}",
                      "check the GMAIL_* settings and the account's API access")]  # fmt: skip
    finally:
        mailer.close()
    address = str(profile.get("emailAddress", ""))
    if settings.gmail_sender and address.lower() != settings.gmail_sender.strip().lower():
        return [warn(AREA, f"Gmail answers for {address}, but GMAIL_SENDER is "
                           f"{settings.gmail_sender}: Gmail rewrites or refuses that From",
                     "set GMAIL_SENDER to the authorised address, or authorise that "
                     "account")]  # fmt: skip
    return [ok(AREA, f"Gmail answers with the refresh token, as {address}")]


def _said(exc: ProviderError) -> str:
    """The provider's words without our ``"<Provider>: "`` prefix."""
    return exc.message.removeprefix(f"{exc.provider}: ")


def _unreachable(name: str, url: str, exc: BaseException, setting: str) -> Finding:
    return error(
        AREA,
        f"{name} did not answer at {url} ({type(exc).__name__})",
        f"check the network and {setting}",
    )
